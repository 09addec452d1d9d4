"""The diffusers engine: load a checkpoint from the model store and render a recipe.

Everything runs offline (HF_HUB_OFFLINE=1): single-file checkpoints load with the diffusers-layout
config folder that the store ships under `models/configs/<name>` (or `models/configs/sd1`), and
diffusers folders load with `local_files_only`. Noise comes from CPU generators seeded per image,
so a recipe re-renders bit-identically on the same hardware and image i of a batch equals a single
render with seed + i.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    LMSDiscreteScheduler,
    StableDiffusionPipeline,
    UniPCMultistepScheduler,
)
from PIL import Image

from atelier.recipe import Recipe
from workers.prompt_encoding import encode_for_pipeline

# A1111 sampler name -> (diffusers scheduler class, extra config).
SCHEDULERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "Euler a": (EulerAncestralDiscreteScheduler, {}),
    "Euler": (EulerDiscreteScheduler, {}),
    "DDIM": (DDIMScheduler, {}),
    "DPM++ 2M": (DPMSolverMultistepScheduler, {}),
    "DPM++ 2M Karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
    "Heun": (HeunDiscreteScheduler, {}),
    "LMS": (LMSDiscreteScheduler, {}),
    "UniPC": (UniPCMultistepScheduler, {}),
}

StepCallback = Callable[[int, int], bool]
"""Called after each step with (step, total); returning False interrupts the render."""


class ModelNotLoadable(Exception):
    """The store's file for a checkpoint is missing or in a form the engine cannot load."""


def set_cpu_threads(requested: int) -> int:
    """Give torch `requested` threads (0: all cores but one) and return how many it uses."""
    threads = requested if requested > 0 else max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)
    return threads


def pick_device(preference: str = "auto") -> str:
    if preference != "auto":
        return preference
    return "cuda" if torch.cuda.is_available() else "cpu"


def config_dir_for(models_dir: Path, checkpoint_file: Path) -> Path:
    """The offline config folder for a single-file checkpoint: its own, else the SD1 default."""
    for candidate in (models_dir / "configs" / checkpoint_file.stem, models_dir / "configs" / "sd1"):
        if (candidate / "model_index.json").is_file():
            return candidate
    raise ModelNotLoadable(
        f"{checkpoint_file.name}: no config folder in {models_dir / 'configs'} "
        f"(expected {checkpoint_file.stem}/ or sd1/ with model_index.json)"
    )


def load_pipeline(path: Path, models_dir: Path, device: str) -> StableDiffusionPipeline:
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    if path.is_dir():
        pipe = StableDiffusionPipeline.from_pretrained(
            path, local_files_only=True, torch_dtype=dtype, safety_checker=None, requires_safety_checker=False
        )
    elif path.suffix == ".safetensors":
        pipe = StableDiffusionPipeline.from_single_file(
            path, config=str(config_dir_for(models_dir, path)), local_files_only=True, torch_dtype=dtype
        )
    else:
        raise ModelNotLoadable(f"{path.name}: only .safetensors files and diffusers folders are loaded")
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


class PipelineCache:
    """Keeps the most recently used pipelines in memory so a run of jobs on one model loads it once."""

    def __init__(self, models_dir: Path, device: str, capacity: int = 2) -> None:
        self.models_dir = models_dir
        self.device = device
        self.capacity = capacity
        self._pipes: OrderedDict[Path, StableDiffusionPipeline] = OrderedDict()

    def get(self, relative_path: str) -> StableDiffusionPipeline:
        path = (self.models_dir / relative_path).resolve()
        if not path.is_relative_to(self.models_dir.resolve()) or not path.exists():
            raise ModelNotLoadable(f"{relative_path}: not found in the model store")
        if path in self._pipes:
            self._pipes.move_to_end(path)
            return self._pipes[path]
        pipe = load_pipeline(path, self.models_dir, self.device)
        self._pipes[path] = pipe
        while len(self._pipes) > self.capacity:
            self._pipes.popitem(last=False)
        return pipe

    def warm(self) -> list[str]:
        return [str(p.relative_to(self.models_dir.resolve())) for p in self._pipes]


def set_sampler(pipe: StableDiffusionPipeline, sampler: str) -> None:
    scheduler_class, extra = SCHEDULERS[sampler]
    pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config, **extra)


def render(pipe: StableDiffusionPipeline, recipe: Recipe, on_step: StepCallback | None = None) -> list[Image.Image]:
    """Render every image of the recipe; raises `InterruptedError` when `on_step` stops it."""
    set_sampler(pipe, recipe.sampler)
    seeds = recipe.seeds()
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    interrupted = False
    conditioning = encode_for_pipeline(pipe, recipe.prompt, recipe.negative_prompt, recipe.steps, batch=len(seeds))

    def step_end(pipeline: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        nonlocal interrupted
        tensors = conditioning.step_end(pipeline, step, tensors)
        if on_step is not None and not on_step(step + 1, recipe.steps):
            interrupted = True
            pipeline._interrupt = True
        return tensors

    result = pipe(
        prompt_embeds=conditioning.prompt_embeds,
        negative_prompt_embeds=conditioning.negative_prompt_embeds,
        num_inference_steps=recipe.steps,
        guidance_scale=recipe.cfg_scale,
        width=recipe.width,
        height=recipe.height,
        generator=generators,
        callback_on_step_end=step_end,
        callback_on_step_end_tensor_inputs=["latents", *conditioning.tensor_inputs],
    )
    if interrupted:
        raise InterruptedError("render stopped")
    images: list[Image.Image] = result.images
    return images
