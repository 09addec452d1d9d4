"""New jobs made from an existing image: reroll, variations and upscale, with their lineage.

The rules live here rather than in the bot because the gallery offers the same actions: a button in
Discord and a link on the web must derive the same recipe from the same image. Each builder returns
raw recipe data for `jobs.submit`, which checks it like any other request (a recipe that grew too big
is refused there, never clamped here without saying so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from atelier.errors import InvalidInput, NotFound
from atelier.recipe import MAX_PIXELS, SIZE_RANGE
from atelier.schema import Image

VARIATION_DENOISE = 0.4
UPSCALE_DENOISE = 0.3
UPSCALE_FACTOR = 2.0
RANDOM_SEED = -1


@dataclass(frozen=True)
class Upscaled:
    """The size an upscale renders at; `factor` is below the asked one when the limits capped it."""

    width: int
    height: int
    factor: float

    @property
    def capped(self) -> bool:
        return self.factor < UPSCALE_FACTOR - 1e-9


def source_image(session: Session, image_id: int) -> Image:
    """The image an action starts from; a hidden one is gone for everyone but moderators' tools."""
    image = session.get(Image, image_id)
    if image is None or image.hidden:
        raise NotFound(f"image {image_id} is no longer in the gallery")
    return image


def reroll(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The same recipe with a new random seed."""
    return {**recipe, "seed": RANDOM_SEED}


def variation(recipe: Mapping[str, Any], image: Image) -> dict[str, Any]:
    """img2img from the image at a low denoise and a new seed: the same picture, slightly different."""
    return {
        **_single(recipe, image),
        "seed": RANDOM_SEED,
        "width": image.width,
        "height": image.height,
        "denoising_strength": VARIATION_DENOISE,
    }


def upscale(recipe: Mapping[str, Any], image: Image) -> tuple[dict[str, Any], Upscaled]:
    """img2img at twice the size (less when the recipe limits cap it) with a light denoise and the image's
    own seed, so the detail added follows the picture instead of replacing it."""
    size = upscale_size(image.width, image.height)
    data = {
        **_single(recipe, image),
        "seed": image.seed,
        "width": size.width,
        "height": size.height,
        "denoising_strength": UPSCALE_DENOISE,
    }
    return data, size


def upscale_size(width: int, height: int, factor: float = UPSCALE_FACTOR) -> Upscaled:
    """`factor` times the size in multiples of 8, or the largest size within the recipe limits; refused
    when no larger size fits."""
    high = SIZE_RANGE[1]
    scale = min(factor, high / max(width, height), math.sqrt(MAX_PIXELS / (width * height)))
    new_width, new_height = int(width * scale) // 8 * 8, int(height * scale) // 8 * 8
    if new_width <= width or new_height <= height:
        raise InvalidInput(
            "upscale",
            f"this image is {width}x{height}, already at the size limit ({high} pixels a side, "
            f"{MAX_PIXELS} pixels in all); it cannot be upscaled further",
        )
    return Upscaled(new_width, new_height, min(new_width / width, new_height / height))


def _single(recipe: Mapping[str, Any], image: Image) -> dict[str, Any]:
    """One image from this one: no batch, no hires pass (img2img cannot combine with it)."""
    return {**recipe, "count": 1, "hires": False, "init_image": str(image.id)}
