"""The sampler passes of each render mode, and the work they weigh."""

from __future__ import annotations

from atelier.recipe import Recipe
from atelier.render_plan import Pass, passes_of, total_steps, work_units

BASE = Recipe(prompt="a red circle", steps=20, width=64, height=64, seed=1)


def test_txt2img_is_one_full_pass() -> None:
    assert passes_of(BASE) == [Pass(20, 64, 64)]


def test_img2img_runs_the_denoised_share_of_its_steps() -> None:
    """As in A1111: 20 steps at denoise 0.45 run int(9.0) = 9 steps."""
    recipe = Recipe(**{**BASE.to_json(), "denoising_strength": 0.45, "init_image": "1"})
    assert total_steps(recipe) == 9


def test_hires_adds_a_pass_at_the_upscaled_size() -> None:
    recipe = Recipe(**{**BASE.to_json(), "hires": True, "hires_scale": 2.0, "hires_denoise": 0.5, "hires_steps": 10})
    _, second = passes_of(recipe)
    assert (second.width, second.height, second.hires) == (128, 128, True)
    assert total_steps(recipe) == 20 + 5


def test_work_weighs_size_and_count() -> None:
    """Twice the edge is four times the work; each image of a batch counts."""
    big = Recipe(**{**BASE.to_json(), "width": 128, "height": 128, "count": 2})
    assert work_units(big, 64) == 8 * work_units(BASE, 64)
