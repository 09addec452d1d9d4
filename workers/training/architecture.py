"""Configs of the bundled tiny model: the real SD1.x component classes, shrunk.

The point of the bundled model is that it exercises exactly the code paths a real SD1.5 checkpoint does
(`UNet2DConditionModel` with cross-attention, `AutoencoderKL`, `CLIPTextModel`, `CLIPTokenizer`, an SD scheduler), so
only sizes differ from `stable-diffusion-v1-5`: 64x64 images, a 4x VAE (16x16x4 latents), 128-wide text features.
These dicts are written verbatim into `models/configs/atelier-tiny-v1/*/config.json`.
"""

from __future__ import annotations

from typing import Any

from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from workers.training.tokenizer import MAX_LENGTH

HIDDEN = 128  # text feature width = UNet cross_attention_dim

VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "block_out_channels": [32, 48, 48],
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 16,
    "sample_size": 64,
    "act_fn": "silu",
    "scaling_factor": 1.0,  # replaced by the measured 1/std of latents after VAE training
}

UNET_CONFIG: dict[str, Any] = {
    "sample_size": 16,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "block_out_channels": [64, 128, 160],
    "layers_per_block": 1,
    "cross_attention_dim": HIDDEN,
    "attention_head_dim": 8,
    "norm_num_groups": 16,
    "act_fn": "silu",
}

# The first stages' noise schedule = SD1.x's (scaled_linear 0.00085..0.012 over 1000 steps, epsilon prediction).
EPSILON_SCHEDULER_KWARGS: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "clip_sample": False,
}

# The shipped model's objective (the `vpred` stage on): the same betas rescaled to zero terminal SNR, v-prediction,
# trailing timesteps (Lin et al. 2024, what SD2.1-v fine-tunes use). Why: at SD1's terminal SNR a flat 16x16
# picture's layout survives t=999, so the UNet reads shapes and places out of the noisy latent rather than the
# caption, and sampling from pure noise draws them at random (measured: shape and position at chance).
SCHEDULER_KWARGS: dict[str, Any] = {
    **EPSILON_SCHEDULER_KWARGS,
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "timestep_spacing": "trailing",
}

# What the pipeline samples with by default (the worker swaps schedulers per sampler name anyway).
SHIPPED_SCHEDULER: dict[str, Any] = {
    "_class_name": "DPMSolverMultistepScheduler",
    **{k: v for k, v in SCHEDULER_KWARGS.items() if k != "clip_sample"},
    "algorithm_type": "dpmsolver++",
    "solver_order": 2,
    "steps_offset": 1,  # unused with trailing spacing; 1 keeps diffusers from warning
    "use_karras_sigmas": False,
}


def text_config(vocab_size: int) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        intermediate_size=4 * HIDDEN,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=MAX_LENGTH,
        projection_dim=HIDDEN,
        hidden_act="quick_gelu",
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )


def build_vae() -> AutoencoderKL:
    return AutoencoderKL(**VAE_CONFIG)


def build_unet() -> UNet2DConditionModel:
    return UNet2DConditionModel(**UNET_CONFIG)


def build_text_encoder(vocab_size: int) -> CLIPTextModel:
    return CLIPTextModel(text_config(vocab_size))


def build_noise_scheduler(*, epsilon: bool = False) -> DDPMScheduler:
    """The training schedule: the shipped objective, or SD1's epsilon one for the first stages."""
    return DDPMScheduler(**(EPSILON_SCHEDULER_KWARGS if epsilon else SCHEDULER_KWARGS))


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
