"""diffusers -> original CompVis/A1111 SD1.x key layout, for the single-file checkpoint.

Real SD1.5 `.safetensors` files use the LDM key names (`model.diffusion_model.input_blocks.1.0.in_layers.0.weight`
...). Shipping the bundled model in that layout means it goes through exactly the loader a community checkpoint
does (`StableDiffusionPipeline.from_single_file`), so the worker has one code path. This is the inverse of
diffusers' `convert_ldm_unet_checkpoint` / `convert_ldm_vae_checkpoint` / `convert_ldm_clip_checkpoint`
(`diffusers/loaders/single_file_utils.py`); a test runs those on our output and checks the round trip is exact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer.text_model."

_UNET_RESNET = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("time_emb_proj", "emb_layers.1"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("conv_shortcut", "skip_connection"),
)
_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_VAE_FIXED = {"conv_norm_out": "norm_out"}
_VAE_ATTENTION = (
    ("group_norm", "norm"),
    ("to_q", "q"),
    ("to_k", "k"),
    ("to_v", "v"),
    ("to_out.0", "proj_out"),
)


def _resnet(rest: str) -> str:
    module, _, param = rest.partition(".")
    for new, old in _UNET_RESNET:
        if module == new:
            return f"{old}.{param}"
    raise KeyError(f"unexpected resnet parameter {rest!r}")


def unet_key_to_ldm(key: str, config: Mapping[str, Any]) -> str:
    """One diffusers UNet2DConditionModel key -> its LDM `UNetModel` key (without prefix)."""
    per_block = int(config["layers_per_block"]) + 1  # resnets (+ down/upsampler) per level in the LDM flat list
    attn_up = ["CrossAttn" in t for t in config["up_block_types"]]
    for new, old in _UNET_FIXED.items():
        if key.startswith(new + "."):
            return old + key[len(new) :]
    if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = 1 + block * per_block + layer
        return f"input_blocks.{index}.0.{_resnet(rest)}" if kind == "resnets" else f"input_blocks.{index}.1.{rest}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"input_blocks.{1 + int(m[1]) * per_block + per_block - 1}.0.op.{m[2]}"
    if m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"middle_block.{2 * int(m[1])}.{_resnet(m[2])}"
    if m := re.fullmatch(r"mid_block\.attentions\.0\.(.+)", key):
        return f"middle_block.1.{m[1]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = block * per_block + layer
        return f"output_blocks.{index}.0.{_resnet(rest)}" if kind == "resnets" else f"output_blocks.{index}.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        block = int(m[1])
        slot = 2 if attn_up[block] else 1  # the upsampler follows the attention when the level has one
        return f"output_blocks.{block * per_block + per_block - 1}.{slot}.conv.{m[2]}"
    raise KeyError(f"no LDM name for UNet key {key!r}")


def vae_key_to_ldm(key: str, num_blocks: int) -> str:
    """One diffusers AutoencoderKL key -> its LDM `AutoencoderKL` key (without prefix)."""
    part, _, rest = key.partition(".")
    if part in ("quant_conv", "post_quant_conv"):
        return key
    for new, old in _VAE_FIXED.items():
        rest = re.sub(rf"^{new}\.", f"{old}.", rest)
    if m := re.fullmatch(r"(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", rest):
        level = int(m[2]) if m[1] == "down" else num_blocks - 1 - int(m[2])  # LDM numbers decoder levels bottom-up
        rest = f"{m[1]}.{level}.block.{m[3]}.{m[4].replace('conv_shortcut', 'nin_shortcut')}"
    elif m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.(.+)", rest):
        rest = f"down.{m[1]}.downsample.{m[2]}"
    elif m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.(.+)", rest):
        rest = f"up.{num_blocks - 1 - int(m[1])}.upsample.{m[2]}"
    elif m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.+)", rest):
        rest = f"mid.block_{int(m[1]) + 1}.{m[2]}"
    elif m := re.fullmatch(r"mid_block\.attentions\.0\.(.+)", rest):
        module, _, param = m[1].rpartition(".")
        rest = f"mid.attn_1.{dict(_VAE_ATTENTION)[module]}.{param}"
    return f"{part}.{rest}"


def unet_to_ldm(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    return {UNET_PREFIX + unet_key_to_ldm(k, config): v for k, v in state.items()}


def vae_to_ldm(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """LDM's VAE attention uses 1x1 convolutions where diffusers uses linear layers: add the spatial dims back."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = vae_key_to_ldm(key, len(config["down_block_types"]))
        if ".mid.attn_1." in new and new.endswith(".weight") and value.ndim == 2:
            value = value[:, :, None, None]
        out[VAE_PREFIX + new] = value
    return out


def text_encoder_to_ldm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers >= 5.6 flattened CLIPTextModel (no `.text_model`); older versions keep the prefix."""
    return {CLIP_PREFIX + k.removeprefix("text_model."): v for k, v in state.items() if not k.endswith("position_ids")}


def pipeline_to_ldm(
    unet: torch.nn.Module, vae: torch.nn.Module, text_encoder: torch.nn.Module, dtype: torch.dtype = torch.float16
) -> dict[str, torch.Tensor]:
    """Whole SD1.x single-file state dict, contiguous and cast (fp16 halves the shipped size)."""
    merged = {
        **unet_to_ldm(unet.state_dict(), unet.config),  # type: ignore[arg-type]
        **vae_to_ldm(vae.state_dict(), vae.config),  # type: ignore[arg-type]
        **text_encoder_to_ldm(text_encoder.state_dict()),
    }
    return {k: v.detach().to(dtype).contiguous() for k, v in merged.items()}
