"""The texts of /queue and /models, cut to Discord's limits.

An embed description holds at most 4096 characters and one message's embeds 6000 in all (10 embeds
at most); a store with hundreds of LoRAs does not fit in one, so `/models` is split into as many
messages as it needs, each a list of whole lines: no model is cut in half.
"""

from __future__ import annotations

from collections.abc import Sequence

from discord.utils import escape_markdown

from atelier.schema import JobState, ModelKind
from atelier.services.listings import JobStanding, ModelEntry
from bot.choices import WARM_MARK
from bot.messages import clip

DESCRIPTION_LIMIT = 4096
MESSAGE_EMBED_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
TITLE_ROOM = 100  # a title and its share of the message total
MAX_QUEUE_LINES = 25  # one ✖️ per job, within Discord's 25 buttons a message


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"


def queue_lines(jobs: Sequence[JobStanding]) -> str:
    """One line per job: number, place or progress, ETA and the prompt's start."""
    if not jobs:
        return "You have no jobs waiting or rendering."
    lines = []
    for job in jobs[:MAX_QUEUE_LINES]:
        prompt = escape_markdown(clip(job.prompt.replace("\n", " "), 60))
        if job.state == JobState.RUNNING:
            where = f"rendering, step {job.step}/{job.total}" if job.total else "rendering"
            lines.append(f"`{job.job_id}` {where}, done in {_duration(job.eta_seconds)} — {prompt}")
        else:
            lines.append(f"`{job.job_id}` #{job.position} in line, done in {_duration(job.eta_seconds)} — {prompt}")
    if len(jobs) > MAX_QUEUE_LINES:
        lines.append(f"…and {len(jobs) - MAX_QUEUE_LINES} more")
    return clip("\n".join(lines), 2000)


def model_line(entry: ModelEntry) -> str:
    name = escape_markdown(entry.name)
    if entry.kind == ModelKind.CHECKPOINT:
        marks = (f" {WARM_MARK} warm" if entry.warm else "") + (" · default" if entry.default else "")
        return f"**{name}** — {entry.base_arch}, {entry.native_size}px{marks}"
    triggers = ", ".join(escape_markdown(word) for word in entry.trigger_words)
    tag = f"`<lora:{entry.name}:1>`"
    return f"**{name}** — {entry.base_arch} · {tag}" + (f" · triggers: {triggers}" if triggers else "")


def _pieces(title: str, lines: list[str]) -> list[tuple[str, str]]:
    """(title, description) embeds of whole lines, each description within the limit."""
    pieces: list[tuple[str, str]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, 1000)
        if current and size + len(line) + 1 > DESCRIPTION_LIMIT - TITLE_ROOM:
            pieces.append((title, "\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        pieces.append((title, "\n".join(current)))
    if len(pieces) > 1:
        pieces = [(f"{t} ({n}/{len(pieces)})", d) for n, (t, d) in enumerate(pieces, start=1)]
    return pieces


def model_pages(entries: Sequence[ModelEntry]) -> list[list[tuple[str, str]]]:
    """Messages of (title, description) embeds: checkpoints first, then LoRAs, each message within
    Discord's total of 6000 characters and 10 embeds."""
    checkpoints = [model_line(e) for e in entries if e.kind == ModelKind.CHECKPOINT]
    loras = [model_line(e) for e in entries if e.kind == ModelKind.LORA]
    embeds = _pieces("Checkpoints", checkpoints or ["(none enabled)"])
    if loras:
        embeds += _pieces("LoRAs", loras)
    pages: list[list[tuple[str, str]]] = [[]]
    total = 0
    for title, description in embeds:
        size = len(title) + len(description)
        if pages[-1] and (total + size > MESSAGE_EMBED_LIMIT or len(pages[-1]) >= EMBEDS_PER_MESSAGE):
            pages.append([])
            total = 0
        pages[-1].append((title, description))
        total += size
    return pages
