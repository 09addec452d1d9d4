"""What a model is (checkpoint, LoRA, embedding, VAE) and which base it belongs to (sd1, sd2, sdxl),
from its safetensors header or diffusers configs alone.

Key layout decides first, because it names the architecture outright: SD1 checkpoints keep OpenAI
CLIP under `cond_stage_model.transformer`, SD2 keeps OpenCLIP under `cond_stage_model.model`, SDXL
has two encoders under `conditioner.embedders`; a kohya LoRA for SDXL has `lora_te1_`/`lora_te2_`.
Widths decide second, where the layout is shared: a LoRA or embedding of width 768 is SD1, 1024 is
SD2, and a UNet cross-attention input of 2048 is SDXL. A width no public base has (the bundled tiny
model's 128) is matched against the checkpoints in the store, so its LoRA and embedding register
with its architecture; anything else is refused with what was found, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atelier.errors import ModelRefused
from atelier.model_header import Header
from atelier.schema import ModelKind

STANDARD_WIDTHS = {768: "sd1", 1024: "sd2", 2048: "sdxl"}
NATIVE_SIZES = {"sd1": 512, "sd2": 768, "sdxl": 1024}
KIND_WORDS = {
    ModelKind.CHECKPOINT: "a checkpoint",
    ModelKind.LORA: "a LoRA",
    ModelKind.EMBEDDING: "a textual-inversion embedding",
    ModelKind.VAE: "a VAE",
}
_LORA_DOWN = (".lora_down.weight", ".lora_A.weight", ".lora.down.weight")
_LYCORIS = {
    "hada_w1_a": "LyCORIS LoHa",
    "lokr_w1": "LyCORIS LoKr",
    "oft_blocks": "LyCORIS OFT",
    "oft_diag": "LyCORIS OFT",
}


@dataclass(frozen=True)
class Detected:
    """A model's kind and base; `width` is its text-conditioning width (for matching tiny LoRAs)."""

    kind: ModelKind
    arch: str
    width: int | None = None


def _sample(header: Header, count: int = 3) -> str:
    keys = sorted(header.shapes)
    shown = ", ".join(keys[:count]) if keys else "no tensors"
    return f"{len(keys)} tensors ({shown}{', ...' if len(keys) > count else ''})"


def kind_of(header: Header) -> ModelKind | None:
    """The kind that the key names show, or None when nothing known is there."""
    keys = header.shapes
    if any(marker in key for key in keys for marker in (*_LORA_DOWN, *_LYCORIS)):
        return ModelKind.LORA
    if any(key.startswith("model.diffusion_model.") for key in keys):
        return ModelKind.CHECKPOINT
    if "emb_params" in keys or {"clip_l", "clip_g"} <= set(keys) or any(k.startswith("string_to_param") for k in keys):
        return ModelKind.EMBEDDING
    if any(k.startswith(("encoder.conv_in.", "encoder.down_blocks.")) for k in keys) and any(
        k.startswith(("decoder.conv_in.", "decoder.up_blocks.")) for k in keys
    ):
        return ModelKind.VAE
    return None


def detect(header: Header, label: str, kind: ModelKind | None, store_widths: Mapping[int, str]) -> Detected:
    """Kind and base of a single-file model; `kind` is what the caller expects (import's --kind, or
    the store folder the file sits in). `store_widths` maps the store's checkpoint widths to bases."""
    found = kind_of(header)
    if kind is ModelKind.EMBEDDING and found is None and len(header.shapes) == 1:
        found = ModelKind.EMBEDDING  # one bare vector table: the diffusers embedding layout
    if found is None:
        raise ModelRefused(f"{label}: not a checkpoint, LoRA, embedding or VAE layout Atelier knows: {_sample(header)}")
    if kind is not None and found is not kind:
        raise ModelRefused(f"{label}: looks like {KIND_WORDS[found]}, not {KIND_WORDS[kind]}")
    if found is ModelKind.CHECKPOINT:
        return _checkpoint(header, label)
    if found is ModelKind.LORA:
        return _lora(header, label, store_widths)
    if found is ModelKind.EMBEDDING:
        return _embedding(header, label, store_widths)
    return _vae(header, label)


