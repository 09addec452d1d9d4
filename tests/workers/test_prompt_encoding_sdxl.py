"""A1111 prompt encoding for SDXL on a tiny random pipeline: two encoders, pooled vector, chunks, render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from atelier.prompt import parse_prompt
from tests.helpers.tiny_model import tiny_text_config, tiny_unet, tiny_vae, write_tokenizer
from workers.prompt_encoding import (
    SDXLPromptEncoder,
    encode_for_pipeline,
    encode_for_sdxl_pipeline,
    is_sdxl,
)

HIDDEN_1, HIDDEN_2, PROJECTION, TIME_DIM = 16, 24, 8, 4


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny-sdxl")
    write_tokenizer(folder)
    vocab, merges = str(folder / "vocab.json"), str(folder / "merges.txt")
    tokenizer = CLIPTokenizer(vocab, merges, model_max_length=77)
    tokenizer_2 = CLIPTokenizer(vocab, merges, model_max_length=77, pad_token="!")  # as SDXL's CLIP-G: pad id 0
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(tiny_text_config(tokenizer, HIDDEN_1))
    text_encoder_2 = CLIPTextModelWithProjection(tiny_text_config(tokenizer_2, HIDDEN_2, projection_dim=PROJECTION))
    unet = tiny_unet(
        HIDDEN_1 + HIDDEN_2,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=TIME_DIM,
        projection_class_embeddings_input_dim=6 * TIME_DIM + PROJECTION,
    )
    vae = tiny_vae()
    scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    built = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
    )
    built.set_progress_bar_config(disable=True)
    return built


@pytest.fixture
def encoder(pipe: Any) -> SDXLPromptEncoder:
    return SDXLPromptEncoder(pipe.tokenizer, pipe.text_encoder, pipe.tokenizer_2, pipe.text_encoder_2)


def fragments(text: str) -> tuple[tuple[str, float], ...]:
    return parse_prompt(text).schedule[0].fragments


def test_embeds_concatenate_both_encoders(encoder: SDXLPromptEncoder) -> None:
    """A short prompt is one 77-token chunk whose features are CLIP-L's then CLIP-G's hidden state."""
    z, pooled = encoder.encode(fragments("a red cat"))
    assert z.shape == (1, 77, HIDDEN_1 + HIDDEN_2) and pooled.shape == (1, PROJECTION)


def test_halves_are_each_encoders_penultimate_state(pipe: Any, encoder: SDXLPromptEncoder) -> None:
    """Without weights, each half equals that encoder's un-normalised penultimate hidden state."""
    z, pooled = encoder.encode(fragments("a red cat"))
    (chunk_1,), (chunk_2,) = (
        encoder.first.tokenize(fragments("a red cat")),
        encoder.second.tokenize(fragments("a red cat")),
    )
    ids_2 = torch.tensor([chunk_2.tokens])
    ids_2[0, chunk_2.tokens.index(encoder.second.eos) + 1 :] = 0  # CLIP-G pads with id 0 after the first EOS
    with torch.no_grad():
        out_1 = pipe.text_encoder(torch.tensor([chunk_1.tokens]), output_hidden_states=True)
        out_2 = pipe.text_encoder_2(ids_2, output_hidden_states=True)
    torch.testing.assert_close(z[..., :HIDDEN_1], out_1.hidden_states[-2])
    torch.testing.assert_close(z[..., HIDDEN_1:], out_2.hidden_states[-2])
    torch.testing.assert_close(pooled, out_2.text_embeds)


def test_emphasis_changes_embeds_not_pooled(encoder: SDXLPromptEncoder) -> None:
    """`(red:1.5)` changes prompt_embeds but leaves the pooled vector identical to the unweighted prompt's."""
    plain, plain_pooled = encoder.encode(fragments("a red cat"))
    weighted, weighted_pooled = encoder.encode(fragments("a (red:1.5) cat"))
    assert not torch.allclose(plain, weighted)
    assert torch.equal(plain_pooled, weighted_pooled)


def test_original_emphasis_restores_each_encoders_mean(encoder: SDXLPromptEncoder) -> None:
    """ "Original" emphasis keeps the mean of each encoder's half, as A1111 weights each SDXL embedder alone."""
    plain, _ = encoder.encode(fragments("a red cat"))
    weighted, _ = encoder.encode(fragments("a (red:1.5) cat"))
    torch.testing.assert_close(weighted[..., :HIDDEN_1].mean(), plain[..., :HIDDEN_1].mean())
    torch.testing.assert_close(weighted[..., HIDDEN_1:].mean(), plain[..., HIDDEN_1:].mean())


def test_long_prompt_makes_two_chunks_and_first_chunk_pooled(encoder: SDXLPromptEncoder) -> None:
    """Over 75 tokens gives two chunks; the pooled vector is the first chunk's, whatever follows."""
    z, pooled = encoder.encode(fragments("a " * 100))
    assert z.shape == (1, 154, HIDDEN_1 + HIDDEN_2)
    _, first_only_pooled = encoder.encode(fragments("a " * 75))
    torch.testing.assert_close(pooled, first_only_pooled)


