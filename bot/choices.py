"""Pure helpers behind the commands' options: model suggestions, size presets, gallery references.

Kept free of Discord and the database so each rule has a unit test: autocomplete only suggests
(members can type anything, so every value is checked again where it is used), and a size preset
is computed from the checkpoint's native edge so an SDXL model is offered 1216-ish widths and the
bundled tiny model 64-ish ones, always multiples of 8 within the native pixel area.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from atelier.errors import InvalidInput
from atelier.recipe import SIZE_RANGE

MAX_CHOICES = 25  # Discord shows at most 25 suggestions
CHOICE_NAME_LIMIT = 100
WARM_MARK = "●"
ASPECTS = ("1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16")
_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*$")
_ASPECT = re.compile(r"^\s*(\d{1,2})\s*:\s*(\d{1,2})\s*$")
_IMAGE_LINK = re.compile(r"/images/([1-9][0-9]{0,17})/?(?:[?#].*)?$")
_IMAGE_ID = re.compile(r"^#?([1-9][0-9]{0,17})$")


@dataclass(frozen=True)
class ModelChoice:
    """An enabled checkpoint as autocomplete offers it."""

    name: str
    base_arch: str
    warm: bool


def model_choices(models: list[ModelChoice], typed: str) -> list[tuple[str, str]]:
    """(label, value) suggestions for what the member typed: names starting with it first, then names
    containing it, warm ones (a worker holds them loaded: no model switch) first within each group;
    at most 25, so a store of hundreds of checkpoints is reached by typing."""
    needle = typed.strip().lower()
    matching = [m for m in models if needle in m.name.lower()]
    matching.sort(key=lambda m: (not m.name.lower().startswith(needle), not m.warm, m.name.lower()))
    choices = []
    for model in matching[:MAX_CHOICES]:
        mark = f"{WARM_MARK} " if model.warm else ""
        label = f"{mark}{model.name} ({model.base_arch})"
        choices.append((clip_label(label), model.name))
    return choices


def clip_label(text: str) -> str:
    return text if len(text) <= CHOICE_NAME_LIMIT else text[: CHOICE_NAME_LIMIT - 1] + "…"


def aspect_size(aspect: str, native: int) -> tuple[int, int]:
    """Width and height of `aspect` (e.g. "3:2") with about the native area, multiples of 8, never over it."""
    match = _ASPECT.match(aspect)
    if match is None or not int(match[1]) or not int(match[2]):
        raise InvalidInput("size", f"unknown size {aspect!r}; use an aspect such as 3:2 or a size such as 768x512")
    ratio = int(match[1]) / int(match[2])
    width = int(native * math.sqrt(ratio)) // 8 * 8
    height = int(native / math.sqrt(ratio)) // 8 * 8
    return max(width, 8), max(height, 8)


def size_presets(native: int) -> list[tuple[str, str]]:
    """(label, value) for each aspect preset of a checkpoint whose native edge is `native`; presets with
    a side under the recipe's minimum are left out (a 64-pixel model is offered 1:1 only)."""
    presets = []
    for aspect in ASPECTS:
        width, height = aspect_size(aspect, native)
        if min(width, height) < SIZE_RANGE[0]:
            continue
        presets.append((f"{aspect} — {width}x{height}", aspect))
    return presets


def parse_size(text: str, native: int) -> tuple[int, int]:
    """A size option: an aspect preset ("16:9") or explicit "WxH"; the recipe checks the bounds."""
    explicit = _SIZE.match(text)
    if explicit is not None:
        return int(explicit[1]), int(explicit[2])
    return aspect_size(text.split("—")[0], native)


def parse_image_ref(text: str) -> int:
    """A gallery image named by its id ("42", "#42") or by a link to it (".../images/42")."""
    text = text.strip().strip("<>")
    found = _IMAGE_ID.match(text) or _IMAGE_LINK.search(text)
    if found is None:
        raise InvalidInput("image", f"{text[:100]!r} is neither a gallery image id nor a link to one (…/images/42)")
    return int(found[1])
