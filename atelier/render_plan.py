"""The sampler passes a recipe takes, without torch: what progress counts and what scheduling weighs.

A1111's modes as passes: txt2img is one pass from noise; img2img is one pass of
`int(steps * denoising_strength)` steps from the init image; hires fix is a txt2img pass, then a
pass at `hires_denoise` over `hires_steps` (0: the same steps) at the upscaled size.
"""

from __future__ import annotations

from dataclasses import dataclass

from atelier.recipe import Recipe


@dataclass(frozen=True)
class Pass:
    """One run of the sampler."""

    steps: int
    """Sampler steps requested; an img2img pass runs `int(steps * strength)` of them."""
    width: int
    height: int
    strength: float = 1.0
    hires: bool = False
    """The hires pass: its prompt schedule is A1111's hires schedule."""

    @property
    def steps_run(self) -> int:
        return self.steps if self.strength >= 1.0 else min(int(self.steps * self.strength), self.steps)


def passes_of(recipe: Recipe) -> list[Pass]:
    """The sampler passes a recipe needs, in order."""
    if recipe.denoising_strength is not None:
        return [Pass(recipe.steps, recipe.width, recipe.height, recipe.denoising_strength)]
    first = Pass(recipe.steps, recipe.width, recipe.height)
    if not recipe.hires:
        return [first]
    width, height = recipe.hires_size
    return [first, Pass(recipe.hires_steps or recipe.steps, width, height, recipe.hires_denoise, hires=True)]


def total_steps(recipe: Recipe) -> int:
    """Sampler steps of the whole render: what progress counts up to."""
    return max(1, sum(render_pass.steps_run for render_pass in passes_of(recipe)))


def work_units(recipe: Recipe, native_size: int) -> float:
    """How much sampling a recipe asks for, in steps of one image at the checkpoint's native size."""
    native_area = float(native_size * native_size)
    units = sum(p.steps_run * p.width * p.height / native_area for p in passes_of(recipe))
    return max(units, 1.0) * recipe.count


def batch_key(recipe: Recipe) -> tuple[object, ...] | None:
    """Jobs with equal keys can share one sampler call (cross-member batching); None for modes that
    cannot (img2img starts from each job's own image, hires runs a second pass per job)."""
    if recipe.denoising_strength is not None or recipe.hires:
        return None
    loras = tuple((lora.name, lora.weight, lora.unet_weight) for lora in recipe.loras)
    return (
        recipe.checkpoint, loras, recipe.width, recipe.height, recipe.steps, recipe.sampler,
        recipe.schedule_type, recipe.cfg_scale, recipe.clip_skip, recipe.emphasis,
    )  # fmt: skip
