"""Render modes on the bundled model: txt2img, img2img, upscale, hires fix, batches, progress and stopping."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from atelier.recipe import Recipe
from workers.render import render

BASE = Recipe(prompt="a red circle on a blue background", steps=8, width=64, height=64, seed=11, sampler="Euler a")


def variant(**fields: object) -> Recipe:
    return Recipe(**{**BASE.to_json(), **fields})


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255


def mean_colour(image: Image.Image) -> np.ndarray:
    return pixels(image).reshape(-1, 3).mean(axis=0)


@pytest.fixture(scope="module")
def source(bundled: Any) -> Image.Image:
    (image,) = render(bundled, BASE)
    return image


def test_img2img_keeps_its_source_at_low_denoise(bundled: Any) -> None:
    """At denoise 0.3 each init image survives: the green source stays green, the yellow one yellow.

    CFG 1 because the bundled model's guidance at 7 repaints any source in the prompt's colours."""
    recipe = variant(prompt="a circle", cfg_scale=1.0, denoising_strength=0.3, init_image="1")
    sources = [Image.new("RGB", (64, 64), colour) for colour in ((40, 170, 60), (230, 210, 40))]
    results = [render(bundled, recipe, init_image=picture)[0] for picture in sources]
    for result, own, other in zip(results, sources, reversed(sources), strict=True):
        assert np.abs(mean_colour(result) - mean_colour(own)).max() < 0.15
        assert np.abs(mean_colour(result) - mean_colour(other)).max() > 0.3


def test_img2img_at_denoise_zero_returns_the_source(bundled: Any, source: Image.Image) -> None:
    (same,) = render(bundled, variant(denoising_strength=0.0, init_image="1"), init_image=source)
    assert np.array_equal(pixels(same), pixels(source))


def test_upscale_is_img2img_at_a_larger_size(bundled: Any, source: Image.Image) -> None:
    """The source resized to the recipe's size and refined: twice the edge, the same picture."""
    recipe = variant(width=128, height=128, denoising_strength=0.3, init_image="1")
    (large,) = render(bundled, recipe, init_image=source)
    assert large.size == (128, 128)
    shrunk = large.resize(source.size, Image.Resampling.LANCZOS)
    assert np.abs(pixels(shrunk) - pixels(source)).mean() < 0.1


def test_hires_fix_renders_at_the_upscaled_size(bundled: Any, source: Image.Image) -> None:
    """Hires fix gives the upscaled size and keeps the first pass's composition (blue stays the main colour)."""
    (large,) = render(bundled, variant(hires=True, hires_scale=2.0, hires_denoise=0.5))
    assert large.size == (128, 128)
    colours = mean_colour(large), mean_colour(source)
    assert np.abs(colours[0] - colours[1]).max() < 0.15


def test_batch_image_equals_a_single_render_with_its_seed(bundled: Any) -> None:
    """Image i of a batch is bit-identical to rendering seed + i alone (each image has its own generator)."""
    second_alone = render(bundled, variant(seed=12, sampler="Euler"))[0]
    batch = render(bundled, variant(count=2, sampler="Euler"))
    assert np.array_equal(pixels(batch[1]), pixels(second_alone))


def test_progress_counts_every_pass_in_sampler_steps(bundled: Any) -> None:
    """Hires at 8 + int(8 * 0.5) steps reports 1…12 of 12, with the latents of each step."""
    seen: list[tuple[int, int]] = []

    def on_step(step: int, total: int, latents: torch.Tensor) -> bool:
        assert latents.ndim == 4
        seen.append((step, total))
        return True

    render(bundled, variant(hires=True, hires_denoise=0.5), on_step)
    assert seen == [(step, 12) for step in range(1, 13)]


def test_callback_stops_the_render_within_a_step(bundled: Any) -> None:
    steps: list[int] = []

    def stop_at_three(step: int, total: int, latents: torch.Tensor) -> bool:
        steps.append(step)
        return step < 3

    with pytest.raises(InterruptedError):
        render(bundled, BASE, stop_at_three)
    assert steps == [1, 2, 3]


def test_init_image_only_with_img2img(bundled: Any, source: Image.Image) -> None:
    with pytest.raises(ValueError, match="init image"):
        render(bundled, BASE, init_image=source)
