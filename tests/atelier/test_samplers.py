"""A1111 sampler and schedule-type names: accepted forms, splitting, refusals."""

from __future__ import annotations

import pytest

from atelier.errors import InvalidInput
from atelier.samplers import effective_schedule, split_sampler, supported_samplers


@pytest.mark.parametrize(
    ("name", "schedule", "expected"),
    [
        ("DPM++ 2M Karras", "", ("DPM++ 2M", "Karras")),
        ("DPM++ 2M SDE Exponential", "", ("DPM++ 2M SDE", "Exponential")),
        ("Euler SGM Uniform", "", ("Euler", "SGM Uniform")),
        ("DPM++ 2M", "karras", ("DPM++ 2M", "Karras")),
        ("Euler a", "", ("Euler a", "Automatic")),
        ("DPM++ 2M Karras", "Karras", ("DPM++ 2M", "Karras")),
    ],
)
def test_old_combined_names_split(name: str, schedule: str, expected: tuple[str, str]) -> None:
    """'DPM++ 2M Karras' and the 1.9+ pair both normalise to (sampler, schedule type)."""
    assert split_sampler(name, schedule) == expected


def test_unknown_sampler_lists_the_supported_ones() -> None:
    """An unknown name is refused with every sampler this installation renders."""
    with pytest.raises(InvalidInput) as caught:
        split_sampler("Warp drive")
    assert caught.value.field == "sampler"
    assert all(name in caught.value.reason for name in supported_samplers())


@pytest.mark.parametrize(("name", "schedule"), [("Euler a", "Karras"), ("DDIM", "Exponential"), ("Euler", "Beta")])
def test_schedule_the_scheduler_cannot_honour_is_refused(name: str, schedule: str) -> None:
    """A schedule type diffusers has no option for on that sampler is refused, never ignored."""
    with pytest.raises(InvalidInput) as caught:
        split_sampler(name, schedule)
    assert caught.value.field == "schedule_type"


def test_dpm_sde_is_refused_without_torchsde(monkeypatch: pytest.MonkeyPatch) -> None:
    """DPM++ SDE needs torchsde; where it is missing the sampler is refused by name."""
    monkeypatch.setattr("atelier.samplers._installed", lambda module: module is None)
    with pytest.raises(InvalidInput, match="torchsde"):
        split_sampler("DPM++ SDE Karras")


def test_automatic_means_the_samplers_a1111_default() -> None:
    """Automatic is Karras for DPM++ 2M, Exponential for DPM++ 2M SDE, the checkpoint's own for Euler."""
    assert effective_schedule("DPM++ 2M", "Automatic") == "Karras"
    assert effective_schedule("DPM++ 2M SDE", "Automatic") == "Exponential"
    assert effective_schedule("Euler", "Automatic") is None
    assert effective_schedule("Euler", "SGM Uniform") == "SGM Uniform"
