"""A1111 sampler and schedule-type names: which ones Atelier renders, and how an old name splits.

Since A1111 1.9 the sampler and its noise schedule are two settings (`Sampler: DPM++ 2M, Schedule type:
Karras`); older infotext and API calls use one combined name (`DPM++ 2M Karras`). Both forms are accepted and
normalised to the pair. "Automatic" means the sampler's own default schedule, as in A1111 (tech notes §3):
Karras for DPM++ 2M and DPM++ SDE, Exponential for DPM++ 2M SDE, the checkpoint's schedule for the rest.

This module knows names only; `workers/engine.py` maps them onto diffusers schedulers. A schedule type the
diffusers scheduler cannot honour (Karras sigmas on Euler a, DDIM, PLMS, LCM) is refused, not ignored.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from atelier.errors import InvalidInput

AUTOMATIC = "Automatic"
KARRAS = "Karras"
EXPONENTIAL = "Exponential"
SGM_UNIFORM = "SGM Uniform"
SCHEDULE_TYPES = (AUTOMATIC, KARRAS, EXPONENTIAL, SGM_UNIFORM)
_SCHEDULE_ALIASES = {
    "automatic": AUTOMATIC,
    "karras": KARRAS,
    "exponential": EXPONENTIAL,
    "sgm uniform": SGM_UNIFORM,
    "sgm_uniform": SGM_UNIFORM,
}
_ALL_SIGMAS = (AUTOMATIC, KARRAS, EXPONENTIAL, SGM_UNIFORM)
_SPACING_ONLY = (AUTOMATIC, SGM_UNIFORM)


@dataclass(frozen=True)
class SamplerInfo:
    name: str
    schedule_types: tuple[str, ...]
    default_schedule: str | None = None
    """What "Automatic" means for this sampler; None: the checkpoint's own schedule."""
    requires: str | None = None
    """A Python module the worker's diffusers scheduler needs beyond the worker dependencies."""


SAMPLER_TABLE: tuple[SamplerInfo, ...] = (
    SamplerInfo("Euler a", _SPACING_ONLY),
    SamplerInfo("Euler", _ALL_SIGMAS),
    SamplerInfo("DPM++ 2M", _ALL_SIGMAS, KARRAS),
    SamplerInfo("DPM++ 2M SDE", _ALL_SIGMAS, EXPONENTIAL),
    SamplerInfo("DPM++ SDE", (AUTOMATIC, KARRAS, EXPONENTIAL), KARRAS, requires="torchsde"),
    SamplerInfo("DPM2", _ALL_SIGMAS),
    SamplerInfo("DPM2 a", _ALL_SIGMAS),
    SamplerInfo("Heun", _ALL_SIGMAS),
    SamplerInfo("LMS", _ALL_SIGMAS),
    SamplerInfo("DDIM", _SPACING_ONLY),
    SamplerInfo("PLMS", _SPACING_ONLY),
    SamplerInfo("UniPC", _ALL_SIGMAS),
    SamplerInfo("LCM", _SPACING_ONLY),
)
BY_NAME = {info.name: info for info in SAMPLER_TABLE}
DEFAULT_SAMPLER = "Euler a"


def _installed(module: str | None) -> bool:
    return module is None or importlib.util.find_spec(module) is not None


def supported_samplers() -> tuple[str, ...]:
    """Sampler names this installation renders (DPM++ SDE only where torchsde is installed)."""
    return tuple(info.name for info in SAMPLER_TABLE if _installed(info.requires))


def _schedule_label(text: str) -> str | None:
    return _SCHEDULE_ALIASES.get(text.strip().lower())


def split_sampler(name: str, schedule_type: str = "") -> tuple[str, str]:
    """Normalise (sampler, schedule type), accepting A1111's old combined names; raises `InvalidInput`."""
    name = " ".join(name.split())
    schedule = AUTOMATIC
    if schedule_type.strip():
        label = _schedule_label(schedule_type)
        if label is None:
            raise InvalidInput(
                "schedule_type", f"unknown schedule type {schedule_type!r}; choose one of {', '.join(SCHEDULE_TYPES)}"
            )
        schedule = label
    if name not in BY_NAME:
        for suffix in (KARRAS, EXPONENTIAL, SGM_UNIFORM):
            if name.lower().endswith(" " + suffix.lower()) and name[: -len(suffix) - 1] in BY_NAME:
                if schedule not in (AUTOMATIC, suffix):
                    raise InvalidInput("schedule_type", f"sampler {name!r} already names schedule type {suffix}")
                name, schedule = name[: -len(suffix) - 1], suffix
                break
    supported = supported_samplers()
    info = BY_NAME.get(name)
    if info is None:
        raise InvalidInput("sampler", f"unknown sampler {name!r}; choose one of {', '.join(supported)}")
    if name not in supported:
        raise InvalidInput(
            "sampler", f"{name} needs the {info.requires} package, which this installation lacks; "
            f"choose one of {', '.join(supported)}"
        )  # fmt: skip
    if schedule not in info.schedule_types:
        raise InvalidInput(
            "schedule_type",
            f"{name} cannot use the {schedule} schedule; choose one of {', '.join(info.schedule_types)}",
        )
    return name, schedule


def effective_schedule(sampler: str, schedule_type: str) -> str | None:
    """The schedule a render uses: "Automatic" resolved to the sampler's default (None: the checkpoint's)."""
    if schedule_type != AUTOMATIC:
        return schedule_type
    return BY_NAME[sampler].default_schedule
