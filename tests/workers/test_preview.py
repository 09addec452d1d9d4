"""Previews: the model's own colours from a shrunken decode, and a budget that bounds their cost."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import numpy as np
import torch
from PIL import Image

from atelier.recipe import Recipe
from workers.preview import PreviewBudget, data_url, preview_image
from workers.render import render


def final_latents(pipe: Any, recipe: Recipe) -> tuple[torch.Tensor, Image.Image]:
    captured: list[torch.Tensor] = []
    (image,) = render(pipe, recipe, lambda step, total, latents: captured.append(latents.clone()) or True)
    return captured[-1][0], image


def test_preview_of_the_last_step_looks_like_the_result(bundled: Any) -> None:
    """At twice the preview's latent edge the preview still matches the final image within a few percent."""
    recipe = Recipe(prompt="a red circle on a blue background", steps=8, width=128, height=128, seed=4)
    latents, image = final_latents(bundled, recipe)
    preview = preview_image(bundled, latents)
    assert max(preview.size) < max(image.size)
    difference = np.abs(
        np.asarray(preview.resize(image.size), dtype=np.float64) - np.asarray(image, dtype=np.float64)
    ).mean()
    assert difference / 255 < 0.05


def test_budget_waits_until_previews_are_a_small_share() -> None:
    """After a preview that cost 10 ms, the next is affordable only once 20 times that has passed."""
    budget = PreviewBudget(share=0.05)
    budget.started = time.monotonic() - 0.1
    budget.spent = budget.last_cost = 0.01
    assert not budget.affordable()
    budget.started = time.monotonic() - 0.5
    assert budget.affordable()


def test_data_url_is_a_webp() -> None:
    url = data_url(Image.new("RGB", (16, 16), "red"))
    assert url.startswith("data:image/webp;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.format == "WEBP" and decoded.size == (16, 16)
