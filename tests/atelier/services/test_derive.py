"""Recipes derived from an image (reroll, variations, upscale): pure rules, no database."""

from __future__ import annotations

import pytest

from atelier.errors import InvalidInput
from atelier.recipe import MAX_PIXELS, SIZE_RANGE, parse_recipe
from atelier.schema import Image
from atelier.services import derive

RECIPE = {"prompt": "a red circle", "seed": 42, "steps": 4, "width": 512, "height": 512, "count": 3, "hires": True}


def image(width: int = 512, height: int = 512) -> Image:
    return Image(id=7, job_id=1, index=0, seed=43, width=width, height=height, file_path="ab/x.png", infotext="x")


def test_reroll_keeps_the_recipe_but_the_seed() -> None:
    """A reroll asks for a random seed and changes nothing else."""
    assert derive.reroll(RECIPE) == {**RECIPE, "seed": -1}


def test_variation_is_one_img2img_at_the_image_size() -> None:
    """Variations start from the image (by id) at denoise 0.4, one image, no hires, a random seed."""
    data = derive.variation(RECIPE, image(768, 512))
    assert (data["init_image"], data["denoising_strength"], data["seed"]) == ("7", 0.4, -1)
    assert (data["width"], data["height"], data["count"], data["hires"]) == (768, 512, 1, False)
    assert parse_recipe(data).init_image == "7"


def test_upscale_doubles_the_image_and_keeps_its_seed() -> None:
    """Upscale renders at twice the image's size at denoise 0.3 with the image's own seed."""
    data, size = derive.upscale(RECIPE, image(512, 384))
    assert (data["width"], data["height"], data["seed"], data["denoising_strength"]) == (1024, 768, 43, 0.3)
    assert not size.capped and size.factor == 2.0


def test_upscale_is_capped_by_the_pixel_limit() -> None:
    """A 1024x1024 image cannot double within the pixel limit: the largest size that fits, said so."""
    size = derive.upscale_size(1024, 1024)
    assert size.capped and size.width * size.height <= MAX_PIXELS
    assert size.width > 1024 and size.width % 8 == 0 and size.height % 8 == 0
    parse_recipe({"prompt": "x", "width": size.width, "height": size.height})  # within the limits


def test_upscale_is_capped_by_the_side_limit() -> None:
    """A wide image stops at the longest side allowed."""
    size = derive.upscale_size(1536, 256)
    assert size.width == SIZE_RANGE[1] and size.capped


def test_upscale_at_the_limit_is_refused() -> None:
    """An image already at the limit cannot be upscaled, and the message says why."""
    with pytest.raises(InvalidInput) as caught:
        derive.upscale_size(2048, 1024)
    assert caught.value.field == "upscale" and "size limit" in caught.value.reason
