"""Render a recipe: txt2img, img2img (variations, remix, upscale) and hires fix, as A1111 does them.

Every mode is one or two sampler passes over the same pipeline components:

- txt2img: one pass from noise at the recipe's size;
- img2img: the init image resized to the recipe's size ("just resize"), noised to `denoising_strength`
  and denoised for `int(steps * strength)` steps; a larger size than the init image is an upscale;
- hires fix: txt2img at the recipe's size, latents upscaled bilinearly to `hires_size` ("Latent"
  upscaler), then an img2img pass at `hires_denoise` over `hires_steps` (0: the same steps).

Noise comes from CPU generators seeded per image, so image i of a batch equals a single render with
seed + i, and a recipe re-renders bit-identically on the same hardware. Progress is reported in
sampler steps across all passes; the callback can stop the render between steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers import AutoPipelineForImage2Image
from PIL import Image

from atelier.recipe import Recipe
from atelier.render_plan import Pass, passes_of, total_steps
from workers.engine import set_sampler
from workers.prompt_encoding import encode_for_pipeline, encode_for_sdxl_pipeline, is_sdxl

StepCallback = Callable[[int, int, torch.Tensor], bool]
"""Called after each sampler step with (step, total, latents); returning False stops the render."""


class _Progress:
    """Turns per-pass denoiser calls into steps over the whole render and asks whether to go on."""

    def __init__(self, recipe: Recipe, on_step: StepCallback | None) -> None:
        self.total = total_steps(recipe)
        self.done = 0
        self.on_step = on_step
        self.stopped = False

    def after_call(self, call: int, order: int, latents: torch.Tensor) -> bool:
        """True to go on; second-order samplers make `order` denoiser calls per step."""
        if (call + 1) % order:
            return True
        self.done += 1
        if self.on_step is not None and not self.on_step(self.done, self.total, latents):
            self.stopped = True
        return not self.stopped


@torch.no_grad()
def render(
    pipe: Any, recipe: Recipe, on_step: StepCallback | None = None, init_image: Image.Image | None = None
) -> list[Image.Image]:
    """Render every image of the recipe; raises `InterruptedError` when `on_step` stops it."""
    if (recipe.denoising_strength is not None) != (init_image is not None):
        raise ValueError("an init image goes with img2img recipes (denoising_strength set), and only with them")
    set_sampler(pipe, recipe.sampler, recipe.schedule_type)
    progress = _Progress(recipe, on_step)
    seeds = recipe.seeds()
    if init_image is not None:
        source = init_image.convert("RGB").resize((recipe.width, recipe.height), Image.Resampling.LANCZOS)
        return _images(_sample(pipe, recipe, passes_of(recipe)[0], seeds, progress, start=source, decode=True))
    first, *hires = passes_of(recipe)
    if not hires:
        return _images(_sample(pipe, recipe, first, seeds, progress, decode=True))
    latents = _sample(pipe, recipe, first, seeds, progress, decode=False)
    scale = int(pipe.vae_scale_factor)
    size = (hires[0].height // scale, hires[0].width // scale)
    upscaled = torch.nn.functional.interpolate(latents, size=size, mode="bilinear")
    return _images(_sample(pipe, recipe, hires[0], seeds, progress, start=upscaled, decode=True))


def _images(output: Any) -> list[Image.Image]:
    images: list[Image.Image] = output
    return images


@torch.no_grad()
def decode_each(pipe: Any, latents: torch.Tensor) -> list[Image.Image]:
    """Decode image by image: the VAE's numbers for one image then do not depend on the batch around it
    (decoding a batch of 4 differs from a batch of 2 in the last bits), so a batched job's images equal
    its solo images exactly."""
    scale = pipe.vae.config.scaling_factor
    decoded = torch.cat([pipe.vae.decode(latents[i : i + 1] / scale).sample for i in range(latents.shape[0])])
    images: list[Image.Image] = pipe.image_processor.postprocess(decoded, output_type="pil")
    return images


def _sample(
    pipe: Any,
    recipe: Recipe,
    render_pass: Pass,
    seeds: list[int],
    progress: _Progress,
    *,
    start: Image.Image | torch.Tensor | None = None,
    decode: bool,
) -> Any:
    """One sampler pass: from noise (`start` None) or from an image or latents (img2img)."""
    if start is not None and render_pass.steps_run == 0:  # A1111 also leaves the image as it is
        if isinstance(start, Image.Image):
            return [start.copy() for _ in seeds]
        return decode_each(pipe, start)
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    conditioning = _conditioning(pipe, recipe, render_pass, len(seeds))
    order = int(getattr(pipe.scheduler, "order", 1))

    def step_end(pipeline: Any, call: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        tensors = conditioning.step_end(pipeline, call, tensors)
        if not progress.after_call(call, order, tensors["latents"]):
            pipeline._interrupt = True
        return tensors

    arguments: dict[str, Any] = {
        **conditioning.pipeline_kwargs(),
        "num_inference_steps": render_pass.steps,
        "guidance_scale": recipe.cfg_scale,
        "generator": generators,
        "callback_on_step_end": step_end,
        "callback_on_step_end_tensor_inputs": ["latents", *conditioning.tensor_inputs],
        # SD1/SD2 decode here, image by image (see decode_each); SDXL's pipeline handles its VAE's upcasting.
        "output_type": "pil" if decode and is_sdxl(pipe) else "latent",
    }
    if start is None:
        runner = pipe
        arguments.update(width=recipe.width, height=recipe.height)
    else:
        runner = image_to_image(pipe)
        arguments.update(image=start, strength=render_pass.strength)
    result = runner(**arguments)
    if progress.stopped:
        raise InterruptedError("render stopped")
    if decode and not is_sdxl(pipe):
        return decode_each(pipe, result.images)
    return result.images


def _conditioning(pipe: Any, recipe: Recipe, render_pass: Pass, batch: int) -> Any:
    """The pass's prompt conditioning, scheduled over the steps it actually runs."""
    steps = render_pass.steps_run
    hires_steps = steps if render_pass.hires else None
    base_steps = recipe.steps if render_pass.hires else steps
    if is_sdxl(pipe):  # SDXL: two encoders, pooled output; A1111 ignores clip skip there
        return encode_for_sdxl_pipeline(
            pipe, recipe.prompt, recipe.negative_prompt, base_steps, batch=batch, emphasis=recipe.emphasis,
            hires_steps=hires_steps,
        )  # fmt: skip
    return encode_for_pipeline(
        pipe, recipe.prompt, recipe.negative_prompt, base_steps, batch=batch, clip_skip=recipe.clip_skip,
        emphasis=recipe.emphasis, hires_steps=hires_steps,
    )  # fmt: skip


def image_to_image(pipe: Any) -> Any:
    """The img2img pipeline over the same components (no copy of any weights), made once per pipeline.

    It shares the scheduler object too, so it is rebuilt when `set_sampler` swapped the scheduler."""
    cached = getattr(pipe, "_atelier_img2img", None)
    if cached is None or cached.scheduler is not pipe.scheduler:
        cached = AutoPipelineForImage2Image.from_pipe(pipe)
        cached.set_progress_bar_config(disable=True)
        pipe._atelier_img2img = cached
    return cached