def test_cond_and_uncond_are_padded_to_the_same_chunks(encoder: SDXLPromptEncoder) -> None:
    """A two-chunk prompt against a one-chunk negative pads the negative with the empty prompt's chunk."""
    embeds = encoder.pair(fragments("a " * 100), fragments("dog"))
    assert embeds.cond.shape == embeds.uncond.shape == (1, 154, HIDDEN_1 + HIDDEN_2)
    torch.testing.assert_close(embeds.uncond[:, 77:], encoder.empty())
    assert embeds.negative_pooled.shape == (1, PROJECTION)


def test_empty_negative_is_zeros(encoder: SDXLPromptEncoder) -> None:
    """An empty negative prompt gives zero embeddings and a zero pooled vector, as A1111 and diffusers do."""
    embeds = encoder.pair(fragments("a cat"), fragments(""))
    assert not embeds.uncond.any() and not embeds.negative_pooled.any()


def test_encode_for_pipeline_refuses_sdxl(pipe: Any) -> None:
    """The SD1 entry point refuses an SDXL pipeline rather than dropping the second encoder."""
    assert is_sdxl(pipe)
    with pytest.raises(TypeError):
        encode_for_pipeline(pipe, "a cat", "", 2)


def test_schedule_switches_embeds_and_pooled(pipe: Any) -> None:
    """Prompt editing swaps both prompt_embeds and add_text_embeds in the step callback."""
    conditioning = encode_for_sdxl_pipeline(pipe, "[red:green:1] cat", "dog", 4, batch=2)
    assert conditioning.tensor_inputs == ("prompt_embeds", "add_text_embeds")
    tensors = {"prompt_embeds": torch.zeros(4, 77, HIDDEN_1 + HIDDEN_2), "add_text_embeds": torch.zeros(4, PROJECTION)}
    out = conditioning.step_end(pipe, 1, tensors)  # steps 0-1 say "red cat", steps 2-3 "green cat"
    second = conditioning.embeds_for(2)
    torch.testing.assert_close(out["prompt_embeds"][3:], second.cond)
    torch.testing.assert_close(out["add_text_embeds"][:1], second.negative_pooled)
    torch.testing.assert_close(out["add_text_embeds"][3:], second.pooled)
    assert not torch.equal(second.pooled, conditioning.embeds_for(0).pooled)


def test_sdxl_pipeline_renders_with_the_embeds(pipe: Any, tmp_path: Path) -> None:
    """A 2-step 64x64 StableDiffusionXLPipeline render accepts the embeddings and the schedule callback."""
    conditioning = encode_for_sdxl_pipeline(pipe, "a [red:green:1] (cat:1.3), " + "a " * 80, "dog", 2)

    def step_end(pipeline: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        return conditioning.step_end(pipeline, step, tensors)

    result = pipe(
        **conditioning.pipeline_kwargs(),
        num_inference_steps=2,
        width=64,
        height=64,
        generator=torch.Generator("cpu").manual_seed(1),
        callback_on_step_end=step_end,
        callback_on_step_end_tensor_inputs=["latents", *conditioning.tensor_inputs],
    )
    assert result.images[0].size == (64, 64)


def test_prompt_editing_mid_render_feeds_the_pipeline(pipe: Any) -> None:
    """A 3-step render whose prompt changes after step 1 takes the swapped embeddings and renders."""
    conditioning = encode_for_sdxl_pipeline(pipe, "a [red:green:1] cat", "", 3)
    pooled_seen: list[torch.Tensor] = []

    def step_end(pipeline: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        tensors = conditioning.step_end(pipeline, step, tensors)
        pooled_seen.append(tensors["add_text_embeds"][1:].clone())
        return tensors

    result = pipe(
        **conditioning.pipeline_kwargs(),
        num_inference_steps=3,
        width=64,
        height=64,
        generator=torch.Generator("cpu").manual_seed(1),
        callback_on_step_end=step_end,
        callback_on_step_end_tensor_inputs=["latents", *conditioning.tensor_inputs],
    )
    assert result.images[0].size == (64, 64)
    torch.testing.assert_close(pooled_seen[0], conditioning.embeds_for(0).pooled)
    torch.testing.assert_close(pooled_seen[1], conditioning.embeds_for(2).pooled)


def test_engine_renders_an_sdxl_recipe_with_weighted_prompts(pipe: Any) -> None:
    """`workers.engine.render` feeds SDXL pipelines the four embeddings and returns the images."""
    from atelier.recipe import Recipe
    from workers.render import render

    images = render(pipe, Recipe(prompt="a (red:1.3) circle", negative_prompt="blue", steps=2, width=64, height=64,
                                 seed=1, count=2, sampler="Euler"))  # fmt: skip
    assert [image.size for image in images] == [(64, 64), (64, 64)]
