"""A1111 prompt encoding for SD1.x CLIP: 75-token chunks, emphasis, clip skip, scheduled prompts.

Why our own encoder: diffusers' `encode_prompt` truncates at 77 tokens and knows no weights, and compel's
weighting lerps from the empty prompt, so the same `(x:1.2)` would render differently from A1111
(tech notes §1.5, §4). This file reimplements A1111's documented behaviour:

- Chunking is `atelier.prompt.chunks` (shared with the prompt check's token counts): 75-token chunks,
  comma backtracking within 20 tokens, `BREAK`, EOS padding, BOS + 75 + EOS = 77.
- Each chunk goes through the text encoder alone. Clip skip follows A1111's numbering (1 = last layer):
  `hidden_states[-n]`, then the final layer norm. transformers ≥ 5.6 flattened `CLIPTextModel`, so the
  norm is found on the model itself (or under `.text_model` on older versions) — diffusers' own clip_skip
  path breaks there (tech notes §5.9).
- Emphasis "Original": multiply each token's hidden state by its weight, then rescale the chunk so its
  mean is what it was before. "No norm" skips the rescale; "Ignore" drops the weights.
- Chunks are concatenated along the token axis; at each step the prompt and negative prompt are padded to
  the same chunk count with the empty prompt's chunk, as A1111 does, because diffusers requires equal shapes.
- Prompt editing: the embeddings for step 0 go into the pipeline; `callback_on_step_end` returns the next
  step's CFG batch `[negative, positive]` when the schedule switches. Step s uses the first schedule entry
  with s <= end_step, and second-order samplers get a schedule over twice the steps (A1111 counts denoiser
  calls, and diffusers' loop makes one per call).
- SDXL (`encode_for_sdxl_pipeline`): both text encoders encode every chunk (penultimate hidden state, no
  final norm, emphasis per encoder), concatenated on the feature axis; the pooled vector is encoder 2's
  `text_embeds` for the first chunk, unweighted; an empty negative prompt becomes zeros, as in A1111 and
  diffusers. Prompt editing swaps `prompt_embeds` and `add_text_embeds`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from atelier.prompt import ParsedPrompt, parse_prompt
from atelier.prompt.chunks import CHUNK_LENGTH, COMMA_BACKTRACK, Chunk, chunk_tokens

Emphasis = Literal["Original", "No norm", "Ignore"]
Fragments = tuple[tuple[str, float], ...]


class PromptEncoder:
    """Turns weighted fragments into `(1, 77 * chunks, hidden)` embeddings the A1111 way."""

    def __init__(
        self,
        tokenizer: Any,
        text_encoder: Any,
        *,
        clip_skip: int = 1,
        emphasis: Emphasis = "Original",
        comma_backtrack: int = COMMA_BACKTRACK,
        convert: Callable[[str], str] | None = None,
        final_norm: bool = True,
    ) -> None:
        if clip_skip < 1:
            raise ValueError("clip_skip counts from 1 (the last layer), as in A1111")
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self.clip_skip = clip_skip
        self.emphasis = emphasis
        self.comma_backtrack = comma_backtrack
        self.convert = convert
        self.final_norm = final_norm
        self.bos = int(tokenizer.bos_token_id)
        self.eos = int(tokenizer.eos_token_id)
        self.pad = int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else self.eos
        self._cache: dict[Fragments, torch.Tensor] = {}

    def tokenize(self, fragments: Sequence[tuple[str, float]]) -> list[Chunk]:
        """A1111's chunking (`atelier.prompt.chunks`): 75 tokens per chunk, comma backtracking, BREAK."""
        return chunk_tokens(self.tokenizer, fragments, comma_backtrack=self.comma_backtrack, convert=self.convert)

    @torch.no_grad()
    def encode_chunk(self, chunk: Chunk) -> torch.Tensor:
        """One chunk through the text encoder with clip skip and emphasis: `(1, 77, hidden)`."""
        return self.emphasise(self.hidden(self.run(chunk)), chunk)

    @torch.no_grad()
    def run(self, chunk: Chunk) -> Any:
        """The text encoder's raw output for one chunk (hidden states included when clip skip needs them)."""
        device = self.text_encoder.device
        tokens = torch.tensor([chunk.tokens], device=device)
        if self.pad != self.eos:  # SD2/OpenCLIP: everything after the first EOS is padding
            first_end = chunk.tokens.index(self.eos)
            tokens[0, first_end + 1 :] = self.pad
        return self.text_encoder(input_ids=tokens, output_hidden_states=self.clip_skip > 1)

    def hidden(self, output: Any) -> torch.Tensor:
        """The clip-skipped hidden state, `(1, 77, hidden)`, normalised unless `final_norm` is off."""
        if self.clip_skip == 1:
            return output.last_hidden_state  # type: ignore[no-any-return]
        z: torch.Tensor = output.hidden_states[-self.clip_skip]
        return _final_layer_norm(self.text_encoder)(z) if self.final_norm else z

    @torch.no_grad()
    def emphasise(self, z: torch.Tensor, chunk: Chunk) -> torch.Tensor:
        """Apply the chunk's weights to its hidden state according to the emphasis mode."""
        if self.emphasis == "Ignore":
            return z
        weights = torch.tensor(chunk.weights, device=z.device, dtype=z.dtype)
        original_mean = z.mean()
        z = z * weights[None, :, None]
        if self.emphasis == "Original":
            new_mean = z.mean()
            if new_mean != 0:  # all-zero weights: A1111 would divide by zero; leave the zeros
                z = z * (original_mean / new_mean)
        return z

    def encode(self, fragments: Sequence[tuple[str, float]]) -> torch.Tensor:
        """Weighted fragments to `(1, 77 * chunks, hidden)`; repeated texts are encoded once."""
        key = tuple(fragments)
        if key not in self._cache:
            self._cache[key] = torch.cat([self.encode_chunk(c) for c in self.tokenize(key)], dim=1)
        return self._cache[key]

    def empty(self) -> torch.Tensor:
        """The empty prompt's single chunk, used to pad the shorter of cond and uncond."""
        return self.encode((("", 1.0),))

    def pair(self, positive: Fragments, negative: Fragments) -> tuple[torch.Tensor, torch.Tensor]:
        """Cond and uncond padded to the same number of chunks with the empty prompt."""
        cond, uncond = self.encode(positive), self.encode(negative)
        length = max(cond.shape[1], uncond.shape[1])
        return self._padded(cond, length), self._padded(uncond, length)

    def _padded(self, z: torch.Tensor, length: int) -> torch.Tensor:
        missing = (length - z.shape[1]) // (CHUNK_LENGTH + 2)
        return torch.cat([z, self.empty().repeat(1, missing, 1)], dim=1) if missing else z


