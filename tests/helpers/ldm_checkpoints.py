"""Tiny random checkpoints in the original single-file layouts members download (A1111/Civitai), with
the diffusers-layout config folder that loads them: what the engine's `from_single_file` path reads,
at a few hundred kilobytes.

SD1 uses `workers.training.convert` (the bundled model's exporter). SD2 and SDXL add the OpenCLIP
layout (`cond_stage_model.model.*`, `conditioner.embedders.1.model.*`: fused q/k/v `in_proj`, `ln_1`,
`c_fc`, a transposed `text_projection`) and SDXL's `label_emb` (diffusers' `add_embedding`): the
inverse of diffusers' `convert_open_clip_checkpoint` and `convert_ldm_unet_checkpoint`.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.helpers.tiny_model import tiny_text_config, tiny_unet, tiny_vae, write_tokenizer

HIDDEN_1, HIDDEN_2, PROJECTION, TIME_DIM = 16, 24, 8, 4
_OPENCLIP_LAYER = (
    ("self_attn.out_proj.", "attn.out_proj."),
    ("layer_norm1.", "ln_1."),
    ("layer_norm2.", "ln_2."),
    ("mlp.fc1.", "mlp.c_fc."),
    ("mlp.fc2.", "mlp.c_proj."),
)
_OPENCLIP_FIXED = {
    "embeddings.token_embedding.weight": "token_embedding.weight",
    "embeddings.position_embedding.weight": "positional_embedding",
    "final_layer_norm.weight": "ln_final.weight",
    "final_layer_norm.bias": "ln_final.bias",
}


def openclip_to_ldm(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """A transformers CLIP text model's state dict in OpenCLIP's key layout under `prefix`."""
    import torch

    flat = {k.removeprefix("text_model."): v for k, v in state.items() if not k.endswith("position_ids")}
    out: dict[str, Any] = {}
    layers = sorted({int(k.split(".")[2]) for k in flat if k.startswith("encoder.layers.")})
    for layer in layers:
        source, target = f"encoder.layers.{layer}.", f"{prefix}transformer.resblocks.{layer}."
        for kind in ("weight", "bias"):
            parts = [flat.pop(f"{source}self_attn.{p}_proj.{kind}") for p in "qkv"]
            out[f"{target}attn.in_proj_{kind}"] = torch.cat(parts, dim=0)
        for key in [k for k in flat if k.startswith(source)]:
            rest = key[len(source) :]
            for new, old in _OPENCLIP_LAYER:
                rest = rest.replace(new, old)
            out[target + rest] = flat.pop(key)
    for new, old in _OPENCLIP_FIXED.items():
        out[prefix + old] = flat.pop(new)
    if "text_projection.weight" in flat:
        out[prefix + "text_projection"] = flat.pop("text_projection.weight").T.contiguous()
    if flat:
        raise KeyError(f"no OpenCLIP name for {sorted(flat)}")
    return out


def unet_to_ldm(unet: Any) -> dict[str, Any]:
    """UNet keys in the LDM layout, SDXL's text-time embedding (`label_emb.0.*`) included."""
    from workers.training import convert

    state = dict(unet.state_dict())
    added = {k: state.pop(k) for k in list(state) if k.startswith("add_embedding.")}
    out = convert.unet_to_ldm(state, unet.config)
    for key, value in added.items():
        layer = {"linear_1": "0", "linear_2": "2"}[key.split(".")[1]]
        out[f"{convert.UNET_PREFIX}label_emb.0.{layer}.{key.split('.')[2]}"] = value
    return out


def _tokenizers(folder: Path) -> tuple[Any, Any]:
    from transformers import CLIPTokenizer

    write_tokenizer(folder)
    vocab, merges = str(folder / "vocab.json"), str(folder / "merges.txt")
    return CLIPTokenizer(vocab, merges, model_max_length=77), CLIPTokenizer(
        vocab, merges, model_max_length=77, pad_token="!"
    )


def _scheduler(**extra: Any) -> Any:
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1, **extra
    )


