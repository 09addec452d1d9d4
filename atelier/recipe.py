"""The Recipe: every parameter of one render, validated once at the boundary.

A recipe is stored as JSON on the job and in the image's infotext, so the same parameters can be
re-rendered, remixed or compared later. Validation raises `InvalidInput` naming the field; it never
clamps a value silently.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from atelier.errors import InvalidInput
from atelier.prompt.errors import MAX_WEIGHT
from atelier.samplers import AUTOMATIC, split_sampler, supported_samplers
from atelier.samplers import DEFAULT_SAMPLER as DEFAULT_SAMPLER

MAX_PROMPT_CHARS = 4000
MAX_SEED = 2**32 - 1
STEPS_RANGE = (1, 150)
CFG_RANGE = (1.0, 30.0)
SIZE_RANGE = (64, 2048)
MAX_PIXELS = 1024 * 1024 * 2
MAX_IMAGES = 4

CLIP_SKIP_RANGE = (1, 12)
EMPHASIS_MODES = ("Original", "No norm", "Ignore")
DENOISE_RANGE = (0.0, 1.0)
HIRES_SCALE_RANGE = (1.0, 4.0)
MAX_HIRES_PIXELS = 2048 * 2048
MAX_NETWORKS = 16

# A1111 sampler names that the workers know how to map onto a diffusers scheduler (see atelier.samplers).
SAMPLERS = supported_samplers()

# A stored image as the gallery names it: its content address ("ab/<sha256>.png") or its database id.
_IMAGE_ADDRESS = re.compile(r"^(?:[0-9a-f]{2}/[0-9a-f]{64}\.(?:png|webp|jpg)|[1-9][0-9]{0,17})$")


@dataclass(frozen=True)
class LoraUse:
    """A `<lora:name:te:unet>` tag of the prompt, with the AutoV3 hash infotext shows ("" if unknown)."""

    name: str
    weight: float = 1.0
    unet_weight: float | None = None
    hash: str = ""


@dataclass(frozen=True)
class EmbeddingUse:
    """A textual-inversion embedding the prompt uses, with its 12-hex hash ("" if unknown)."""

    name: str
    hash: str = ""


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
    schedule_type: str = AUTOMATIC
    clip_skip: int = 1
    emphasis: str = "Original"
    denoising_strength: float | None = None
    """img2img only: how far from `init_image` the render may move (None for txt2img)."""
    init_image: str = ""
    hires: bool = False
    hires_scale: float = 2.0
    hires_steps: int = 0
    """Steps of the hires pass; 0 means the same as `steps`, as in A1111."""
    hires_denoise: float = 0.7
    loras: tuple[LoraUse, ...] = ()
    embeddings: tuple[EmbeddingUse, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["loras"] = [asdict(lora) for lora in self.loras]
        data["embeddings"] = [asdict(embedding) for embedding in self.embeddings]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recipe:
        """Read a stored recipe, including those stored before schedule types were separate."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        if "schedule_type" not in data and isinstance(known.get("sampler"), str):
            # Recipes stored by older code say "DPM++ 2M Karras": split it as A1111 1.9 does.
            known["sampler"], known["schedule_type"] = split_sampler(known["sampler"])
        known["loras"] = tuple(LoraUse(**lora) for lora in known.get("loras", ()))
        known["embeddings"] = tuple(EmbeddingUse(**emb) for emb in known.get("embeddings", ()))
        return cls(**known)

    @property
    def hires_size(self) -> tuple[int, int]:
        """The final size of a hires render (rounded down to a multiple of 8, as latents need)."""
        return (int(self.width * self.hires_scale) // 8 * 8, int(self.height * self.hires_scale) // 8 * 8)

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
    sampler, schedule_type = split_sampler(sampler, _text(data, "schedule_type", required=False))

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
    clip_skip = _number(data, "clip_skip", 1, int)
    _in_range("clip_skip", clip_skip, *CLIP_SKIP_RANGE)
    emphasis = _text(data, "emphasis", required=False) or "Original"
    if emphasis not in EMPHASIS_MODES:
        raise InvalidInput("emphasis", f"unknown emphasis mode {emphasis!r}; choose one of {', '.join(EMPHASIS_MODES)}")
    init_image = _text(data, "init_image", required=False)
    if init_image and not _IMAGE_ADDRESS.match(init_image):
        raise InvalidInput("init_image", "must be a gallery image id or its content address (ab/<sha256>.png)")
    denoise: float | None = None
    if init_image or data.get("denoising_strength") not in (None, ""):
        if not init_image:
            raise InvalidInput("denoising_strength", "applies to img2img only; give an init_image too")
        denoise = _number(data, "denoising_strength", 0.75, float)
        _in_range("denoising_strength", denoise, *DENOISE_RANGE)
    hires = _flag(data, "hires")
    hires_scale = _number(data, "hires_scale", 2.0, float)
    _in_range("hires_scale", hires_scale, *HIRES_SCALE_RANGE)
    hires_steps = _number(data, "hires_steps", 0, int)
    _in_range("hires_steps", hires_steps, 0, STEPS_RANGE[1])
    hires_denoise = _number(data, "hires_denoise", 0.7, float)
    _in_range("hires_denoise", hires_denoise, *DENOISE_RANGE)
    if hires and init_image:
        raise InvalidInput("hires", "hires fix is for txt2img; it cannot be combined with an init_image")
    if hires:
        target_w, target_h = int(width * hires_scale) // 8 * 8, int(height * hires_scale) // 8 * 8
        if max(target_w, target_h) > SIZE_RANGE[1] or target_w * target_h > MAX_HIRES_PIXELS:
            raise InvalidInput(
                "hires_scale",
                f"{width}x{height} upscaled by {hires_scale:g} is {target_w}x{target_h}; the limit is "
                f"{SIZE_RANGE[1]} pixels a side and {MAX_HIRES_PIXELS} pixels in all",
            )
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
        schedule_type=schedule_type,
        clip_skip=clip_skip,
        emphasis=emphasis,
        denoising_strength=denoise,
        init_image=init_image,
        hires=hires,
        hires_scale=hires_scale,
        hires_steps=hires_steps,
        hires_denoise=hires_denoise,
        loras=_loras(data.get("loras")),
        embeddings=_embeddings(data.get("embeddings")),
    )


