"""/queue and /models texts within Discord's limits."""

from __future__ import annotations

from atelier.schema import JobState, ModelKind
from atelier.services.listings import JobStanding, ModelEntry
from bot.pages import DESCRIPTION_LIMIT, EMBEDS_PER_MESSAGE, MESSAGE_EMBED_LIMIT, model_pages, queue_lines


def test_queue_lines_show_place_progress_and_eta() -> None:
    """A waiting job shows its place in line, a running one its step, both when they should be done."""
    text = queue_lines(
        [
            JobStanding(4, JobState.RUNNING, "a cat", None, 12.0, 5, 20),
            JobStanding(5, JobState.QUEUED, "a *dog*", 2, 300.0, 0, 20),
        ]
    )
    first, second = text.split("\n")
    assert first == "`4` rendering, step 5/20, done in about 12 s — a cat"
    assert second == "`5` #2 in line, done in about 5 min — a \\*dog\\*"


def test_empty_queue_says_so() -> None:
    """No jobs: a sentence, not an empty message."""
    assert queue_lines([]) == "You have no jobs waiting or rendering."


def test_a_large_store_is_split_within_discords_limits() -> None:
    """Hundreds of LoRAs with trigger words become several messages, each within 10 embeds and 6000
    characters, each embed within 4096, and no model is lost or cut."""
    entries = [ModelEntry("base", ModelKind.CHECKPOINT, "sdxl", 1024, [], True, True)]
    entries += [ModelEntry(f"lora-{n}", ModelKind.LORA, "sdxl", 1024, [f"trigger{n}", "style"]) for n in range(600)]
    pages = model_pages(entries)
    assert len(pages) > 1
    for page in pages:
        assert len(page) <= EMBEDS_PER_MESSAGE
        assert sum(len(title) + len(text) for title, text in page) <= MESSAGE_EMBED_LIMIT
        assert all(len(text) <= DESCRIPTION_LIMIT for _, text in page)
    lines = [line for page in pages for _, text in page for line in text.split("\n")]
    assert len(lines) == 601
    assert lines[0] == "**base** — sdxl, 1024px ● warm · default"
    assert lines[1] == "**lora-0** — sdxl · `<lora:lora-0:1>` · triggers: trigger0, style"
