"""Cross-member batching: several compatible txt2img jobs in one sampler call, each image as if alone.

Jobs are compatible when `atelier.render_plan.batch_key` is equal (same checkpoint, LoRAs and
weights, size, steps, sampler, CFG, clip skip, emphasis). Each job keeps its own prompts, prompt
schedule and seeds: its embeddings occupy its rows of the batch, and each of its images draws
noise from its own CPU generator. With the timestep path made batch-invariant
(`workers.batch_invariance`), and calls no larger than the hardware keeps per-sample numbers
unchanged (probed once per pipeline), every image is bit-identical to the job rendered alone.

Only jobs whose conditioning has the same token length at every step can share a call (padding a
prompt to a longer length would change its image), so a group is split by those lengths first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from PIL import Image

from atelier.recipe import Recipe
from atelier.render_plan import batch_key
from workers.batch_invariance import invariant_batch_images
from workers.engine import set_sampler
from workers.prompt_encoding import ScheduledConditioning, encode_for_pipeline, is_sdxl
from workers.render import StepCallback, decode_each, render


@dataclass
class BatchedConditioning:
    """The conditioning of several jobs side by side; each part switches on its own schedule."""

    parts: list[ScheduledConditioning]
    tensor_inputs: tuple[str, ...] = ("prompt_embeds",)

    def pipeline_kwargs(self) -> dict[str, torch.Tensor]:
        return {
            "prompt_embeds": torch.cat([part.prompt_embeds for part in self.parts]),
            "negative_prompt_embeds": torch.cat([part.negative_prompt_embeds for part in self.parts]),
        }

    def step_end(self, pipeline: Any, step: int, tensors: dict[str, Any]) -> dict[str, Any]:
        if "prompt_embeds" not in tensors or all(
            part.embeds_for(step + 1) is part.embeds_for(step) for part in self.parts
        ):
            return tensors
        following = [(part.embeds_for(step + 1), part.batch) for part in self.parts]
        conds = torch.cat([cond.repeat(batch, 1, 1) for (cond, _), batch in following])
        unconds = torch.cat([uncond.repeat(batch, 1, 1) for (_, uncond), batch in following])
        guided = bool(getattr(pipeline, "do_classifier_free_guidance", True))
        tensors["prompt_embeds"] = torch.cat([unconds, conds]) if guided else conds
        return tensors


def _lengths(conditioning: ScheduledConditioning) -> tuple[int, ...]:
    return tuple(cond.shape[1] for cond, _ in conditioning.pairs)


def render_batch(pipe: Any, recipes: Sequence[Recipe], on_step: StepCallback | None = None) -> list[list[Image.Image]]:
    """Images per recipe, in order. Recipes must share a batch key; SDXL pipelines render one by one."""
    keys = {batch_key(recipe) for recipe in recipes}
    if len(keys) != 1 or None in keys:
        raise ValueError("only txt2img recipes with one batch key render together")
    if is_sdxl(pipe) or len(recipes) == 1:
        return [render(pipe, recipe, on_step) for recipe in recipes]
    first = recipes[0]
    set_sampler(pipe, first.sampler, first.schedule_type)
    encoded = [
        encode_for_pipeline(
            pipe, recipe.prompt, recipe.negative_prompt, recipe.steps, batch=recipe.count,
            clip_skip=recipe.clip_skip, emphasis=recipe.emphasis,
        )
        for recipe in recipes
    ]  # fmt: skip
    results: dict[int, list[Image.Image]] = {}
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, conditioning in enumerate(encoded):
        groups.setdefault(_lengths(conditioning), []).append(index)
    limit = invariant_batch_images(pipe, sum(recipe.count for recipe in recipes), max(first.width, first.height))
    for members in groups.values():
        for chunk in _chunks(members, [recipe.count for recipe in recipes], limit):
            images = _sample_together(pipe, [recipes[i] for i in chunk], [encoded[i] for i in chunk], on_step)
            for index in chunk:
                results[index], images = images[: recipes[index].count], images[recipes[index].count :]
    return [results[index] for index in range(len(recipes))]


def _chunks(members: list[int], counts: list[int], limit: int) -> list[list[int]]:
    """Consecutive runs of jobs holding at most `limit` images (a job larger than the limit goes alone)."""
    chunks: list[list[int]] = []
    for index in members:
        if chunks and sum(counts[i] for i in chunks[-1]) + counts[index] <= limit:
            chunks[-1].append(index)
        else:
            chunks.append([index])
    return chunks


def _sample_together(
    pipe: Any, recipes: list[Recipe], parts: list[ScheduledConditioning], on_step: StepCallback | None
) -> list[Image.Image]:
    first = recipes[0]
    conditioning = BatchedConditioning(parts)
    generators = [torch.Generator("cpu").manual_seed(seed) for recipe in recipes for seed in recipe.seeds()]
    order = int(getattr(pipe.scheduler, "order", 1))
    stopped = False

    def step_end(pipeline: Any, call: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        nonlocal stopped
        tensors = conditioning.step_end(pipeline, call, tensors)
        step, partial = divmod(call + 1, order)  # second-order samplers call the denoiser twice a step
        if not partial and on_step is not None and not on_step(step, first.steps, tensors["latents"]):
            stopped = True
            pipeline._interrupt = True
        return tensors

    result = pipe(
        **conditioning.pipeline_kwargs(),
        num_inference_steps=first.steps,
        guidance_scale=first.cfg_scale,
        width=first.width,
        height=first.height,
        generator=generators,
        callback_on_step_end=step_end,
        callback_on_step_end_tensor_inputs=["latents", *conditioning.tensor_inputs],
        output_type="latent",
    )
    if stopped:
        raise InterruptedError("render stopped")
    return decode_each(pipe, result.images)


def _out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


class RenderOutOfMemory(RuntimeError):
    """Even one image at a time does not fit: the message says what to change."""


def render_group(
    pipe: Any, recipes: Sequence[Recipe], on_step: StepCallback | None = None, init_image: Image.Image | None = None
) -> list[list[Image.Image]]:
    """Render one job, or several batch-compatible jobs together; out of memory, retry once image by image
    (the same pixels, since each image's numbers do not depend on its batch), then give up with a reason."""
    try:
        if len(recipes) == 1:
            return [render(pipe, recipes[0], on_step, init_image)]
        return render_batch(pipe, recipes, on_step)
    except Exception as error:
        if not _out_of_memory(error):
            raise
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        return [
            [render(pipe, replace(recipe, seed=seed, count=1), on_step, init_image)[0] for seed in recipe.seeds()]
            for recipe in recipes
        ]
    except Exception as error:
        if not _out_of_memory(error):
            raise
        first = recipes[0]
        raise RenderOutOfMemory(
            f"out of memory even one image at a time at {first.width}x{first.height}; try a smaller size"
            + (" or a lower hires scale" if first.hires else "")
        ) from None
