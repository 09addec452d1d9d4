"""Turn rows into what pages and the API show: job status with a live queue position and ETA,
image links, and an image's parameters as people read them.

The page, the JSON API and the SSE stream all send `job_status(...)`, so the browser renders one
shape whichever way it learned of a change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from atelier.schema import Image, Job, JobState
from atelier.services.jobs import expected_seconds, queue_estimate
from gallery.queries import visible_images_of
from gallery.templating import aware


def file_url(relative_path: str) -> str:
    return f"/files/{relative_path}"


def image_links(image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "index": image.index,
        "seed": image.seed,
        "width": image.width,
        "height": image.height,
        "url": f"/images/{image.id}",
        "file_url": file_url(image.file_path),
        "thumbnail_url": file_url(image.thumbnail_path),
    }


def _running_eta(session: Session, job: Job) -> float:
    """Seconds left: from the pace so far once steps are reported, else from the checkpoint's measured pace."""
    started = aware(job.started_at) if job.started_at else datetime.now(UTC)
    elapsed = max(0.0, (datetime.now(UTC) - started).total_seconds())
    if job.progress_step > 0 and job.progress_total > 0:
        remaining = max(0, job.progress_total - job.progress_step)
        return elapsed / job.progress_step * remaining
    return max(0.0, expected_seconds(session, job) - elapsed)


def job_status(session: Session, job: Job) -> dict[str, Any]:
    """The job as the page shows it now; queue position and ETA are computed live, not stored."""
    position: int | None = None
    eta: float | None = None
    if job.state == JobState.QUEUED:
        position, eta = queue_estimate(session, job)
    elif job.state == JobState.RUNNING:
        eta = _running_eta(session, job)
    images = [image_links(image) for image in visible_images_of(session, job)] if job.state.finished else []
    return {
        "id": job.id,
        "state": job.state.value,
        "finished": job.state.finished,
        "progress_step": job.progress_step,
        "progress_total": job.progress_total,
        "queue_position": position,
        "eta_seconds": None if eta is None else round(eta, 1),
        "error": job.error if job.state == JobState.FAILED else None,
        "image_ids": [image["id"] for image in images],
        "images": images,
        "url": f"/jobs/{job.id}",
    }


def image_parameters(image: Image) -> list[tuple[str, str]]:
    """The recipe of one image (its own seed, not the batch's first) as label/value rows."""
    recipe = image.job.recipe
    rows = [
        ("Prompt", str(recipe.get("prompt", ""))),
        ("Negative prompt", str(recipe.get("negative_prompt", ""))),
        ("Model", str(recipe.get("checkpoint", ""))),
        ("Sampler", str(recipe.get("sampler", ""))),
        ("Steps", str(recipe.get("steps", ""))),
        ("CFG scale", f"{float(recipe.get('cfg_scale', 0)):g}"),
        ("Size", f"{image.width}x{image.height}"),
        ("Seed", str(image.seed)),
    ]
    return [(label, value) for label, value in rows if value]


def remix_query(image: Image) -> dict[str, str]:
    """Form values that re-create this image, for the feed's "use these settings" link."""
    recipe = image.job.recipe
    keys = ("prompt", "negative_prompt", "checkpoint", "sampler", "steps", "cfg_scale", "width", "height")
    values = {key: str(recipe[key]) for key in keys if recipe.get(key) not in (None, "")}
    values["seed"] = str(image.seed)
    return values


def discord_message_url(job: Job, guild_id: str) -> str | None:
    """The Discord message that delivered the job's images, when the bot posted it in the studio's
    guild (web and CLI jobs have no message; without a guild id there is no link to make)."""
    guild = guild_id.strip()
    if not (guild.isdigit() and job.discord_channel_id and job.discord_message_id):
        return None
    return f"https://discord.com/channels/{guild}/{job.discord_channel_id}/{job.discord_message_id}"
