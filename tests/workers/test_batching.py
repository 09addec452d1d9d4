"""Cross-member batching on the bundled model: each image equals its solo render, bit for bit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from atelier.recipe import Recipe
from workers.batching import RenderOutOfMemory, render_batch, render_group
from workers.render import render

SHARED = {"steps": 6, "width": 64, "height": 64}


def jobs_for(sampler: str) -> list[Recipe]:
    """Three members' compatible jobs: plain, prompt editing with a negative and two images, weighted."""
    return [
        Recipe(prompt="a red circle on a blue background", seed=3, sampler=sampler, **SHARED),
        Recipe(prompt="[a green square:a yellow triangle:0.5] on a white background", negative_prompt="blurry",
               seed=9, count=2, sampler=sampler, **SHARED),
        Recipe(prompt="(a purple circle:1.3), top left", seed=5, sampler=sampler, **SHARED),
    ]  # fmt: skip


def same_pixels(first: list[list[Any]], second: list[list[Any]]) -> bool:
    pairs = [(a, b) for x, y in zip(first, second, strict=True) for a, b in zip(x, y, strict=True)]
    return all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in pairs)


@pytest.mark.parametrize("sampler", ["Euler a", "DPM++ 2M", "Heun", "DDIM"])
def test_batched_images_equal_solo_renders(bundled: Any, sampler: str) -> None:
    recipes = jobs_for(sampler)
    assert same_pixels(render_batch(bundled, recipes), [render(bundled, recipe) for recipe in recipes])


def test_prompts_of_different_lengths_still_match(bundled: Any) -> None:
    """A prompt past 75 tokens (two chunks) renders in its own call, still equal to its solo render."""
    long_prompt = ", ".join(["a red circle on a blue background"] * 12)
    recipes = [Recipe(prompt=long_prompt, seed=1, **SHARED), Recipe(prompt="a red circle", seed=2, **SHARED)]
    assert same_pixels(render_batch(bundled, recipes), [render(bundled, recipe) for recipe in recipes])


def test_incompatible_recipes_are_refused(bundled: Any) -> None:
    with pytest.raises(ValueError, match="batch key"):
        render_batch(bundled, [Recipe(prompt="a", **SHARED), Recipe(prompt="b", **{**SHARED, "steps": 7})])


@pytest.fixture
def memory_for_two(bundled: Any) -> Iterator[None]:
    """A GPU that holds only 2 samples at once (one image with CFG): bigger UNet calls run out of memory."""
    forward = bundled.unet.forward

    def limited(sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if sample.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(sample, *args, **kwargs)

    bundled.unet.forward = limited
    yield
    bundled.unet.forward = forward


def test_out_of_memory_retries_image_by_image(bundled: Any, memory_for_two: None) -> None:
    """The batch runs out of memory; the retry at batch 1 gives the very same images."""
    recipes = jobs_for("Euler a")
    retried = render_group(bundled, recipes)
    assert [len(images) for images in retried] == [1, 2, 1]
    solo = [[render(bundled, Recipe(**{**r.to_json(), "seed": s, "count": 1}))[0] for s in r.seeds()] for r in recipes]
    assert same_pixels(retried, solo)


def test_out_of_memory_at_one_image_fails_with_a_reason(bundled: Any) -> None:
    forward = bundled.unet.forward

    def exhausted(*_: Any, **__: Any) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory")

    bundled.unet.forward = exhausted
    try:
        with pytest.raises(RenderOutOfMemory, match="64x64; try a smaller size"):
            render_group(bundled, [Recipe(prompt="a red circle", **SHARED)])
    finally:
        bundled.unet.forward = forward