def tiny_pipeline(arch: str, scratch: Path) -> Any:
    """A tiny random pipeline of base `arch`: SD1 (CLIP-L-like quick_gelu encoder), SD2 (OpenCLIP-like gelu
    encoder, linear projections, v-prediction) or SDXL (two encoders, text-time conditioning)."""
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    tokenizer, tokenizer_2 = _tokenizers(scratch)
    if arch == "sdxl":
        return StableDiffusionXLPipeline(
            vae=tiny_vae(),
            text_encoder=CLIPTextModel(tiny_text_config(tokenizer, HIDDEN_1)),
            text_encoder_2=CLIPTextModelWithProjection(
                tiny_text_config(tokenizer_2, HIDDEN_2, projection_dim=PROJECTION, hidden_act="gelu")
            ),
            tokenizer=tokenizer,
            tokenizer_2=tokenizer_2,
            unet=tiny_unet(
                HIDDEN_1 + HIDDEN_2,
                use_linear_projection=True,
                transformer_layers_per_block=(1, 2),
                addition_embed_type="text_time",
                addition_time_embed_dim=TIME_DIM,
                projection_class_embeddings_input_dim=6 * TIME_DIM + PROJECTION,
            ),
            scheduler=_scheduler(),
        )
    sd2 = arch == "sd2"
    text_tokenizer = tokenizer_2 if sd2 else tokenizer  # SD2's OpenCLIP tokenizer pads with "!"
    activation = {"hidden_act": "gelu"} if sd2 else {}
    return StableDiffusionPipeline(
        vae=tiny_vae(),
        text_encoder=CLIPTextModel(tiny_text_config(text_tokenizer, HIDDEN_1, **activation)),
        tokenizer=text_tokenizer,
        unet=tiny_unet(HIDDEN_1, use_linear_projection=sd2),
        scheduler=_scheduler(prediction_type="v_prediction") if sd2 else _scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def single_file_state(pipe: Any, arch: str) -> dict[str, Any]:
    """The pipeline's weights as one A1111-layout state dict of base `arch`."""
    from workers.training import convert

    state = {**unet_to_ldm(pipe.unet), **convert.vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config)}
    clip = convert.text_encoder_to_ldm(pipe.text_encoder.state_dict())
    if arch == "sd1":
        state.update(clip)
    elif arch == "sd2":
        state.update(openclip_to_ldm(pipe.text_encoder.state_dict(), "cond_stage_model.model."))
    else:
        prefix = "conditioner.embedders.0.transformer.text_model."
        state.update({prefix + k.removeprefix(convert.CLIP_PREFIX): v for k, v in clip.items()})
        state.update(openclip_to_ldm(pipe.text_encoder_2.state_dict(), "conditioner.embedders.1.model."))
    return {k: v.detach().contiguous() for k, v in state.items()}


def download_extras(arch: str) -> dict[str, Any]:
    """Tensors real downloads carry that no component loads: the DDPM schedule buffers and EMA counters of
    the training checkpoint, CLIP's `position_ids`, OpenCLIP's `logit_scale` (and SD2's unused projection)."""
    import torch

    extras: dict[str, Any] = {
        "betas": torch.linspace(0.00085, 0.012, 1000),
        "alphas_cumprod": torch.linspace(0.999, 0.005, 1000),
        "model_ema.decay": torch.tensor(0.9999),
        "model_ema.num_updates": torch.tensor(1000, dtype=torch.int32),
    }
    positions = torch.arange(77)[None]
    if arch == "sd1":
        extras["cond_stage_model.transformer.text_model.embeddings.position_ids"] = positions
    elif arch == "sd2":
        extras["cond_stage_model.model.logit_scale"] = torch.tensor(4.6052)
        extras["cond_stage_model.model.text_projection"] = torch.zeros(HIDDEN_1, HIDDEN_1)
    else:
        extras["conditioner.embedders.0.transformer.text_model.embeddings.position_ids"] = positions
        extras["conditioner.embedders.1.model.logit_scale"] = torch.tensor(4.6052)
    return extras


def write_single_file(arch: str, checkpoint: Path, config_dir: Path, scratch: Path) -> Any:
    """Write a tiny `arch` checkpoint to `checkpoint` (safetensors, original keys) and its config folder
    (no weights) to `config_dir`; returns the diffusers pipeline the weights came from."""
    from safetensors.torch import save_file

    pipe = tiny_pipeline(arch, scratch)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    save_file({**single_file_state(pipe, arch), **download_extras(arch)}, str(checkpoint))
    if config_dir.exists():
        shutil.rmtree(config_dir)
    pipe.save_pretrained(config_dir)
    for weights in [*config_dir.rglob("*.safetensors"), *config_dir.rglob("*.bin")]:
        weights.unlink()
    return pipe