def _flag(data: Mapping[str, Any], name: str) -> bool:
    raw = data.get(name)
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise InvalidInput(name, f"must be true or false, not {raw!r}")


def _items(raw: Any, name: str) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
        raise InvalidInput(name, "must be a list")
    items = list(raw)
    if len(items) > MAX_NETWORKS:
        raise InvalidInput(name, f"names {len(items)} models; the limit is {MAX_NETWORKS}")
    return items


def _entry(item: Any, name: str) -> dict[str, Any]:
    if isinstance(item, LoraUse | EmbeddingUse):
        return asdict(item)
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"].strip():
        raise InvalidInput(name, "each entry needs a name")
    if not isinstance(item.get("hash", ""), str):
        raise InvalidInput(name, f"the hash of {item['name']!r} must be text")
    return dict(item)


def _loras(raw: Any) -> tuple[LoraUse, ...]:
    """The LoRAs of the parsed prompt (weights as the prompt gives them), bounded like the prompt's."""
    result = []
    for item in _items(raw, "loras"):
        entry = _entry(item, "loras")
        weight = _number(entry, "weight", 1.0, float)
        _in_range("loras", weight, -MAX_WEIGHT, MAX_WEIGHT)
        unet = entry.get("unet_weight")
        if unet is not None:
            unet = _number(entry, "unet_weight", 1.0, float)
            _in_range("loras", unet, -MAX_WEIGHT, MAX_WEIGHT)
        result.append(LoraUse(entry["name"].strip(), weight, unet, entry.get("hash", "")))
    return tuple(result)


def _embeddings(raw: Any) -> tuple[EmbeddingUse, ...]:
    return tuple(
        EmbeddingUse(entry["name"].strip(), entry.get("hash", ""))
        for entry in (_entry(item, "embeddings") for item in _items(raw, "embeddings"))
    )
