"""Moderation rules shared by the bot, the gallery and the CLI: banned terms in prompts.

A banned term is a word or phrase matched as whole words, case-insensitively, in the prompt with
A1111's syntax characters and weights read as spaces: `(nsfw:1.3)`, `[nsfw]` and `nsfw,` all
contain the word `nsfw`, while `unsfwx` does not. Replacing each such character by one space keeps
every character's position, so a refusal can point at the place in what the member typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from atelier.errors import InvalidInput, NotFound
from atelier.schema import BannedTerm, User
from atelier.services import audit

WEIGHT = re.compile(r":\s*[-+]?(?:\d+\.?\d*|\.\d+)")
"""A1111 weights and editing steps (`:1.3`, `:0.5`, `:10`), blanked so `(real:1.2) person` reads as a phrase."""
SYNTAX = str.maketrans(dict.fromkeys("()[]{}<>:|,;.!?\"'\\/_+=*&^%$#@~`", " "))
MAX_TERM_CHARS = 200


def normalise(term: str) -> str:
    """Lower case, syntax characters as spaces, single spaces: how terms are stored and compared."""
    return " ".join(term.lower().translate(SYNTAX).split())


@dataclass(frozen=True)
class Match:
    term: str
    reason: str
    position: int


def _pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in term.split(" ")]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def find_banned(session: Session, text: str) -> Match | None:
    """The first banned term in `text` (by position), or None."""
    if not text:
        return None
    unweighted = WEIGHT.sub(lambda number: " " * len(number.group()), text.lower())
    searchable = unweighted.translate(SYNTAX)
    found: list[Match] = []
    for rule in session.scalars(select(BannedTerm)):
        hit = _pattern(rule.term).search(searchable)
        if hit is not None:
            found.append(Match(rule.term, rule.reason, hit.start()))
    return min(found, key=lambda match: match.position) if found else None


def _require_moderator(actor: User | None) -> None:
    audit.require_moderator(actor, "manage banned terms")


def ban(session: Session, term: str, reason: str, actor: User | None = None) -> BannedTerm:
    """Add a banned term (`actor` None: the machine's operator, through the CLI)."""
    _require_moderator(actor)
    normalised = normalise(term)
    if not normalised:
        raise InvalidInput("term", "must contain a word")
    if len(normalised) > MAX_TERM_CHARS:
        raise InvalidInput("term", f"is {len(normalised)} characters long; the limit is {MAX_TERM_CHARS}")
    reason = reason.strip() or "this community's rules"
    existing = session.scalar(select(BannedTerm).where(BannedTerm.term == normalised))
    audit.record(session, actor, "ban.add", normalised, reason[:300])
    if existing is not None:
        existing.reason = reason[:300]
        session.commit()
        return existing
    rule = BannedTerm(term=normalised, reason=reason[:300], created_by_id=actor.id if actor else None)
    session.add(rule)
    session.commit()
    return rule


def unban(session: Session, term: str, actor: User | None = None) -> None:
    _require_moderator(actor)
    result = session.execute(delete(BannedTerm).where(BannedTerm.term == normalise(term)))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.rollback()
        raise NotFound(f"{normalise(term)!r} is not a banned term")
    audit.record(session, actor, "ban.remove", normalise(term))
    session.commit()


def banned_terms(session: Session) -> list[BannedTerm]:
    return list(session.scalars(select(BannedTerm).order_by(BannedTerm.term)))
