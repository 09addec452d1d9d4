"""Kind and base architecture from safetensors headers and diffusers configs alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atelier.errors import ModelRefused
from atelier.model_arch import Detected, detect, detect_folder
from atelier.model_header import read_header
from atelier.schema import ModelKind
from tests.helpers import model_files as files

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT = ModelKind.CHECKPOINT


def _detect(path: Path, kind: ModelKind | None = None, widths: dict[int, str] | None = None) -> Detected:
    return detect(read_header(path), path.name, kind, widths or {})


def test_sd1_checkpoint(tmp_path: Path) -> None:
    """OpenAI CLIP under cond_stage_model.transformer, context 768: SD1."""
    assert _detect(files.sd1_checkpoint(tmp_path / "m.safetensors")) == Detected(CHECKPOINT, "sd1", 768)


def test_sd2_checkpoint(tmp_path: Path) -> None:
    """OpenCLIP under cond_stage_model.model, context 1024: SD2."""
    assert _detect(files.sd2_checkpoint(tmp_path / "m.safetensors")) == Detected(CHECKPOINT, "sd2", 1024)


def test_sdxl_checkpoint(tmp_path: Path) -> None:
    """Two encoders under conditioner.embedders, context 2048: SDXL."""
    assert _detect(files.sdxl_checkpoint(tmp_path / "m.safetensors")) == Detected(CHECKPOINT, "sdxl", 2048)


def test_bundled_tiny_model_is_sd1_despite_its_small_context() -> None:
    """The shipped atelier-tiny-v1 (context 128) is SD1 by its key layout."""
    detected = _detect(REPO / "models" / "checkpoints" / "atelier-tiny-v1.safetensors")
    assert detected == Detected(CHECKPOINT, "sd1", 128)


def test_sd1_layout_decides_before_width(tmp_path: Path) -> None:
    """An SD1-layout checkpoint with an unusual width is still SD1: layout first, dims second."""
    assert _detect(files.sd1_checkpoint(tmp_path / "m.safetensors", width=96)).arch == "sd1"


def test_sdxl_refiner_is_refused(tmp_path: Path) -> None:
    """A refiner (only OpenCLIP-G under conditioner.embedders.0.model) is named and refused."""
    path = files.write(
        tmp_path / "refiner.safetensors",
        {files.TO_K: [8, 1280], "conditioner.embedders.0.model.token_embedding.weight": [8, 1280]},
    )
    with pytest.raises(ModelRefused, match="SDXL refiner"):
        _detect(path)


def test_inpainting_checkpoint_is_refused(tmp_path: Path) -> None:
    """A 9-channel UNet (inpainting) is refused with its channel count."""
    path = files.write(
        tmp_path / "inpaint.safetensors",
        {files.CONV_IN: [8, 9, 3, 3], files.TO_K: [8, 768], "cond_stage_model.transformer.x.weight": [8, 768]},
    )
    with pytest.raises(ModelRefused, match="9 input channels"):
        _detect(path)


def test_unet_without_known_text_encoder_is_refused_naming_what_was_found(tmp_path: Path) -> None:
    """A UNet with an unknown encoder layout is refused, listing the top-level keys found."""
    path = files.write(tmp_path / "odd.safetensors", {files.TO_K: [8, 4096], "t5.encoder.weight": [8, 8]})
    with pytest.raises(ModelRefused, match="found top-level keys model, t5"):
        _detect(path)


def test_unknown_layout_is_refused_with_a_sample_of_keys(tmp_path: Path) -> None:
    """A file that is no known kind is refused, showing its keys."""
    path = files.write(tmp_path / "x.safetensors", {"transformer.blocks.0.weight": [2, 2]})
    with pytest.raises(ModelRefused, match=r"x.safetensors: .*1 tensors \(transformer.blocks.0.weight\)"):
        _detect(path)


@pytest.mark.parametrize(("width", "arch"), [(768, "sd1"), (1024, "sd2")])
def test_kohya_lora_base_from_its_widths(tmp_path: Path, width: int, arch: str) -> None:
    """A single-encoder kohya LoRA is SD1 at width 768 and SD2 at 1024."""
    assert _detect(files.kohya_lora(tmp_path / "l.safetensors", width)) == Detected(ModelKind.LORA, arch, width)


def test_kohya_sdxl_lora_from_te1_te2_keys(tmp_path: Path) -> None:
    """lora_te1_/lora_te2_ keys mean SDXL."""
    assert _detect(files.kohya_lora(tmp_path / "l.safetensors", 768, sdxl=True)).arch == "sdxl"


def test_unet_only_lora_with_2048_context_is_sdxl(tmp_path: Path) -> None:
    """A diffusers-format UNet-only LoRA whose attn2 to_k takes 2048 inputs is SDXL."""
    key = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k"
    path = files.write(tmp_path / "l.safetensors", {f"{key}.lora_A.weight": [4, 2048], f"{key}.lora_B.weight": [8, 4]})
    assert _detect(path).arch == "sdxl"


def test_bundled_lora_matches_the_tiny_checkpoint_in_the_store() -> None:
    """The shipped LoRA (width 128) is SD1 because the store's SD1 checkpoint has that width."""
    path = REPO / "models" / "loras" / "atelier-stripes-v1.safetensors"
    assert _detect(path, widths={128: "sd1"}) == Detected(ModelKind.LORA, "sd1", 128)


