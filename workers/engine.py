"""The diffusers engine: load a checkpoint from the model store and pick the recipe's sampler.

Everything runs offline (HF_HUB_OFFLINE=1): single-file checkpoints load with the diffusers-layout
config folder that the store ships under `models/configs/<name>`, else the one for their base
(`models/configs/sd1`, `sd2` or `sdxl`), and diffusers folders load with `local_files_only`.
Rendering itself is `workers.render`.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    KDPM2AncestralDiscreteScheduler,
    KDPM2DiscreteScheduler,
    LCMScheduler,
    PNDMScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_lms_discrete import LMSDiscreteScheduler

from atelier.errors import ModelRefused
from atelier.model_arch import detect
from atelier.model_header import read_header
from atelier.samplers import EXPONENTIAL, KARRAS, SGM_UNIFORM, effective_schedule, split_sampler
from atelier.schema import ModelKind
from workers.batch_invariance import make_timestep_path_batch_invariant


class ExactLMSScheduler(LMSDiscreteScheduler):  # type: ignore[misc]
    """LMS without scipy: the coefficient integrates a Lagrange basis polynomial, which numpy does exactly.

    diffusers integrates it numerically with `scipy.integrate.quad`; scipy is not a worker dependency.
    """

    def get_lms_coefficient(self, order: int, t: int, current_order: int) -> float:
        sigmas = [float(s) for s in self.sigmas]
        basis = np.polynomial.Polynomial([1.0])
        for k in range(order):
            if k != current_order:
                denominator = sigmas[t - current_order] - sigmas[t - k]
                basis = basis * np.polynomial.Polynomial([-sigmas[t - k] / denominator, 1.0 / denominator])
        antiderivative = basis.integ()
        return float(antiderivative(sigmas[t + 1]) - antiderivative(sigmas[t]))


def _dpm_sde() -> Any:
    from diffusers.schedulers.scheduling_dpmsolver_sde import DPMSolverSDEScheduler  # needs torchsde

    return DPMSolverSDEScheduler


# A1111 sampler name -> (diffusers scheduler class, extra config); tech notes §3.
SCHEDULERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "Euler a": (EulerAncestralDiscreteScheduler, {}),
    "Euler": (EulerDiscreteScheduler, {}),
    "DPM++ 2M": (DPMSolverMultistepScheduler, {}),
    "DPM++ 2M SDE": (DPMSolverMultistepScheduler, {"algorithm_type": "sde-dpmsolver++"}),
    "DPM++ SDE": (_dpm_sde, {}),
    "DPM2": (KDPM2DiscreteScheduler, {}),
    "DPM2 a": (KDPM2AncestralDiscreteScheduler, {}),
    "Heun": (HeunDiscreteScheduler, {}),
    "LMS": (ExactLMSScheduler, {}),
    "DDIM": (DDIMScheduler, {}),
    "PLMS": (PNDMScheduler, {"skip_prk_steps": True}),
    "UniPC": (UniPCMultistepScheduler, {}),
    "LCM": (LCMScheduler, {}),
}
SCHEDULE_OPTIONS: dict[str, dict[str, Any]] = {
    KARRAS: {"use_karras_sigmas": True},
    EXPONENTIAL: {"use_exponential_sigmas": True, "timestep_spacing": "linspace"},
    SGM_UNIFORM: {"timestep_spacing": "trailing"},
}


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


# The pipeline class for each base; SD2 shares SD1's pipeline (only the configs differ).
PIPELINES: dict[str, Any] = {
    "sd1": StableDiffusionPipeline,
    "sd2": StableDiffusionPipeline,
    "sdxl": StableDiffusionXLPipeline,
}
FOLDER_PIPELINES: dict[str, Any] = {cls.__name__: cls for cls in (StableDiffusionPipeline, StableDiffusionXLPipeline)}


def config_dir_for(models_dir: Path, checkpoint_file: Path, base_arch: str = "sd1") -> Path:
    """The offline config folder for a single-file checkpoint: its own (`configs/<stem>/`), else the
    shipped one for its base (`configs/sd1/`, `configs/sd2/` or `configs/sdxl/`)."""
    for candidate in (models_dir / "configs" / checkpoint_file.stem, models_dir / "configs" / base_arch):
        if (candidate / "model_index.json").is_file():
            return candidate
    raise ModelNotLoadable(
        f"{checkpoint_file.name}: no config folder in {models_dir / 'configs'} "
        f"(expected {checkpoint_file.stem}/ or {base_arch}/ with model_index.json)"
    )


def checkpoint_arch(path: Path) -> str:
    """A single-file checkpoint's base (sd1, sd2, sdxl), read from its safetensors header alone."""
    try:
        return detect(read_header(path), path.name, ModelKind.CHECKPOINT, {}).arch
    except ModelRefused as refused:
        raise ModelNotLoadable(refused.message) from refused


