"""A1111 prompt encoding on the tiny test pipeline: chunks, BREAK, emphasis, clip skip, schedules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from atelier.prompt import parse_prompt
from atelier.recipe import Recipe
from tests.helpers.tiny_model import build_tiny_pipeline
from workers import render
from workers.prompt_encoding import PromptEncoder, encode_for_pipeline

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "models" / "checkpoints" / "atelier-tiny-v1.safetensors"


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from diffusers import StableDiffusionPipeline

    folder = build_tiny_pipeline(tmp_path_factory.mktemp("tiny"))
    loaded = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True, safety_checker=None)
    loaded.set_progress_bar_config(disable=True)
    return loaded


@pytest.fixture
def encoder(pipe: Any) -> PromptEncoder:
    return PromptEncoder(pipe.tokenizer, pipe.text_encoder)


def fragments(text: str) -> tuple[tuple[str, float], ...]:
    return parse_prompt(text).schedule[0].fragments


def test_short_prompt_is_one_framed_chunk(encoder: PromptEncoder) -> None:
    """A short prompt is BOS + tokens + EOS padding + EOS, 77 ids, weights 1 on the frame."""
    (chunk,) = encoder.tokenize(fragments("a cat"))
    assert len(chunk.tokens) == 77 and chunk.tokens[0] == encoder.bos and chunk.tokens[-1] == encoder.eos
    assert chunk.tokens[5:] == [encoder.eos] * 72 and chunk.weights == [1.0] * 77  # the test vocab spells "cat"


def test_long_prompt_makes_more_chunks(encoder: PromptEncoder) -> None:
    """100 tokens make two chunks of 77: 75 tokens, then 25."""
    chunks = encoder.tokenize(fragments("a " * 100))
    assert [len(c.tokens) for c in chunks] == [77, 77]
    assert chunks[1].tokens[1:26] == chunks[0].tokens[1:26] and chunks[1].tokens[26] == encoder.eos
    assert encoder.encode(fragments("a " * 100)).shape[1] == 154


def test_comma_backtrack_moves_the_tail(encoder: PromptEncoder) -> None:
    """A full chunk with a comma in its last 20 tokens ends at the comma; the tail opens the next chunk."""
    chunks = encoder.tokenize(fragments("a " * 70 + ", " + "a " * 10))
    comma = encoder.tokenizer.get_vocab()[",</w>"]
    assert chunks[0].tokens[71] == comma and chunks[0].tokens[72:] == [encoder.eos] * 5
    assert chunks[1].tokens[1:11] == chunks[0].tokens[1:11] and chunks[1].tokens[11] == encoder.eos


def test_comma_too_far_back_does_not_move(encoder: PromptEncoder) -> None:
    """A comma more than 20 tokens before the end of a full chunk leaves the chunk at 75 tokens."""
    chunks = encoder.tokenize(fragments("a " * 50 + ", " + "a " * 40))
    assert encoder.eos not in chunks[0].tokens[1:76] and len(chunks) == 2


def test_break_closes_the_chunk(encoder: PromptEncoder) -> None:
    """BREAK starts a new chunk even when the first is nearly empty."""
    chunks = encoder.tokenize(fragments("a cat BREAK a dog"))
    assert len(chunks) == 2 and chunks[0].tokens[5] == encoder.eos and chunks[1].tokens[5] == encoder.eos


def test_weights_follow_their_tokens(encoder: PromptEncoder) -> None:
    """Each token carries the weight of its fragment."""
    (chunk,) = encoder.tokenize(fragments("a (red:1.5)"))
    assert chunk.weights[:6] == [1.0, 1.0, 1.5, 1.5, 1.5, 1.0]


def test_weight_one_equals_the_plain_encoding(pipe: Any, encoder: PromptEncoder) -> None:
    """With every weight 1.0 the result equals diffusers' own encoding of the prompt."""
    plain = pipe.encode_prompt("a red circle", "cpu", 1, False)[0]
    assert torch.equal(encoder.encode(fragments("a red circle")), plain)


def test_emphasis_changes_the_embedding(encoder: PromptEncoder) -> None:
    """(red:1.5) differs from red, only at red's tokens before the mean is restored."""
    plain, weighted = encoder.encode(fragments("red")), encoder.encode(fragments("(red:1.5)"))
    assert not torch.allclose(plain, weighted)


def test_original_emphasis_restores_the_mean(encoder: PromptEncoder) -> None:
    """Original emphasis rescales each chunk back to its unweighted mean."""
    plain, weighted = encoder.encode(fragments("a red cat")), encoder.encode(fragments("a (red:1.5) cat"))
    assert torch.allclose(plain.mean(), weighted.mean(), atol=1e-6)


def test_no_norm_emphasis_is_a_plain_multiply(pipe: Any) -> None:
    """'No norm' multiplies token states by their weights and nothing else."""
    plain = PromptEncoder(pipe.tokenizer, pipe.text_encoder).encode(fragments("red"))
    weighted = PromptEncoder(pipe.tokenizer, pipe.text_encoder, emphasis="No norm").encode(fragments("(red:2)"))
    assert torch.allclose(weighted[0, 1:4], plain[0, 1:4] * 2) and torch.equal(weighted[0, 4:], plain[0, 4:])


