"""Assembling and loading the bundled model as a diffusers pipeline.

`load_single_file` is THE loading contract shared with the worker: the same `from_single_file` call a real SD1.5
checkpoint goes through, with a local diffusers-layout config folder so nothing is fetched from the Hub.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from workers.training import architecture

MODEL_NAME = "atelier-tiny-v1"


def assemble(
    vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, unet: UNet2DConditionModel
) -> StableDiffusionPipeline:
    scheduler_config = {k: v for k, v in architecture.SHIPPED_SCHEDULER.items() if not k.startswith("_")}
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DPMSolverMultistepScheduler(**scheduler_config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def load_single_file(checkpoint: Path, config_dir: Path, dtype: torch.dtype = torch.float32) -> StableDiffusionPipeline:
    """The loading contract (requires HF_HUB_OFFLINE=1 in the environment to be truly offline)."""
    return StableDiffusionPipeline.from_single_file(
        str(checkpoint), config=str(config_dir), local_files_only=True, torch_dtype=dtype
    )


def load_diffusers(directory: Path) -> StableDiffusionPipeline:
    return StableDiffusionPipeline.from_pretrained(str(directory), local_files_only=True)
