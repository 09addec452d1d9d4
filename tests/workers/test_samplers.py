"""Every A1111 sampler and schedule type renders on the tiny pipeline with the right diffusers scheduler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from atelier.recipe import Recipe
from atelier.samplers import SAMPLER_TABLE, supported_samplers
from tests.helpers.tiny_model import build_tiny_pipeline
from workers import engine, render

CASES = [(info.name, schedule) for info in SAMPLER_TABLE for schedule in info.schedule_types]


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from diffusers import StableDiffusionPipeline

    folder = build_tiny_pipeline(tmp_path_factory.mktemp("tiny"))
    loaded = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True, safety_checker=None)
    loaded.set_progress_bar_config(disable=True)
    return loaded


@pytest.mark.parametrize(("sampler", "schedule"), CASES)
def test_sampler_renders_a_few_steps(pipe: Any, sampler: str, schedule: str) -> None:
    """Each sampler x schedule type renders 3 steps to a finite image."""
    if sampler not in supported_samplers():
        pytest.skip(f"{sampler} needs a package this installation lacks")
    recipe = Recipe(prompt="red", sampler=sampler, schedule_type=schedule, steps=3, width=64, height=64, seed=1)
    (image,) = render.render(pipe, recipe)
    assert image.size == (64, 64) and np.isfinite(np.asarray(image, dtype=float)).all()


def test_schedule_options_reach_the_scheduler(pipe: Any) -> None:
    """Karras, Exponential, SGM Uniform and the SDE algorithm become the documented diffusers options."""
    engine.set_sampler(pipe, "DPM++ 2M Karras")
    assert pipe.scheduler.config.use_karras_sigmas is True
    engine.set_sampler(pipe, "DPM++ 2M SDE", "Automatic")
    config = pipe.scheduler.config
    assert (config.algorithm_type, config.use_exponential_sigmas, config.use_karras_sigmas) == (
        "sde-dpmsolver++",
        True,
        False,
    )
    engine.set_sampler(pipe, "Euler", "SGM Uniform")
    assert pipe.scheduler.config.timestep_spacing == "trailing"


def test_previous_sampler_options_do_not_leak(pipe: Any) -> None:
    """Switching from DPM++ 2M SDE Karras to plain Euler starts again from the checkpoint's config."""
    engine.set_sampler(pipe, "DPM++ 2M SDE", "Karras")
    engine.set_sampler(pipe, "DPM++ 2M", "SGM Uniform")
    config = pipe.scheduler.config
    assert (config.algorithm_type, config.use_karras_sigmas) == ("dpmsolver++", False)


ZERO_TERMINAL_SNR = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "timestep_spacing": "trailing",
}


@pytest.mark.parametrize("sampler", [info.name for info in SAMPLER_TABLE if info.name in supported_samplers()])
def test_every_sampler_starts_a_zero_terminal_snr_model_at_pure_noise(sampler: str) -> None:
    """A checkpoint trained at zero terminal SNR is sampled on the schedule it was trained on by every sampler,
    also by those whose diffusers scheduler cannot rescale betas itself (SD1's schedule ends at alpha-bar 0.0047)."""
    from diffusers import DDPMScheduler

    trained = DDPMScheduler.from_config(ZERO_TERMINAL_SNR).alphas_cumprod
    scheduler = engine.scheduler_for(ZERO_TERMINAL_SNR, sampler)
    assert float(scheduler.alphas_cumprod[-1]) < 1e-6
    assert torch.allclose(scheduler.alphas_cumprod[:-1].double(), trained[:-1].double(), rtol=1e-5)


def test_lms_coefficients_match_numeric_integration(tmp_path: Path) -> None:
    """The scipy-free LMS coefficient equals a fine numeric integral of the Lagrange basis."""
    scheduler = engine.ExactLMSScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    scheduler.set_timesteps(10)
    sigmas = [float(s) for s in scheduler.sigmas]
    t, order = 5, 4
    for current in range(order):
        grid = np.linspace(sigmas[t], sigmas[t + 1], 20001)
        values = np.ones_like(grid)
        for k in range(order):
            if k != current:
                values *= (grid - sigmas[t - k]) / (sigmas[t - current] - sigmas[t - k])
        numeric = float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(grid)))
        assert scheduler.get_lms_coefficient(order, t, current) == pytest.approx(numeric, rel=1e-6, abs=1e-9)