def test_lora_of_unknown_width_is_refused(tmp_path: Path) -> None:
    """A width no base and no store checkpoint has is refused, with the width."""
    with pytest.raises(ModelRefused, match="a LoRA of width 320 matches no base"):
        _detect(files.kohya_lora(tmp_path / "l.safetensors", 320))


@pytest.mark.parametrize(
    ("build", "name"), [(files.loha, "LyCORIS LoHa"), (files.lokr, "LyCORIS LoKr"), (files.oft, "LyCORIS OFT")]
)
def test_lycoris_is_refused_clearly(tmp_path: Path, build: object, name: str) -> None:
    """LoHa and LoKr are named and refused: the workers apply kohya LoRA/LoCon only."""
    path = build(tmp_path / "l.safetensors")  # type: ignore[operator]
    with pytest.raises(ModelRefused, match=f"a {name} network .*kohya LoRA and LoCon only"):
        _detect(path)


@pytest.mark.parametrize(("width", "arch"), [(768, "sd1"), (1024, "sd2")])
def test_embedding_base_from_width(tmp_path: Path, width: int, arch: str) -> None:
    """An A1111 embedding (emb_params) is SD1 at 768 and SD2 at 1024."""
    assert _detect(files.embedding(tmp_path / "e.safetensors", width)).arch == arch


def test_sdxl_embedding_from_clip_l_and_clip_g(tmp_path: Path) -> None:
    """clip_l + clip_g tables mean an SDXL embedding."""
    assert _detect(files.sdxl_embedding(tmp_path / "e.safetensors")) == Detected(ModelKind.EMBEDDING, "sdxl", 2048)


def test_vae_is_detected(tmp_path: Path) -> None:
    """encoder/decoder keys without a UNet are a VAE."""
    assert _detect(files.vae(tmp_path / "v.safetensors")).kind is ModelKind.VAE


def test_expected_kind_that_does_not_match_is_refused(tmp_path: Path) -> None:
    """A checkpoint offered as a LoRA is refused, saying what it looks like."""
    with pytest.raises(ModelRefused, match="looks like a checkpoint, not a LoRA"):
        _detect(files.sd1_checkpoint(tmp_path / "m.safetensors"), ModelKind.LORA)


@pytest.mark.parametrize(
    ("width", "sdxl", "act", "arch"),
    [(768, False, "quick_gelu", "sd1"), (1024, False, "gelu", "sd2"), (2048, True, "quick_gelu", "sdxl")],
)
def test_diffusers_folder_base_from_unet_config(tmp_path: Path, width: int, sdxl: bool, act: str, arch: str) -> None:
    """cross_attention_dim and addition_embed_type in unet/config.json give the base."""
    folder = files.diffusers_folder(tmp_path / "pipe", width, sdxl=sdxl, act=act)
    assert detect_folder(folder, "pipe", None) == Detected(CHECKPOINT, arch, width)


def test_tiny_diffusers_folder_falls_back_to_the_encoder_activation(tmp_path: Path) -> None:
    """A width no public model has: OpenAI CLIP's quick_gelu means SD1, OpenCLIP's gelu SD2."""
    assert detect_folder(files.diffusers_folder(tmp_path / "a", 16), "a", None).arch == "sd1"
    assert detect_folder(files.diffusers_folder(tmp_path / "b", 16, act="gelu"), "b", None).arch == "sd2"


def test_diffusers_vae_folder(tmp_path: Path) -> None:
    """A folder holding an AutoencoderKL config is a VAE."""
    folder = tmp_path / "vae"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL", "latent_channels": 4}))
    assert detect_folder(folder, "vae", None).kind is ModelKind.VAE