def _checkpoint(header: Header, label: str) -> Detected:
    keys = header.shapes
    to_k = next(header.keys_with("model.diffusion_model.", "attn2.to_k.weight"), None)
    width = keys[to_k][1] if to_k is not None and len(keys[to_k]) == 2 else None
    conv_in = keys.get("model.diffusion_model.input_blocks.0.0.weight", [])
    if len(conv_in) == 4 and conv_in[1] != 4:
        raise ModelRefused(
            f"{label}: a UNet with {conv_in[1]} input channels (an inpainting or other special model); "
            "Atelier renders with 4-channel text-to-image checkpoints"
        )
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return Detected(ModelKind.CHECKPOINT, "sdxl", width)
    if any(k.startswith("conditioner.embedders.0.model.") for k in keys):
        raise ModelRefused(f"{label}: an SDXL refiner (one OpenCLIP-G text encoder); Atelier renders with base models")
    if any(k.startswith("cond_stage_model.transformer.") for k in keys):
        return Detected(ModelKind.CHECKPOINT, "sd1", width)
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        return Detected(ModelKind.CHECKPOINT, "sd2", width)
    roots = sorted({k.split(".", 1)[0] for k in keys})
    raise ModelRefused(
        f"{label}: a UNet without a known text encoder (found top-level keys {', '.join(roots)}; expected "
        "cond_stage_model.transformer for SD1, cond_stage_model.model for SD2 or conditioner.embedders for SDXL)"
    )


def _by_width(width: int, label: str, what: str, store_widths: Mapping[int, str]) -> str:
    arch = STANDARD_WIDTHS.get(width) or store_widths.get(width)
    if arch is None:
        raise ModelRefused(
            f"{label}: {what} {width} matches no base (768 SD1, 1024 SD2, 2048 SDXL) and no checkpoint in the store"
        )
    return arch


def _lora(header: Header, label: str, store_widths: Mapping[int, str]) -> Detected:
    for marker, name in _LYCORIS.items():
        if any(marker in key for key in header.shapes):
            raise ModelRefused(
                f"{label}: a {name} network ({marker} weights); the workers apply kohya LoRA and LoCon only, "
                "so re-train or extract it as a standard LoRA"
            )
    keys = header.shapes
    if any(k.startswith(("lora_te1_", "lora_te2_", "text_encoder_2.")) for k in keys):
        return Detected(ModelKind.LORA, "sdxl", 2048)
    downs = [k for k in sorted(keys) if k.endswith(_LORA_DOWN) and len(keys[k]) == 2]
    te = next((keys[k][1] for k in downs if k.startswith(("lora_te_", "text_encoder.")) and "q_proj" in k), None)
    unet = next((keys[k][1] for k in downs if "attn2" in k and "to_k" in k), None)
    if te is not None and unet is not None and unet != te:
        if unet == 2048:
            return Detected(ModelKind.LORA, "sdxl", unet)
        raise ModelRefused(f"{label}: text-encoder width {te} and UNet cross-attention width {unet} disagree")
    width = unet if unet is not None else te
    if width is None:
        raise ModelRefused(
            f"{label}: a LoRA without text-encoder q_proj or UNet attn2 to_k weights, so its base cannot be told"
        )
    return Detected(ModelKind.LORA, _by_width(width, label, "a LoRA of width", store_widths), width)


