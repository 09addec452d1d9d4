"""The Jinja environment: autoescaping on for every template, and the few filters pages share.

Autoescape is forced on (not left to file-name guessing) because every page shows prompts that
other people typed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi.templating import Jinja2Templates

from atelier import __version__
from atelier.recipe_diff import format_weight

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """A short relative time ("3 min ago"), which reads faster in a grid than a timestamp."""
    if moment is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - aware(moment)).total_seconds()
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            if unit == "d" and seconds >= 30 * 86400:
                return aware(moment).strftime("%Y-%m-%d")
            return f"{int(seconds // size)} {unit} ago"
    return "just now"  # pragma: no cover - the loop always returns


def iso(moment: datetime | None) -> str:
    return aware(moment).isoformat(timespec="seconds") if moment else ""


def utc(moment: datetime | None) -> str:
    return aware(moment).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def duration(seconds: float | None) -> str:
    """An ETA as people say it: "about 40 s", "about 3 min"."""
    if seconds is None:
        return ""
    if seconds < 1:
        return "any moment"
    if seconds < 90:
        return f"about {round(seconds)} s"
    return f"about {round(seconds / 60)} min"


def viewer_of(request: Any) -> Any:
    """The viewer a route resolved for this request (None when the route did not ask who it is)."""
    return getattr(request.state, "viewer", None)


def model_url(kind: str, name: str) -> str:
    """The page of a checkpoint or LoRA; any character of a model's name survives the round trip."""
    return f"/models/{quote(kind, safe='')}/{quote(name, safe='')}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change only with a new release: skip the file-modification check on every render.
        auto_reload=False,
    )
    env.filters.update(ago=ago, iso=iso, utc=utc, duration=duration, weight=format_weight)
    env.globals.update(version=__version__, viewer_of=viewer_of, model_url=model_url)
    return env


templates = Jinja2Templates(env=_environment())
