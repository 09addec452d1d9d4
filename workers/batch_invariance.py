"""Make a UNet's output for one sample independent of what else is in the batch.

Cross-member batching promises that an image rendered together with other members' jobs is
bit-identical to the image rendered alone. Convolutions and the large matrix products of attention
give the same numbers per sample at any batch size here, but the timestep path does not: the time
embedding and each ResNet's `time_emb_proj` multiply a (batch, channels) matrix, and the CPU's
matrix kernels pick a different summation order for 2 rows than for 4 (differences of ~5e-7 that
samplers carry into the image). Every sample of a denoiser call shares one timestep, so those rows
are identical: computing the first row once and broadcasting it gives the same numbers at every
batch size, and costs less.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def _first_row_when_uniform(forward: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def shared(sample: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if sample.ndim == 2 and sample.shape[0] > 1 and bool((sample == sample[:1]).all()):
            return forward(sample[:1], *args, **kwargs).expand(sample.shape[0], -1)
        return forward(sample, *args, **kwargs)

    return shared


def make_timestep_path_batch_invariant(unet: Any) -> None:
    """Patch the UNet's time embedding and every `time_emb_proj` in place (idempotent)."""
    if getattr(unet, "_atelier_batch_invariant", False):
        return
    modules = [unet.time_embedding] if getattr(unet, "time_embedding", None) is not None else []
    modules += [module for name, module in unet.named_modules() if name.endswith("time_emb_proj")]
    for module in modules:
        module.forward = _first_row_when_uniform(module.forward)
    unet._atelier_batch_invariant = True


PROBE_SEED = 20261124


@torch.no_grad()
def invariant_batch_images(pipe: Any, limit: int, size: int) -> int:
    """The most images (each a CFG pair of UNet samples) one call may hold on this hardware with every
    sample's numbers unchanged: convolution libraries pick other algorithms past some batch size.

    Probed once per pipeline at the checkpoint's native size, by comparing the first pair of a full
    batch with the pair alone, halving until they agree; the answer is kept with the pipeline."""
    cached: dict[tuple[int, int], int] = getattr(pipe, "_atelier_invariant_batch", {})
    if (limit, size) in cached:
        return cached[(limit, size)]
    if limit <= 1 or getattr(pipe, "text_encoder_2", None) is not None:  # SDXL jobs render one by one
        return 1
    unet = pipe.unet
    parameter = next(unet.parameters())
    edge = max(1, size // int(pipe.vae_scale_factor))
    generator = torch.Generator("cpu").manual_seed(PROBE_SEED)
    channels, context = int(unet.config.in_channels), int(unet.config.cross_attention_dim)
    latents = torch.randn(2 * limit, channels, edge, edge, generator=generator).to(parameter.device, parameter.dtype)
    text = torch.randn(2 * limit, 77, context, generator=generator).to(parameter.device, parameter.dtype)
    timestep = torch.tensor(500, device=parameter.device)
    alone = unet(latents[:2], timestep, text[:2]).sample
    images = limit
    while images > 1 and not torch.equal(unet(latents[: 2 * images], timestep, text[: 2 * images]).sample[:2], alone):
        images //= 2
    cached[(limit, size)] = images
    pipe._atelier_invariant_batch = cached
    return images