def _embedding(header: Header, label: str, store_widths: Mapping[int, str]) -> Detected:
    keys = header.shapes
    if {"clip_l", "clip_g"} <= set(keys):
        if keys["clip_l"][-1:] != [768] or keys["clip_g"][-1:] != [1280]:
            raise ModelRefused(f"{label}: SDXL embedding widths {keys['clip_l']} / {keys['clip_g']} are not 768 / 1280")
        return Detected(ModelKind.EMBEDDING, "sdxl", 2048)
    key = "emb_params" if "emb_params" in keys else sorted(keys)[0]
    shape = keys[key]
    if len(shape) not in (1, 2) or not shape[-1]:
        raise ModelRefused(f"{label}: embedding {key} has shape {shape}; expected [vectors, width]")
    width = shape[-1]
    if width == 2048:
        raise ModelRefused(f"{label}: one table of width 2048; SDXL embeddings keep clip_l and clip_g apart")
    return Detected(ModelKind.EMBEDDING, _by_width(width, label, "an embedding of width", store_widths), width)


def _vae(header: Header, label: str) -> Detected:
    """SD1, SD2 and SDXL VAEs share one architecture, so the keys cannot tell them apart: the base is
    SDXL when the file's modelspec metadata says so, else sd1 (the latent space SD1 and SD2 share)."""
    keys = header.shapes
    conv = keys.get("decoder.conv_in.weight", [])
    if len(conv) == 4 and conv[1] != 4:
        raise ModelRefused(f"{label}: a VAE with {conv[1]} latent channels; SD1, SD2 and SDXL use 4")
    spec = header.metadata.get("modelspec.architecture", "").lower()
    return Detected(ModelKind.VAE, "sdxl" if "xl" in spec else "sd1")


def _json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def detect_folder(folder: Path, label: str, kind: ModelKind | None) -> Detected:
    """A diffusers folder: a pipeline (model_index.json, a checkpoint) or a lone AutoencoderKL (a VAE)."""
    if (folder / "model_index.json").is_file():
        found = _diffusers_pipeline(folder, label)
    elif _json(folder / "config.json").get("_class_name") == "AutoencoderKL":
        latent = _json(folder / "config.json").get("latent_channels", 4)
        if latent != 4:
            raise ModelRefused(f"{label}: a VAE with {latent} latent channels; SD1, SD2 and SDXL use 4")
        found = Detected(ModelKind.VAE, "sd1")
    else:
        raise ModelRefused(f"{label}: a folder without model_index.json (pipeline) or an AutoencoderKL config.json")
    if kind is not None and found.kind is not kind:
        raise ModelRefused(f"{label}: looks like {KIND_WORDS[found.kind]}, not {KIND_WORDS[kind]}")
    return found


def _diffusers_pipeline(folder: Path, label: str) -> Detected:
    unet = _json(folder / "unet" / "config.json")
    if not unet:
        raise ModelRefused(f"{label}: a diffusers folder without unet/config.json")
    width = unet.get("cross_attention_dim")
    width = width if isinstance(width, int) else None
    if unet.get("in_channels", 4) != 4:
        channels = unet.get("in_channels")
        raise ModelRefused(f"{label}: a UNet with {channels} input channels; Atelier renders with 4-channel models")
    if unet.get("addition_embed_type") == "text_time" or (folder / "text_encoder_2").is_dir():
        if not (folder / "text_encoder").is_dir():
            raise ModelRefused(f"{label}: an SDXL refiner (no first text encoder); Atelier renders with base models")
        return Detected(ModelKind.CHECKPOINT, "sdxl", width)
    if width in (768, 1024):
        return Detected(ModelKind.CHECKPOINT, STANDARD_WIDTHS[width], width)
    # A width no public model has: OpenAI CLIP (SD1) uses quick_gelu, OpenCLIP (SD2) uses gelu.
    act = _json(folder / "text_encoder" / "config.json").get("hidden_act")
    if act in ("quick_gelu", "gelu"):
        return Detected(ModelKind.CHECKPOINT, "sd1" if act == "quick_gelu" else "sd2", width)
    raise ModelRefused(
        f"{label}: cross_attention_dim {width} and text encoder activation {act!r} match no SD1, SD2 or SDXL layout"
    )
