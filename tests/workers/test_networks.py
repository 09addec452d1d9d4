"""LoRAs and embeddings applied per job, on the bundled model and its shipped LoRA and embedding."""

from __future__ import annotations

import numpy as np
import pytest
from diffusers import StableDiffusionPipeline

from atelier.recipe import EmbeddingUse, LoraUse, Recipe
from tests.workers.conftest import SHIPPED_MODELS as MODELS
from workers.networks import NetworkMissing, networks_applied
from workers.render import render

FILES = {
    ("lora", "atelier-stripes-v1"): MODELS / "loras" / "atelier-stripes-v1.safetensors",
    ("embedding", "ateliersun"): MODELS / "embeddings" / "ateliersun.safetensors",
}


@pytest.fixture
def pipe(bundled: StableDiffusionPipeline) -> StableDiffusionPipeline:
    return bundled


def pixels(pipe: StableDiffusionPipeline, recipe: Recipe) -> np.ndarray:
    return np.asarray(render(pipe, recipe)[0], dtype=np.int16)


def recipe(prompt: str, **fields: object) -> Recipe:
    return Recipe(prompt=prompt, steps=10, width=64, height=64, seed=3, **fields)  # type: ignore[arg-type]


def test_lora_changes_the_image_and_unloading_restores_the_base(pipe: StableDiffusionPipeline) -> None:
    """With the LoRA the render differs; after the job the same recipe renders bit-identically to before."""
    plain = recipe("atelierstripes, a red circle on a blue background")
    before = pixels(pipe, plain)
    with networks_applied(pipe, plain, FILES):
        pass  # no LoRA in the recipe: nothing loaded
    styled = recipe(plain.prompt, loras=(LoraUse("atelier-stripes-v1", 1.0),))
    with networks_applied(pipe, styled, FILES):
        with_lora = pixels(pipe, styled)
    assert np.abs(with_lora - before).mean() > 2.0
    assert np.array_equal(pixels(pipe, plain), before)


def test_separate_text_encoder_and_unet_weights_are_honoured(pipe: StableDiffusionPipeline) -> None:
    """`<lora:name:1:0>` (UNet weight 0) renders differently from `<lora:name:1>`."""
    full = recipe("atelierstripes, a green square on a white background", loras=(LoraUse("atelier-stripes-v1", 1.0),))
    text_only = recipe(full.prompt, loras=(LoraUse("atelier-stripes-v1", 1.0, 0.0),))
    with networks_applied(pipe, full, FILES):
        a = pixels(pipe, full)
    with networks_applied(pipe, text_only, FILES):
        b = pixels(pipe, text_only)
    assert not np.array_equal(a, b)


def test_embedding_token_is_loaded_and_used(pipe: StableDiffusionPipeline) -> None:
    """The embedding's token enters the vocabulary and changes what the prompt renders."""
    with_token = recipe("ateliersun on a blue background", embeddings=(EmbeddingUse("ateliersun"),))
    with networks_applied(pipe, with_token, FILES):
        assert "ateliersun" in pipe.tokenizer.get_vocab()
        sun = pixels(pipe, with_token)
    assert not np.array_equal(sun, pixels(pipe, recipe("a red square on a blue background")))


def test_missing_network_file_fails_the_job_clearly(pipe: StableDiffusionPipeline) -> None:
    """A LoRA removed from the store since submit raises a message naming it."""
    gone = recipe("x", loras=(LoraUse("deleted-lora", 1.0),))
    with pytest.raises(NetworkMissing, match="deleted-lora"), networks_applied(pipe, gone, FILES):
        pass


def test_emphasis_and_prompt_editing_change_the_bundled_models_image(pipe: StableDiffusionPipeline) -> None:
    """`(red:1.5)` and `[red:blue:0.5]` each render differently from plain `red`, and from each other."""
    plain = pixels(pipe, recipe("a red circle on a white background"))
    weighted = pixels(pipe, recipe("a (red:1.5) circle on a white background"))
    edited = pixels(pipe, recipe("a [red:blue:0.5] circle on a white background"))
    assert np.abs(weighted - plain).mean() > 0.5
    assert np.abs(edited - plain).mean() > 0.5
    assert np.abs(edited - weighted).mean() > 0.5