def _final_layer_norm(text_encoder: Any) -> Any:
    norm = getattr(text_encoder, "final_layer_norm", None)
    if norm is None:
        norm = text_encoder.text_model.final_layer_norm
    return norm


@dataclass
class ScheduledConditioning:
    """Embeddings for step 0 plus the callback that switches them when the prompt schedule says so."""

    prompt_embeds: torch.Tensor
    negative_prompt_embeds: torch.Tensor
    pairs: list[tuple[torch.Tensor, torch.Tensor]]
    """Per loop step, the (cond, uncond) pair; consecutive equal steps share the same objects."""
    batch: int
    tensor_inputs: tuple[str, ...] = ("prompt_embeds",)

    def embeds_for(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pairs[min(step, len(self.pairs) - 1)]

    def pipeline_kwargs(self) -> dict[str, torch.Tensor]:
        """The embedding arguments of `StableDiffusionPipeline.__call__`."""
        return {"prompt_embeds": self.prompt_embeds, "negative_prompt_embeds": self.negative_prompt_embeds}

    def step_end(self, pipeline: Any, step: int, tensors: dict[str, Any]) -> dict[str, Any]:
        """`callback_on_step_end` body: hand the loop the next step's conditioning when it changes."""
        following = self.embeds_for(step + 1)
        if following is self.embeds_for(step) or "prompt_embeds" not in tensors:
            return tensors
        cond, uncond = (z.repeat(self.batch, 1, 1) for z in following)
        guided = bool(getattr(pipeline, "do_classifier_free_guidance", True))
        tensors["prompt_embeds"] = torch.cat([uncond, cond]) if guided else cond
        return tensors


def schedule_conditioning(
    encoder: PromptEncoder, positive: ParsedPrompt, negative: ParsedPrompt, total_steps: int, batch: int = 1
) -> ScheduledConditioning:
    """Encode every distinct (prompt, negative) pair the schedules need, once."""
    pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
    seen: dict[tuple[Fragments, Fragments], tuple[torch.Tensor, torch.Tensor]] = {}
    for step in range(total_steps):
        key = (positive.fragments_at(step), negative.fragments_at(step))
        if key not in seen:
            seen[key] = encoder.pair(*key)
        pairs.append(seen[key])
    cond, uncond = pairs[0]
    return ScheduledConditioning(cond.repeat(batch, 1, 1), uncond.repeat(batch, 1, 1), pairs, batch)


@dataclass(frozen=True, eq=False)
class SDXLEmbeds:
    """One step's SDXL conditioning: cond/uncond `(1, 77 * chunks, hidden_1 + hidden_2)` and their pooled vectors."""

    cond: torch.Tensor
    uncond: torch.Tensor
    pooled: torch.Tensor
    negative_pooled: torch.Tensor


class SDXLPromptEncoder:
    """SDXL's two text encoders the A1111 way.

    Each side (CLIP-L `text_encoder`, CLIP-G `text_encoder_2`) chunks the prompt with its own tokenizer and
    takes the penultimate hidden state without the final layer norm (SDXL's default; A1111 ignores clip skip
    for SDXL). Emphasis is applied per encoder, as A1111 wraps each SDXL embedder separately, so each side
    restores its own mean; the two hidden states are then concatenated on the feature axis. The pooled
    vector is encoder 2's `text_embeds` for the first chunk, never weighted.
    """

    def __init__(
        self,
        tokenizer: Any,
        text_encoder: Any,
        tokenizer_2: Any,
        text_encoder_2: Any,
        *,
        emphasis: Emphasis = "Original",
        comma_backtrack: int = COMMA_BACKTRACK,
        convert: Callable[[str], str] | None = None,
        convert_2: Callable[[str], str] | None = None,
        zero_empty_negative: bool = True,
    ) -> None:
        self.first = PromptEncoder(
            tokenizer,
            text_encoder,
            clip_skip=2,
            emphasis=emphasis,
            comma_backtrack=comma_backtrack,
            convert=convert,
            final_norm=False,
        )
        self.second = PromptEncoder(
            tokenizer_2,
            text_encoder_2,
            clip_skip=2,
            emphasis=emphasis,
            comma_backtrack=comma_backtrack,
            convert=convert_2,
            final_norm=False,
        )
        self.zero_empty_negative = zero_empty_negative
        self._cache: dict[Fragments, tuple[torch.Tensor, torch.Tensor]] = {}

    def encode(self, fragments: Sequence[tuple[str, float]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted fragments to `(1, 77 * chunks, hidden_1 + hidden_2)` and the pooled `(1, projection)`."""
        key = tuple(fragments)
        if key not in self._cache:
            self._cache[key] = self._encode(key)
        return self._cache[key]

    @torch.no_grad()
    def _encode(self, fragments: Fragments) -> tuple[torch.Tensor, torch.Tensor]:
        chunks_1, chunks_2 = self.first.tokenize(fragments), self.second.tokenize(fragments)
        if len(chunks_1) != len(chunks_2):
            raise ValueError("the two SDXL tokenizers split the prompt into different numbers of chunks")
        zs: list[torch.Tensor] = []
        pooled: torch.Tensor | None = None
        for chunk_1, chunk_2 in zip(chunks_1, chunks_2, strict=True):
            z_1 = self.first.encode_chunk(chunk_1)
            output_2 = self.second.run(chunk_2)
            if pooled is None:
                pooled = output_2.text_embeds
            z_2 = self.second.emphasise(self.second.hidden(output_2), chunk_2)
            zs.append(torch.cat([z_1, z_2.to(device=z_1.device, dtype=z_1.dtype)], dim=-1))
        assert pooled is not None  # tokenize always yields at least one chunk
        return torch.cat(zs, dim=1), pooled

    def empty(self) -> torch.Tensor:
        """The empty prompt's single chunk, used to pad the shorter of cond and uncond."""
        return self.encode((("", 1.0),))[0]

    def pair(self, positive: Fragments, negative: Fragments) -> SDXLEmbeds:
        """Cond and uncond padded to the same chunk count; an empty negative prompt is all zeros, as in A1111."""
        cond, pooled = self.encode(positive)
        uncond, negative_pooled = self.encode(negative)
        if self.zero_empty_negative and all(text == "" for text, _ in negative):
            uncond, negative_pooled = torch.zeros_like(uncond), torch.zeros_like(negative_pooled)
        length = max(cond.shape[1], uncond.shape[1])
        return SDXLEmbeds(self._padded(cond, length), self._padded(uncond, length), pooled, negative_pooled)

    def _padded(self, z: torch.Tensor, length: int) -> torch.Tensor:
        missing = (length - z.shape[1]) // (CHUNK_LENGTH + 2)
        return torch.cat([z, self.empty().repeat(1, missing, 1)], dim=1) if missing else z


@dataclass
class SDXLScheduledConditioning:
    """SDXL embeddings for step 0 plus the callback that switches them (and the pooled vectors) on schedule."""

    prompt_embeds: torch.Tensor
    negative_prompt_embeds: torch.Tensor
    pooled_prompt_embeds: torch.Tensor
    negative_pooled_prompt_embeds: torch.Tensor
    steps: list[SDXLEmbeds]
    """Per loop step; consecutive equal steps share the same object."""
    batch: int
    tensor_inputs: tuple[str, ...] = ("prompt_embeds", "add_text_embeds")

    def embeds_for(self, step: int) -> SDXLEmbeds:
        return self.steps[min(step, len(self.steps) - 1)]

    def pipeline_kwargs(self) -> dict[str, torch.Tensor]:
        """The four embedding arguments of `StableDiffusionXLPipeline.__call__`."""
        return {
            "prompt_embeds": self.prompt_embeds,
            "negative_prompt_embeds": self.negative_prompt_embeds,
            "pooled_prompt_embeds": self.pooled_prompt_embeds,
            "negative_pooled_prompt_embeds": self.negative_pooled_prompt_embeds,
        }

    def step_end(self, pipeline: Any, step: int, tensors: dict[str, Any]) -> dict[str, Any]:
        """`callback_on_step_end` body: swap `prompt_embeds` and `add_text_embeds` when the schedule changes."""
        following = self.embeds_for(step + 1)
        if following is self.embeds_for(step):
            return tensors
        guided = bool(getattr(pipeline, "do_classifier_free_guidance", True))
        for name, cond, uncond in (
            ("prompt_embeds", following.cond, following.uncond),
            ("add_text_embeds", following.pooled, following.negative_pooled),
        ):
            current = tensors.get(name)
            if current is None:
                continue
            repeats = (self.batch,) + (1,) * (cond.dim() - 1)
            value = torch.cat([uncond.repeat(repeats), cond.repeat(repeats)]) if guided else cond.repeat(repeats)
            tensors[name] = value.to(device=current.device, dtype=current.dtype)
        return tensors


def schedule_sdxl_conditioning(
    encoder: SDXLPromptEncoder, positive: ParsedPrompt, negative: ParsedPrompt, total_steps: int, batch: int = 1
) -> SDXLScheduledConditioning:
    """Encode every distinct (prompt, negative) pair the schedules need, once."""
    steps: list[SDXLEmbeds] = []
    seen: dict[tuple[Fragments, Fragments], SDXLEmbeds] = {}
    for step in range(total_steps):
        key = (positive.fragments_at(step), negative.fragments_at(step))
        if key not in seen:
            seen[key] = encoder.pair(*key)
        steps.append(seen[key])
    first = steps[0]
    return SDXLScheduledConditioning(
        first.cond.repeat(batch, 1, 1),
        first.uncond.repeat(batch, 1, 1),
        first.pooled.repeat(batch, 1),
        first.negative_pooled.repeat(batch, 1),
        steps,
        batch,
    )


def is_sdxl(pipe: Any) -> bool:
    """SDXL pipelines carry a second tokenizer and text encoder."""
    return getattr(pipe, "text_encoder_2", None) is not None and getattr(pipe, "tokenizer_2", None) is not None


def encode_for_sdxl_pipeline(
    pipe: Any,
    prompt: str,
    negative_prompt: str,
    steps: int,
    *,
    batch: int = 1,
    emphasis: str = "Original",
    hires_steps: int | None = None,
) -> SDXLScheduledConditioning:
    """Parse both prompts and build the conditioning for `pipe(**conditioning.pipeline_kwargs())` on SDXL.

    Call after the sampler is set: second-order schedulers (`order == 2`) make two denoiser calls a step.
    With `hires_steps`, the conditioning is for a hires pass of that many steps after `steps` base steps.
    """
    total, positive, negative = _parse_both(pipe, prompt, negative_prompt, steps, hires_steps)
    convert = getattr(pipe, "maybe_convert_prompt", None)
    encoder = SDXLPromptEncoder(
        pipe.tokenizer,
        pipe.text_encoder,
        pipe.tokenizer_2,
        pipe.text_encoder_2,
        emphasis=_emphasis(emphasis),
        convert=(lambda text: convert(text, pipe.tokenizer)) if convert else None,
        convert_2=(lambda text: convert(text, pipe.tokenizer_2)) if convert else None,
    )
    return schedule_sdxl_conditioning(encoder, positive, negative, total, batch)


def encode_for_pipeline(
    pipe: Any,
    prompt: str,
    negative_prompt: str,
    steps: int,
    *,
    batch: int = 1,
    clip_skip: int = 1,
    emphasis: str = "Original",
    hires_steps: int | None = None,
) -> ScheduledConditioning:
    """Parse both prompts and build the conditioning for `pipe(prompt_embeds=…, negative_prompt_embeds=…)`.

    Call after the sampler is set: second-order schedulers (`order == 2`) make two denoiser calls a step.
    With `hires_steps`, the conditioning is for a hires pass of that many steps after `steps` base steps.
    SD1.x/SD2 only; SDXL pipelines go through `encode_for_sdxl_pipeline` (see `is_sdxl`).
    """
    if is_sdxl(pipe):
        raise TypeError("SDXL pipeline: use encode_for_sdxl_pipeline, which also returns the pooled embeddings")
    total, positive, negative = _parse_both(pipe, prompt, negative_prompt, steps, hires_steps)
    convert = getattr(pipe, "maybe_convert_prompt", None)
    encoder = PromptEncoder(
        pipe.tokenizer,
        pipe.text_encoder,
        clip_skip=clip_skip,
        emphasis=_emphasis(emphasis),
        convert=(lambda text: convert(text, pipe.tokenizer)) if convert else None,
    )
    return schedule_conditioning(encoder, positive, negative, total, batch)


def _parse_both(
    pipe: Any, prompt: str, negative_prompt: str, steps: int, hires_steps: int | None = None
) -> tuple[int, Any, Any]:
    """Both prompts parsed over the denoiser calls the pass makes (second-order samplers call twice a step),
    and how many calls that is: the hires pass's own when `hires_steps` is given."""
    order = int(getattr(pipe.scheduler, "order", 1))
    total, hires_total = steps * order, None if hires_steps is None else hires_steps * order
    return (
        total if hires_total is None else hires_total,
        parse_prompt(prompt, "prompt", steps=total, hires_steps=hires_total),
        parse_prompt(negative_prompt, "negative_prompt", steps=total, hires_steps=hires_total),
    )


def _emphasis(mode: str) -> Emphasis:
    if mode == "Original" or mode == "No norm" or mode == "Ignore":
        return mode
    raise ValueError(f"unknown emphasis mode {mode!r}")
