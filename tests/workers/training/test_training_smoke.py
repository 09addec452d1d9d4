"""A seconds-long training run goes end to end: train, export, load through the loading contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import StableDiffusionPipeline
from safetensors import safe_open

from workers.training import pipeline, styles
from workers.training.__main__ import STAGES, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("train")
    models = tmp_path_factory.mktemp("models")
    run(out, models, seed=0, quick=True, stages=list(STAGES))
    return out, models


@pytest.fixture(scope="module")
def loaded(trained: tuple[Path, Path]) -> StableDiffusionPipeline:
    _, models = trained
    return pipeline.load_single_file(
        models / "checkpoints" / f"{pipeline.MODEL_NAME}.safetensors", models / "configs" / pipeline.MODEL_NAME
    )


def test_export_writes_the_model_store_layout(trained: tuple[Path, Path]) -> None:
    """Checkpoint, config folder (no weights), LoRA and embedding land where A1111 users expect them."""
    _, models = trained
    config = models / "configs" / pipeline.MODEL_NAME
    assert (models / "checkpoints" / f"{pipeline.MODEL_NAME}.safetensors").is_file()
    assert (models / "loras" / styles.LORA_FILE).is_file()
    assert (models / "embeddings" / styles.EMBEDDING_FILE).is_file()
    assert {p.name for p in (config / "tokenizer").iterdir()} >= {"vocab.json", "merges.txt"}
    assert not list(config.rglob("*.safetensors")) and not list(config.rglob("*.bin"))


def test_loading_contract_yields_the_trained_weights(
    trained: tuple[Path, Path], loaded: StableDiffusionPipeline
) -> None:
    """from_single_file + local config gives the trained UNet/VAE/text encoder, not random ones."""
    out, _ = trained
    reference = pipeline.load_diffusers(out / "diffusers")
    for name in ("unet", "vae", "text_encoder"):
        ours, ref = getattr(loaded, name).state_dict(), getattr(reference, name).state_dict()
        assert set(ours) == set(ref), name
        for key, value in ref.items():
            assert torch.equal(ours[key], value.half().float()), f"{name}.{key}"


def test_text_encoder_outputs_match_training(trained: tuple[Path, Path], loaded: StableDiffusionPipeline) -> None:
    """Guards the transformers>=5.6 flattened-CLIP trap: the loaded encoder computes what the trained one did."""
    out, _ = trained
    reference = pipeline.load_diffusers(out / "diffusers")
    ids = loaded.tokenizer("a red circle on a blue background", return_tensors="pt").input_ids
    with torch.no_grad():
        ours, ref = loaded.text_encoder(ids)[0], reference.text_encoder(ids)[0]
    assert torch.allclose(ours, ref, atol=2e-2)


def test_checkpoint_uses_original_sd1_keys(trained: tuple[Path, Path]) -> None:
    """Only the three CompVis prefixes, all fp16."""
    _, models = trained
    with safe_open(str(models / "checkpoints" / f"{pipeline.MODEL_NAME}.safetensors"), "pt") as f:
        keys = list(f.keys())
        prefixes = {k.split(".")[0] for k in keys}
        assert f.get_tensor(keys[0]).dtype == torch.float16
    assert prefixes == {"model", "first_stage_model", "cond_stage_model"}


def test_renders_64x64(loaded: StableDiffusionPipeline) -> None:
    """The loaded pipeline renders at the model's native size."""
    image = loaded(
        "a red circle on a blue background",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(0),
    ).images[0]
    assert image.size == (64, 64)


def test_lora_is_kohya_format_and_loads(trained: tuple[Path, Path], loaded: StableDiffusionPipeline) -> None:
    """kohya keys (lora_unet_/lora_te_, lora_down/lora_up/alpha), trigger in ss_tag_frequency; diffusers loads it."""
    _, models = trained
    path = models / "loras" / styles.LORA_FILE
    with safe_open(str(path), "pt") as f:
        keys = list(f.keys())
        metadata = f.metadata()
    assert all(k.startswith(("lora_unet_", "lora_te_")) for k in keys)
    assert {k.rsplit(".", 2)[-2] if k.endswith(".weight") else k.rsplit(".", 1)[-1] for k in keys} == {
        "lora_down",
        "lora_up",
        "alpha",
    }
    assert styles.LORA_TRIGGER in metadata["ss_tag_frequency"]
    loaded.load_lora_weights(str(path))
    try:
        assert loaded.get_list_adapters() == {"unet": ["default_0"], "text_encoder": ["default_0"]}
    finally:
        loaded.unload_lora_weights()


def test_embedding_is_a1111_format_and_loads(trained: tuple[Path, Path], loaded: StableDiffusionPipeline) -> None:
    """`emb_params` [n_vectors, hidden]; load_textual_inversion registers the token."""
    _, models = trained
    path = models / "embeddings" / styles.EMBEDDING_FILE
    with safe_open(str(path), "pt") as f:
        assert f.get_tensor("emb_params").shape == (styles.EMBEDDING_VECTORS, loaded.text_encoder.config.hidden_size)
    loaded.load_textual_inversion(str(path), token=styles.EMBEDDING_TOKEN)
    try:
        assert styles.EMBEDDING_TOKEN in loaded.tokenizer.get_vocab()
    finally:
        loaded.unload_textual_inversion()
