"""`POST /api/prompt/check`: the live prompt check of the draw form, the same one the bot and the CLI use.

It changes nothing (a POST only because prompts can be long), answers in one response every problem
of both fields with its position, and A1111's token counts per 75-token chunk from the chosen
checkpoint's tokenizer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from atelier.prompt.check import review_prompt
from atelier.recipe import STEPS_RANGE, checkpoint_name
from atelier.services.models import resolve_checkpoint
from gallery.deps import JsonDep, SessionDep, SettingsDep

router = APIRouter()


def _steps(raw: Any) -> int:
    try:
        steps = int(raw)
    except (TypeError, ValueError):
        return 20
    return min(max(steps, STEPS_RANGE[0]), STEPS_RANGE[1])  # only schedules depend on it; a bad value is the form's


@router.post("/api/prompt/check")
def check(data: JsonDep, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    checkpoint = resolve_checkpoint(session, checkpoint_name(data))
    prompt, negative = str(data.get("prompt") or ""), str(data.get("negative_prompt") or "")
    review = review_prompt(
        session, prompt, negative, steps=_steps(data.get("steps")), checkpoint=checkpoint,
        models_dir=settings.paths.models_dir,
    )  # fmt: skip
    return review.to_json()
