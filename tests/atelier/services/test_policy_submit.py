"""Submit applies the studio's policies: the forced negative reaches every new job's recipe."""

from __future__ import annotations

from atelier.db import session_factory
from atelier.schema import JobSource
from atelier.services import jobs, policy
from atelier.settings import Settings


def test_submit_appends_the_forced_negative(registered: Settings) -> None:
    """A job submitted after /mod negative carries the forced text after the member's negative."""
    with session_factory(registered.database_url)() as session:
        policy.set_forced_negative(session, "blurry")
        data = {"prompt": "a red circle", "negative_prompt": "dogs"}
        job = jobs.submit(session, registered, data, source=JobSource.WEB)
        assert job.recipe["negative_prompt"] == "dogs, blurry"


def test_rerolled_recipe_keeps_one_copy(registered: Settings) -> None:
    """Resubmitting a stored recipe (reroll, remix) does not append the forced text again."""
    with session_factory(registered.database_url)() as session:
        policy.set_forced_negative(session, "blurry")
        first = jobs.submit(session, registered, {"prompt": "a red circle"}, source=JobSource.WEB)
        again = jobs.submit(session, registered, dict(first.recipe), source=JobSource.WEB)
        assert again.recipe["negative_prompt"] == "blurry"
