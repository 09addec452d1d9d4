"""The draw form: its default values, its choices, and how an error lands next to its field.

Defaults follow the default checkpoint's native size (detected at import and stored with the
model), because the bundled tiny model renders 64x64 natively and a 512x512 default would make a
first-time user's render slow and smeared, while an SDXL checkpoint wants 1024.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from atelier.errors import InvalidInput
from atelier.recipe import CFG_RANGE, DEFAULT_SAMPLER, MAX_IMAGES, SAMPLERS, SIZE_RANGE, STEPS_RANGE
from atelier.schema import ModelFile
from atelier.services.models import default_of, enabled_checkpoints
from gallery.deps import RECIPE_FIELDS

# The size offered when no checkpoint is registered yet (SD1's native edge).
DEFAULT_SIZE = 512


@dataclass
class DrawForm:
    """What the template needs: values to show, choices, and errors keyed by field."""

    values: dict[str, str]
    checkpoints: list[tuple[str, int]]
    samplers: tuple[str, ...] = SAMPLERS
    errors: dict[str, str] = field(default_factory=dict)
    general_error: str = ""
    limits: dict[str, Any] = field(
        default_factory=lambda: {
            "steps": STEPS_RANGE,
            "cfg_scale": CFG_RANGE,
            "size": SIZE_RANGE,
            "count": (1, MAX_IMAGES),
        }
    )


def default_values(checkpoints: list[ModelFile]) -> dict[str, str]:
    """The form's values before the user types, from the enabled checkpoints (one query serves the whole form)."""
    model = default_of(checkpoints)
    size = str(model.native_size if model else DEFAULT_SIZE)
    return {
        "prompt": "",
        "negative_prompt": "",
        "checkpoint": model.name if model else "",
        "sampler": DEFAULT_SAMPLER,
        "steps": "20",
        "cfg_scale": "7",
        "width": size,
        "height": size,
        "seed": "-1",
        "count": "1",
        "init_image": "",
        "denoising_strength": "",
    }


def build_form(
    session: Session,
    submitted: Mapping[str, str] | None = None,
    error: InvalidInput | None = None,
) -> DrawForm:
    """The form with defaults, overlaid with what the user sent, and the error if there is one."""
    enabled = enabled_checkpoints(session)
    values = default_values(enabled)
    for name in RECIPE_FIELDS:
        if submitted and name in submitted:
            values[name] = submitted[name]
    form = DrawForm(values=values, checkpoints=[(model.name, model.native_size) for model in enabled])
    if error is not None:
        if error.field in RECIPE_FIELDS:
            form.errors[error.field] = error.reason
        else:
            form.general_error = error.message
    return form
