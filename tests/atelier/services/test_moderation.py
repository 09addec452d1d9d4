"""Banned terms: whole words through A1111 syntax, refused at submit with the rule and the position."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import Forbidden, InvalidInput, NotFound
from atelier.schema import Job, JobSource, Role, User
from atelier.services import jobs, moderation
from atelier.settings import Settings


@pytest.fixture
def session(registered: Settings) -> Session:
    return session_factory(registered.database_url)()


@pytest.mark.parametrize(
    "prompt", ["a gore scene", "(gore:1.3), red", "[gore]", "GORE", "a [red:gore:5] circle", "blood,gore"]
)
def test_banned_word_is_found_through_prompt_syntax(session: Session, prompt: str) -> None:
    moderation.ban(session, "gore", "no gore, see #rules")
    match = moderation.find_banned(session, prompt)
    assert match is not None and prompt.lower()[match.position : match.position + 4] == "gore"


@pytest.mark.parametrize("prompt", ["gorey", "a gorge", "ogre", ""])
def test_other_words_pass(session: Session, prompt: str) -> None:
    moderation.ban(session, "gore", "no gore")
    assert moderation.find_banned(session, prompt) is None


def test_phrases_match_across_spaces_and_syntax(session: Session) -> None:
    moderation.ban(session, "Real  Person", "no real people")
    assert moderation.banned_terms(session)[0].term == "real person"
    assert moderation.find_banned(session, "a (real:1.2) person") is not None
    assert moderation.find_banned(session, "a real, happy person") is None


def test_submit_refuses_with_the_rule_and_writes_nothing(session: Session, registered: Settings) -> None:
    moderation.ban(session, "gore", "no gore, see #rules")
    with pytest.raises(InvalidInput) as caught:
        jobs.submit(session, registered, {"prompt": "a red circle, (gore:1.2)"}, source=JobSource.WEB)
    assert caught.value.field == "prompt"
    assert "'gore' is not allowed here: no gore, see #rules (at character 16" in caught.value.message
    assert session.query(Job).count() == 0


def test_negative_prompts_may_name_banned_terms(session: Session, registered: Settings) -> None:
    """Keeping something out is what a negative prompt is for."""
    moderation.ban(session, "gore", "no gore")
    assert jobs.submit(session, registered, {"prompt": "a circle", "negative_prompt": "gore"}, source=JobSource.WEB)


def test_only_moderators_change_the_list(session: Session) -> None:
    member, moderator = User(name="m"), User(name="mod", role=Role.MODERATOR)
    session.add_all([member, moderator])
    session.commit()
    with pytest.raises(Forbidden):
        moderation.ban(session, "gore", "x", actor=member)
    moderation.ban(session, "gore", "x", actor=moderator)
    with pytest.raises(Forbidden):
        moderation.unban(session, "gore", actor=member)
    moderation.unban(session, "gore", actor=moderator)
    with pytest.raises(NotFound):
        moderation.unban(session, "gore", actor=moderator)
