"""Studio policies moderators set for every job: for now, a forced negative prompt.

`with_policies` is the hook `atelier.services.jobs.submit` calls on the submitted data before it
parses anything, so every door (Discord, gallery, CLI, derived jobs) gets the same rules and the
stored recipe shows what was rendered. It is idempotent: a reroll or remix of a recipe that already
ends with the forced negative does not get it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from atelier.errors import InvalidInput
from atelier.schema import Policy, User
from atelier.services import audit

FORCED_NEGATIVE = "forced_negative"
MAX_FORCED_NEGATIVE_CHARS = 500


def forced_negative(session: Session) -> str:
    row = session.get(Policy, FORCED_NEGATIVE)
    return row.value if row is not None else ""


def set_forced_negative(session: Session, text: str, actor: User | None = None) -> str:
    """Set (or with "" clear) the text appended to every job's negative prompt; returns it."""
    audit.require_moderator(actor, "set the forced negative prompt")
    text = " ".join(text.split())
    if len(text) > MAX_FORCED_NEGATIVE_CHARS:
        raise InvalidInput("negative", f"is {len(text)} characters long; the limit is {MAX_FORCED_NEGATIVE_CHARS}")
    row = session.get(Policy, FORCED_NEGATIVE)
    if row is None:
        row = Policy(name=FORCED_NEGATIVE, value=text)
        session.add(row)
    row.value = text
    row.updated_by_id = actor.id if actor is not None else None
    row.updated_at = datetime.now(UTC)
    audit.record(session, actor, "negative.set" if text else "negative.clear", "forced negative", text)
    session.commit()
    return text


def append_negative(negative: str, forced: str) -> str:
    """The member's negative prompt with the forced text after it (A1111 reads `, ` as a separator)."""
    negative = negative.strip()
    if not forced or forced in negative:
        return negative
    return f"{negative}, {forced}" if negative else forced


def with_policies(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """The submitted recipe data with the studio's policies applied (called by `jobs.submit`)."""
    result = dict(data)
    forced = forced_negative(session)
    if forced:
        result["negative_prompt"] = append_negative(str(result.get("negative_prompt") or ""), forced)
    return result
