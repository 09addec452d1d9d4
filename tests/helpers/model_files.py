"""Real safetensors files with the key names and widths of public model layouts, and tiny shapes
elsewhere: what the header-only detection reads, at a few kilobytes each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

UNET = "model.diffusion_model."
TO_K = UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
CONV_IN = UNET + "input_blocks.0.0.weight"
VAE_KEY = "first_stage_model.decoder.conv_in.weight"


def write(path: Path, shapes: dict[str, list[int]], metadata: dict[str, str] | None = None) -> Path:
    """A safetensors file written by the safetensors library itself, zeros in every tensor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: np.zeros(shape, dtype=np.float16) for key, shape in shapes.items()}, str(path), metadata)
    return path


def sd1_checkpoint(path: Path, width: int = 768) -> Path:
    return write(
        path,
        {
            CONV_IN: [8, 4, 3, 3],
            TO_K: [8, width],
            "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": [8, width],
            VAE_KEY: [8, 4, 3, 3],
        },
    )


def sd2_checkpoint(path: Path) -> Path:
    return write(
        path,
        {CONV_IN: [8, 4, 3, 3], TO_K: [8, 1024], "cond_stage_model.model.token_embedding.weight": [8, 1024]},
    )


def sdxl_checkpoint(path: Path) -> Path:
    return write(
        path,
        {
            CONV_IN: [8, 4, 3, 3],
            TO_K: [8, 2048],
            "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": [8, 768],
            "conditioner.embedders.1.model.token_embedding.weight": [8, 1280],
        },
    )


def kohya_lora(path: Path, width: int, *, sdxl: bool = False, tags: dict[str, int] | None = None) -> Path:
    """A kohya LoRA: text-encoder q_proj and UNet attn2 to_k pairs (down [rank, in], up [out, rank])."""
    te = (
        "lora_te1_text_model_encoder_layers_0_self_attn_q_proj"
        if sdxl
        else "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
    )
    unet = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    te_width, unet_width = (768, 2048) if sdxl else (width, width)
    shapes = {
        f"{te}.lora_down.weight": [4, te_width],
        f"{te}.lora_up.weight": [te_width, 4],
        f"{te}.alpha": [],
        f"{unet}.lora_down.weight": [4, unet_width],
        f"{unet}.lora_up.weight": [8, 4],
        f"{unet}.alpha": [],
    }
    metadata = {"ss_tag_frequency": json.dumps({"10_subject": tags})} if tags else None
    return write(path, shapes, metadata)


def loha(path: Path) -> Path:
    base = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    return write(path, {f"{base}.hada_w1_a": [8, 4], f"{base}.hada_w1_b": [4, 768], f"{base}.alpha": []})


def lokr(path: Path) -> Path:
    base = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    return write(path, {f"{base}.lokr_w1": [4, 4], f"{base}.lokr_w2": [2, 192], f"{base}.alpha": []})


def oft(path: Path) -> Path:
    base = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    return write(path, {f"{base}.oft_blocks": [4, 2, 2], f"{base}.alpha": []})


def embedding(path: Path, width: int) -> Path:
    return write(path, {"emb_params": [2, width]})


def sdxl_embedding(path: Path) -> Path:
    return write(path, {"clip_l": [2, 768], "clip_g": [2, 1280]})


def vae(path: Path) -> Path:
    return write(
        path,
        {
            "encoder.conv_in.weight": [8, 3, 3, 3],
            "decoder.conv_in.weight": [8, 4, 3, 3],
            "quant_conv.weight": [8, 8, 1, 1],
        },
    )


def diffusers_folder(folder: Path, cross_attention_dim: int, *, sdxl: bool = False, act: str = "quick_gelu") -> Path:
    """A diffusers pipeline folder: the configs detection reads, and one small safetensors per component."""
    unet: dict[str, object] = {"_class_name": "UNet2DConditionModel", "in_channels": 4}
    unet["cross_attention_dim"] = cross_attention_dim
    if sdxl:
        unet["addition_embed_type"] = "text_time"
    encoders = ["text_encoder", "text_encoder_2"] if sdxl else ["text_encoder"]
    index = {"_class_name": "StableDiffusionXLPipeline" if sdxl else "StableDiffusionPipeline"}
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "unet" / "config.json").write_text(json.dumps(unet))
    write(folder / "unet" / "diffusion_pytorch_model.safetensors", {"conv_in.weight": [8, 4, 3, 3]})
    for encoder in encoders:
        (folder / encoder).mkdir()
        (folder / encoder / "config.json").write_text(json.dumps({"hidden_act": act}))
        write(folder / encoder / "model.safetensors", {"final_layer_norm.weight": [8]})
    return folder
