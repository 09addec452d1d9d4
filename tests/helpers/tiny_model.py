"""A tiny Stable Diffusion pipeline built from configs with random weights, for tests that need the
real diffusers code path but not a trained model. Renders a 64x64 image in a few milliseconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

WORDS = [
    "a",
    "an",
    "the",
    "red",
    "green",
    "blue",
    "yellow",
    "circle",
    "square",
    "triangle",
    "on",
    "of",
    "background",
    "large",
    "small",
    "cat",
    "dog",
]


def write_tokenizer(folder: Path) -> None:
    """vocab.json and merges.txt of a whole-word CLIP tokenizer over the test vocabulary."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    for token in [
        "!",
        *"abcdefghijklmnopqrstuvwxyz0123456789,.()[]:<>",
        *(f"{c}</w>" for c in "abcdefghijklmnopqrstuvwxyz0123456789,."),
    ]:
        vocab.setdefault(token, len(vocab))
    for word in WORDS:
        vocab.setdefault(f"{word}</w>", len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def tiny_text_config(tokenizer: Any, hidden: int, **extra: Any) -> Any:
    """A two-layer CLIP text encoder config sized to `tokenizer`'s vocabulary."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_attention_heads=2,
        num_hidden_layers=2,
        vocab_size=len(tokenizer),
        max_position_embeddings=77,
        **extra,
    )


def tiny_unet(cross_attention_dim: int, **extra: Any) -> Any:
    """A two-block UNet with one cross-attention level; `extra` adds SDXL's text-time conditioning."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        norm_num_groups=4,
        attention_head_dim=2,
        **extra,
    )


def tiny_vae() -> Any:
    """A two-block VAE (downscale 2): 64x64 images have 32x32 latents."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
    )


def build_tiny_pipeline(folder: Path) -> Path:
    """Save a tiny random SD1-style pipeline in diffusers layout at `folder`."""
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionPipeline
    from transformers import CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = tiny_unet(cross_attention_dim=16)
    vae = tiny_vae()
    write_tokenizer(folder / "_tokenizer")
    tokenizer = CLIPTokenizer(
        str(folder / "_tokenizer" / "vocab.json"), str(folder / "_tokenizer" / "merges.txt"), model_max_length=77
    )
    text_encoder = CLIPTextModel(tiny_text_config(tokenizer, 16))
    scheduler = EulerAncestralDiscreteScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    shutil.rmtree(folder / "_tokenizer")
    return folder


def build_tiny_store(models_dir: Path) -> Path:
    """A model store whose only checkpoint is the tiny pipeline, named `tiny-test`."""
    build_tiny_pipeline(models_dir / "checkpoints" / "tiny-test")
    return models_dir