def folder_pipeline_class(folder: Path) -> Any:
    """The pipeline class a diffusers folder names in model_index.json's `_class_name`."""
    try:
        name = json.loads((folder / "model_index.json").read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError) as error:
        raise ModelNotLoadable(f"{folder.name}: a diffusers folder without a readable model_index.json") from error
    if name not in FOLDER_PIPELINES:
        loadable = " and ".join(FOLDER_PIPELINES)
        raise ModelNotLoadable(f"{folder.name}: pipeline class {name!r}; the workers load {loadable}")
    return FOLDER_PIPELINES[name]


def load_pipeline(path: Path, models_dir: Path, device: str, base_arch: str | None = None) -> Any:
    """Load a checkpoint offline: a diffusers folder with the class its model_index.json names, a
    single `.safetensors` file with the pipeline and config folder of its base (`base_arch`, or read
    from the file's header when not given)."""
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    if path.is_dir():
        pipeline_class = folder_pipeline_class(path)
        no_checker = {"safety_checker": None, "requires_safety_checker": False}
        extra = no_checker if pipeline_class is StableDiffusionPipeline else {}  # SDXL has no safety checker
        pipe = pipeline_class.from_pretrained(path, local_files_only=True, torch_dtype=dtype, **extra)
    elif path.suffix == ".safetensors":
        arch = base_arch or checkpoint_arch(path)
        if arch not in PIPELINES:
            raise ModelNotLoadable(f"{path.name}: base {arch!r}; the workers load {', '.join(PIPELINES)}")
        pipe = PIPELINES[arch].from_single_file(
            path, config=str(config_dir_for(models_dir, path, arch)), local_files_only=True, torch_dtype=dtype
        )
    else:
        raise ModelNotLoadable(f"{path.name}: only .safetensors files and diffusers folders are loaded")
    pipe.set_progress_bar_config(disable=True)
    make_timestep_path_batch_invariant(pipe.unet)
    return pipe.to(device)


def scheduler_for(config: Any, sampler: str, schedule_type: str = "Automatic") -> Any:
    """A diffusers scheduler for an A1111 sampler + schedule type, built on the checkpoint's config."""
    sampler, schedule_type = split_sampler(sampler, schedule_type)
    factory, extra = SCHEDULERS[sampler]
    scheduler_class = factory() if factory is _dpm_sde else factory
    options: dict[str, Any] = dict(extra)
    schedule = effective_schedule(sampler, schedule_type)
    if schedule is not None:
        options.update(SCHEDULE_OPTIONS[schedule])
    accepted = inspect.signature(scheduler_class.__init__).parameters
    refused = sorted(set(options) - set(accepted))
    if refused:  # atelier.samplers only offers schedule types the scheduler has options for
        raise ValueError(f"{scheduler_class.__name__} has no option {', '.join(refused)}")
    cannot_rescale = "rescale_betas_zero_snr" not in accepted and "trained_betas" in accepted
    if config.get("rescale_betas_zero_snr") and cannot_rescale:
        options["trained_betas"] = zero_terminal_snr_betas(config)
    return scheduler_class.from_config(config, **options)


def zero_terminal_snr_betas(config: Any) -> list[float]:
    """The betas of a zero-terminal-SNR checkpoint, for schedulers that cannot rescale their own.

    Such a model (trained with `rescale_betas_zero_snr`, e.g. the bundled one) expects its first step at pure
    noise; DDIM, Euler, DPM-Solver and UniPC rescale from the config, while Heun, DPM2, LMS, PLMS and DPM++ SDE
    would silently sample on the unrescaled schedule. Given these betas they sample what the model learnt. The
    final cumulative alpha is 2**-24 rather than 0, as diffusers' Euler does, so sigma-based samplers get a
    finite (4096) largest sigma.
    """
    alphas_cumprod = DDPMScheduler.from_config(config).alphas_cumprod.to(torch.float64).clone()
    alphas_cumprod[-1] = 2.0**-24
    previous = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    return (1.0 - alphas_cumprod / previous).tolist()


def set_sampler(pipe: StableDiffusionPipeline, sampler: str, schedule_type: str = "Automatic") -> None:
    """Swap the scheduler, always starting from the checkpoint's own config: a previous recipe's
    Karras sigmas or SDE algorithm must not leak into the next one."""
    base = getattr(pipe, "_atelier_scheduler_config", None)
    if base is None:
        base = pipe.scheduler.config
        pipe._atelier_scheduler_config = base
    pipe.scheduler = scheduler_for(base, sampler, schedule_type)
