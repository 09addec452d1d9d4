"""Previews of a render in progress, within a time budget.

A preview is the VAE's own decoding of the first image's latents, shrunk first to at most
`PREVIEW_LATENT_EDGE` latents a side: that costs a small fraction of a full decode, and the colours
and layout are the model's own (a linear latent-to-RGB shortcut gets them visibly wrong on VAEs
it was not made for). `PreviewBudget` keeps the time spent on previews under a share of the
render's time, measured as it goes, so a slow decoder gets fewer previews instead of a slower render.
"""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import torch
from PIL import Image

PREVIEW_LATENT_EDGE = 16
PREVIEW_SHARE = 0.05
"""Previews may take at most this share of the time the render has run so far."""


@torch.no_grad()
def preview_image(pipe: Any, latents: torch.Tensor) -> Image.Image:
    """The preview of one image's latents (channels, h, w), decoded by the pipeline's VAE."""
    latents = latents[None]
    height, width = latents.shape[-2:]
    shrink = max(height, width) / PREVIEW_LATENT_EDGE
    if shrink > 1:
        size = (max(1, round(height / shrink)), max(1, round(width / shrink)))
        latents = torch.nn.functional.interpolate(latents, size=size, mode="bilinear", antialias=True)
    vae = pipe.vae
    parameter = next(vae.parameters())
    decoded = vae.decode((latents / vae.config.scaling_factor).to(parameter.device, parameter.dtype)).sample
    pixels = ((decoded[0].float().cpu() + 1) / 2).clamp(0, 1)
    array = (pixels * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array, "RGB")


class PreviewBudget:
    """Decides when a preview is affordable: time spent on previews stays within `share` of the elapsed time."""

    def __init__(self, share: float = PREVIEW_SHARE) -> None:
        self.share = share
        self.started = time.monotonic()
        self.spent = 0.0
        self.last_cost = 0.0

    def affordable(self) -> bool:
        elapsed = time.monotonic() - self.started
        return self.spent + self.last_cost <= self.share * elapsed

    def make(self, pipe: Any, latents: torch.Tensor) -> Image.Image:
        begun = time.monotonic()
        picture = preview_image(pipe, latents)
        self.last_cost = time.monotonic() - begun
        self.spent += self.last_cost
        return picture


def data_url(picture: Image.Image) -> str:
    """A small WebP as a data: URL, ready for an event, an <img> or a Discord attachment."""
    buffer = io.BytesIO()
    picture.save(buffer, format="WEBP", quality=70)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
