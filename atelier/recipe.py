"""The Recipe: every parameter of one render, validated once at the boundary.

A recipe is stored as JSON on the job and in the image's infotext, so the same parameters can be
re-rendered, remixed or compared later. Validation raises `InvalidInput` naming the field; it never
clamps a value silently.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from atelier.errors import InvalidInput

MAX_PROMPT_CHARS = 4000
MAX_SEED = 2**32 - 1
STEPS_RANGE = (1, 150)
CFG_RANGE = (1.0, 30.0)
SIZE_RANGE = (64, 2048)
MAX_PIXELS = 1024 * 1024 * 2
MAX_IMAGES = 4

# A1111 sampler names that the workers know how to map onto a diffusers scheduler.
SAMPLERS = ("Euler a", "Euler", "DDIM", "DPM++ 2M", "DPM++ 2M Karras", "Heun", "LMS", "UniPC")
DEFAULT_SAMPLER = "Euler a"


@dataclass(frozen=True)
class Recipe:
    prompt: str
    negative_prompt: str = ""
    checkpoint: str = ""
    sampler: str = DEFAULT_SAMPLER
    steps: int = 20
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    seed: int = -1
    count: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recipe:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def seeds(self) -> list[int]:
        """Image i of a batch uses seed + i, as A1111 does, so each image can be re-rendered alone."""
        return [(self.seed + i) % (MAX_SEED + 1) for i in range(self.count)]


def _text(data: Mapping[str, Any], name: str, *, required: bool) -> str:
    value = data.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(name, "must be text")
    value = value.strip()
    if required and not value:
        raise InvalidInput(name, "must not be empty")
    if len(value) > MAX_PROMPT_CHARS:
        raise InvalidInput(name, f"is {len(value)} characters long; the limit is {MAX_PROMPT_CHARS}")
    if "\x00" in value:
        raise InvalidInput(name, "contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInput(name, f"contains a character that is not valid text at position {error.start}") from None
    return value


def _number(data: Mapping[str, Any], name: str, default: float, kind: type) -> Any:
    raw = data.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    if isinstance(raw, bool):
        raise InvalidInput(name, "must be a number")
    try:
        value = kind(raw) if kind is float else int(str(raw).strip())
    except (TypeError, ValueError):
        expected = "a whole number" if kind is int else "a number"
        raise InvalidInput(name, f"must be {expected}, not {raw!r}") from None
    if kind is float and value != value:  # NaN
        raise InvalidInput(name, "must be a number")
    return value


def _in_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low:g} and {high:g}, got {value:g}")


def checkpoint_name(data: Mapping[str, Any]) -> str:
    """The checkpoint a request names ("" for the default), checked like every other text field."""
    return _text(data, "checkpoint", required=False)


def parse_recipe(data: Mapping[str, Any], *, default_size: int = 512) -> Recipe:
    """Turn raw user input (form fields, slash-command options, JSON) into a checked Recipe."""
    prompt = _text(data, "prompt", required=True)
    negative = _text(data, "negative_prompt", required=False)
    checkpoint = checkpoint_name(data)
    sampler = _text(data, "sampler", required=False) or DEFAULT_SAMPLER
    if sampler not in SAMPLERS:
        raise InvalidInput("sampler", f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")

    steps = _number(data, "steps", 20, int)
    _in_range("steps", steps, *STEPS_RANGE)
    cfg = _number(data, "cfg_scale", 7.0, float)
    _in_range("cfg_scale", cfg, *CFG_RANGE)
    width = _number(data, "width", default_size, int)
    height = _number(data, "height", default_size, int)
    for name, size in (("width", width), ("height", height)):
        _in_range(name, size, *SIZE_RANGE)
        if size % 8:
            raise InvalidInput(name, f"must be a multiple of 8, got {size}")
    if width * height > MAX_PIXELS:
        raise InvalidInput("width", f"{width}x{height} is larger than the {MAX_PIXELS} pixel limit")
    seed = _number(data, "seed", -1, int)
    if seed == -1:
        seed = secrets.randbelow(MAX_SEED + 1)
    _in_range("seed", seed, 0, MAX_SEED)
    count = _number(data, "count", 1, int)
    _in_range("count", count, 1, MAX_IMAGES)
    return Recipe(
        prompt=prompt,
        negative_prompt=negative,
        checkpoint=checkpoint,
        sampler=sampler,
        steps=steps,
        cfg_scale=cfg,
        width=width,
        height=height,
        seed=seed,
        count=count,
    )