def test_clip_skip_uses_an_earlier_layer_and_the_final_norm(pipe: Any) -> None:
    """Clip skip 2 is the penultimate layer through final_layer_norm, on the flattened CLIPTextModel."""
    skipped = PromptEncoder(pipe.tokenizer, pipe.text_encoder, clip_skip=2).encode(fragments("a cat"))
    ids = PromptEncoder(pipe.tokenizer, pipe.text_encoder).tokenize(fragments("a cat"))[0].tokens
    with torch.no_grad():
        states = pipe.text_encoder(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
        expected = pipe.text_encoder.final_layer_norm(states[-2])
    last_layer = pipe.encode_prompt("a cat", "cpu", 1, False)[0]
    assert torch.allclose(skipped, expected) and not torch.allclose(skipped, last_layer)


def test_cond_and_uncond_are_padded_to_the_same_length(pipe: Any) -> None:
    """A two-chunk prompt with an empty negative gives two 154-token tensors; the pad is the empty prompt."""
    conditioning = encode_for_pipeline(pipe, "a " * 100, "", 4)
    assert conditioning.prompt_embeds.shape == conditioning.negative_prompt_embeds.shape == (1, 154, 16)
    uncond = conditioning.negative_prompt_embeds
    assert torch.equal(uncond[:, :77], uncond[:, 77:])


def test_batch_repeats_the_embeddings(pipe: Any) -> None:
    """Three images get three copies of the conditioning."""
    assert encode_for_pipeline(pipe, "a cat", "", 4, batch=3).prompt_embeds.shape[0] == 3


def unet_conditions(pipe: Any, recipe: Recipe) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []

    def hook(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        seen.append(kwargs.get("encoder_hidden_states", args[2] if len(args) > 2 else None).clone())

    handle = pipe.unet.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        render.render(pipe, recipe)
    finally:
        handle.remove()
    return seen


def test_scheduled_prompt_switches_mid_way(pipe: Any, encoder: PromptEncoder) -> None:
    """[red:blue:0.5] over 4 steps conditions steps 0-2 on red and step 3 on blue, as A1111 does."""
    recipe = Recipe(prompt="[red:blue:0.5]", sampler="Euler", steps=4, width=64, height=64, seed=1)
    seen = unet_conditions(pipe, recipe)
    red, blue, empty = encoder.encode(fragments("red")), encoder.encode(fragments("blue")), encoder.empty()
    assert len(seen) == 4
    for step, batch in enumerate(seen):
        assert torch.equal(batch[0:1], empty)
        assert torch.equal(batch[1:2], red if step <= 2 else blue), step


def test_plain_prompt_renders_as_before(pipe: Any) -> None:
    """A prompt without syntax renders bit-identically to diffusers' own prompt path."""
    recipe = Recipe(prompt="a red circle", negative_prompt="blue", sampler="Euler", steps=3, width=64, height=64,
                    seed=5)  # fmt: skip
    (ours,) = render.render(pipe, recipe)
    theirs = pipe(prompt="a red circle", negative_prompt="blue", num_inference_steps=3, width=64, height=64,
                  guidance_scale=7.0, generator=[torch.Generator("cpu").manual_seed(5)]).images[0]  # fmt: skip
    assert ours.tobytes() == theirs.tobytes()


def test_emphasis_changes_the_image(pipe: Any) -> None:
    """(red:1.5) renders a different image from red with the same seed."""
    base = Recipe(prompt="red", sampler="Euler", steps=3, width=64, height=64, seed=5)
    (plain,) = render.render(pipe, base)
    (weighted,) = render.render(pipe, Recipe(**{**base.to_json(), "prompt": "(red:1.5)"}))
    assert plain.tobytes() != weighted.tobytes()


def test_without_guidance_the_switch_sends_only_the_prompt(pipe: Any, encoder: PromptEncoder) -> None:
    """At CFG 1 there is no negative half; the switch hands over the positive embeddings alone."""
    recipe = Recipe(prompt="[red:blue:2]", sampler="Euler", steps=4, cfg_scale=1.0, width=64, height=64, seed=1)
    seen = unet_conditions(pipe, recipe)
    blue = encoder.encode(fragments("blue"))
    assert [batch.shape[0] for batch in seen] == [1, 1, 1, 1] and torch.equal(seen[3], blue)


def test_second_order_sampler_schedules_over_denoiser_calls(pipe: Any) -> None:
    """Heun calls the UNet twice a step, so the schedule is built over twice the steps, as in A1111."""
    recipe = Recipe(prompt="[red:blue:0.5]", sampler="Heun", steps=3, width=64, height=64, seed=1)
    seen = unet_conditions(pipe, recipe)
    encoder = PromptEncoder(pipe.tokenizer, pipe.text_encoder)
    red = encoder.encode(fragments("red"))
    assert len(seen) == 5 and [torch.equal(b[1:2], red) for b in seen] == [True, True, True, True, False]


def test_bundled_model_encodes_a1111_syntax(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the bundled checkpoint: long prompts chunk, BREAK adds a chunk, and emphasis changes the output."""
    from diffusers import StableDiffusionPipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    bundled = StableDiffusionPipeline.from_single_file(
        BUNDLED, config=str(REPO / "models" / "configs" / "atelier-tiny-v1"), local_files_only=True
    )
    encoder = PromptEncoder(bundled.tokenizer, bundled.text_encoder)
    assert len(encoder.tokenize(fragments("red circle, " * 40))) >= 2
    assert len(encoder.tokenize(fragments("red circle BREAK blue square"))) == 2
    assert not torch.allclose(encoder.encode(fragments("red circle")), encoder.encode(fragments("(red:1.5) circle")))
    assert os.environ["HF_HUB_OFFLINE"] == "1"
