"""A sample's UNet output does not depend on the batch around it, up to the probed batch size."""

from __future__ import annotations

from typing import Any

import torch

from workers.batch_invariance import invariant_batch_images


def unet_output(pipe: Any, latents: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return pipe.unet(latents, torch.tensor(500), text).sample


def test_timestep_path_gives_each_sample_the_same_numbers(bundled: Any) -> None:
    """A pair alone and the same pair with another pair beside it: equal to the last bit."""
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(4, 4, 16, 16, generator=generator)
    text = torch.randn(4, 77, bundled.unet.config.cross_attention_dim, generator=generator)
    assert torch.equal(unet_output(bundled, latents[:2], text[:2]), unet_output(bundled, latents, text)[:2])


def test_probe_returns_a_batch_size_that_keeps_samples_unchanged(bundled: Any) -> None:
    images = invariant_batch_images(bundled, 8, 64)
    assert images in (1, 2, 4, 8)
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(2 * images, 4, 16, 16, generator=generator)
    text = torch.randn(2 * images, 77, bundled.unet.config.cross_attention_dim, generator=generator)
    assert torch.equal(unet_output(bundled, latents[:2], text[:2]), unet_output(bundled, latents, text)[:2])
