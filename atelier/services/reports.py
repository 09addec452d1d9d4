"""Members reporting images, and the moderators' queue of those reports.

A report is a member's note that an image breaks the community's rules. One row per member and
image: reporting again rewrites the reason (and puts a closed report back in the queue) instead of
piling up rows, so a count of open reports is a count of members. A moderator settles every open
report on an image at once, because the decision is about the image, not about each report: hiding
it resolves them all, dismissing leaves the image up and closes them all. Both are audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from atelier.errors import InvalidInput, NotFound
from atelier.schema import Image, Report, ReportState, User
from atelier.services import audit
from atelier.services.removal import mark_hidden

MAX_REASON_CHARS = 500
FIELD = "reason"


@dataclass(frozen=True)
class ReportedImage:
    """One image in the queue with its open reports, oldest first."""

    image: Image
    reports: Sequence[Report]

    @property
    def count(self) -> int:
        return len(self.reports)

    @property
    def first_id(self) -> int:
        """The report a moderator's decision is posted against (it settles all of them)."""
        return self.reports[0].id


def _checked_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidInput(FIELD, "say what is wrong with this image (1 to 500 characters)")
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInput(FIELD, f"is {len(text)} characters long; the limit is {MAX_REASON_CHARS}")
    return text


def report(session: Session, reporter_id: int, image_id: int, reason: str) -> Report:
    """File (or rewrite and reopen) `reporter_id`'s report on a visible image; returns it."""
    text = _checked_reason(reason)
    image = session.get(Image, image_id)
    if image is None or image.hidden:  # a hidden image is already out of the gallery
        raise NotFound(f"image {image_id} does not exist")
    if session.get(User, reporter_id) is None:
        raise NotFound(f"member {reporter_id} does not exist")
    for _ in range(2):  # a second try when a double-click inserted the row between our read and write
        existing = session.scalar(select(Report).where(Report.image_id == image_id, Report.reporter_id == reporter_id))
        if existing is not None:
            if existing.state is not ReportState.OPEN:
                existing.created_at = datetime.now(UTC)  # back in the queue, at the back
            existing.reason = text
            existing.state = ReportState.OPEN
            existing.resolved_by_id = None
            existing.resolved_at = None
            session.commit()
            return existing
        row = Report(image_id=image_id, reporter_id=reporter_id, reason=text, state=ReportState.OPEN)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        return row
    raise NotFound(f"image {image_id} does not exist")  # pragma: no cover - the row vanished twice


def open_reports(session: Session) -> list[ReportedImage]:
    """The queue: images with open reports, the one reported longest ago first."""
    query = (
        select(Report)
        .options(joinedload(Report.image).joinedload(Image.job), joinedload(Report.reporter))
        .where(Report.state == ReportState.OPEN)
        .order_by(Report.created_at, Report.id)
    )
    grouped: dict[int, list[Report]] = {}
    for row in session.scalars(query):
        grouped.setdefault(row.image_id, []).append(row)
    return [ReportedImage(rows[0].image, rows) for rows in grouped.values()]


def open_count(session: Session) -> int:
    """How many reports wait for a moderator."""
    query = select(func.count()).select_from(Report).where(Report.state == ReportState.OPEN)
    return int(session.scalar(query) or 0)


def resolve(session: Session, actor: User | None, report_id: int, hide: bool) -> int:
    """Settle the open reports on the image `report_id` is about: hide the image (resolved) or leave it
    up (dismissed). Returns the image's id. `actor` None is the operator (the CLI)."""
    audit.require_moderator(actor, "settle reports")
    row = session.get(Report, report_id)
    if row is None:
        raise NotFound(f"report {report_id} does not exist")
    if row.state is not ReportState.OPEN:
        raise InvalidInput("report", f"report {report_id} is already {row.state.value}; nothing to do")
    if hide:
        mark_hidden(session, row.image_id, True, actor)
    now = datetime.now(UTC)
    settled = list(
        session.scalars(select(Report).where(Report.image_id == row.image_id, Report.state == ReportState.OPEN))
    )
    for each in settled:
        each.state = ReportState.RESOLVED if hide else ReportState.DISMISSED
        each.resolved_by_id = actor.id if actor else None
        each.resolved_at = now
    count = len(settled)
    action = "report.resolve" if hide else "report.dismiss"
    outcome = "image hidden" if hide else "image left up"
    audit.record(session, actor, action, f"image {row.image_id}", f"{count} open report(s) closed; {outcome}")
    session.commit()
    return row.image_id
