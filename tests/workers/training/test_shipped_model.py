"""The bundled model as shipped in models/: loads through the loading contract and draws what it is asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline

from workers.training import data, pipeline, scoring, styles

MODELS = Path(__file__).resolve().parents[3] / "models"
CHECKPOINT = MODELS / "checkpoints" / f"{pipeline.MODEL_NAME}.safetensors"

pytestmark = pytest.mark.skipif(not CHECKPOINT.exists(), reason="bundled model not trained yet")


@pytest.fixture(scope="module")
def pipe() -> StableDiffusionPipeline:
    torch.set_num_threads(1)
    loaded = StableDiffusionPipeline.from_single_file(
        str(CHECKPOINT),
        config=str(MODELS / "configs" / pipeline.MODEL_NAME),
        local_files_only=True,
        torch_dtype=torch.float32,
    )
    loaded.set_progress_bar_config(disable=True)
    return loaded


def _render(pipe: StableDiffusionPipeline, prompt: str, seed: int) -> np.ndarray:
    out = pipe(
        prompt,
        num_inference_steps=20,
        guidance_scale=7.0,
        height=64,
        width=64,
        generator=torch.Generator("cpu").manual_seed(seed),
    )
    return np.asarray(out.images[0].convert("RGB"))


def test_red_circle_on_blue(pipe: StableDiffusionPipeline) -> None:
    """'a red circle on a blue background' gives red shape pixels on blue border pixels."""
    image = _render(pipe, "a red circle on a blue background", 0)
    name, border_rgb = scoring.background(image)
    assert name == "blue" and border_rgb[2] > 150 > border_rgb[0]
    shape_rgb = np.median(image[scoring.shape_mask(image)], axis=0)
    assert shape_rgb[0] > 150 > max(shape_rgb[1], shape_rgb[2])


def test_shape_words_change_the_shape(pipe: StableDiffusionPipeline) -> None:
    """Same seed, different shape word: the drawn masks differ substantially."""
    circle = scoring.shape_mask(_render(pipe, "a large white circle on a black background, center", 1))
    square = scoring.shape_mask(_render(pipe, "a large white square on a black background, center", 1))
    assert (circle ^ square).sum() > 0.05 * circle.sum()


def test_lora_trigger_adds_stripes(pipe: StableDiffusionPipeline) -> None:
    """With the LoRA loaded, the trigger word stripes the shape; without the trigger it stays plain."""
    prompt = "a large orange square on a blue background, center"
    pipe.load_lora_weights(str(MODELS / "loras" / styles.LORA_FILE))
    try:
        with_tag = _render(pipe, f"{styles.LORA_TRIGGER}, {prompt}", 2)
        without = _render(pipe, prompt, 2)
    finally:
        pipe.unload_lora_weights()
    assert scoring.stripe_score(with_tag) > scoring.STRIPE_THRESHOLD > scoring.stripe_score(without)


def test_embedding_token_draws_its_concept(pipe: StableDiffusionPipeline) -> None:
    """The A1111 embedding loads under its token and renders a yellow shape."""
    pipe.load_textual_inversion(str(MODELS / "embeddings" / styles.EMBEDDING_FILE), token=styles.EMBEDDING_TOKEN)
    try:
        image = _render(pipe, f"a {styles.EMBEDDING_TOKEN} on a blue background", 3)
    finally:
        pipe.unload_textual_inversion()
    assert scoring.shape_colour(image) == styles.EMBEDDING_COLOUR


def test_model_store_fits_the_size_budget() -> None:
    """Everything shipped in models/ stays under 25 MB."""
    total = sum(p.stat().st_size for p in MODELS.rglob("*") if p.is_file())
    assert total < 25 * 1024 * 1024


def test_held_out_list_is_documented() -> None:
    """The model card lists the held-out combinations the eval scores separately."""
    card = (MODELS / "MODEL_CARD.md").read_text()
    colour, shape, background = sorted(data.held_out_combos())[0]
    assert f"{colour} {shape} on {background}" in card
