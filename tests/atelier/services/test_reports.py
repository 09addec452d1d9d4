"""Reports: members flag images with a reason; moderators hide the image or dismiss, all reports at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import Forbidden, InvalidInput, NotFound
from atelier.schema import Image, Job, JobSource, JobState, Report, ReportState, Role, User
from atelier.services import audit, reports


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with session_factory(database_url)() as opened:
        yield opened


def member(session: Session, name: str, role: Role = Role.MEMBER) -> User:
    user = User(name=name, role=role)
    session.add(user)
    session.commit()
    return user


def image(session: Session, hidden: bool = False) -> int:
    job = Job(source=JobSource.WEB, recipe={"prompt": "a red circle"}, state=JobState.DONE)
    session.add(job)
    session.flush()
    count = session.scalar(select(Image.id).order_by(Image.id.desc())) or 0
    row = Image(job_id=job.id, index=0, seed=1, file_path=f"ab/{count}.png", thumbnail_path=f"ab/{count}.webp",
                width=64, height=64, infotext="x", hidden=hidden)  # fmt: skip
    session.add(row)
    session.commit()
    return row.id


def states(session: Session) -> list[ReportState]:
    session.expire_all()
    return list(session.scalars(select(Report.state).order_by(Report.id)))


def test_report_is_queued_with_its_reason(session: Session) -> None:
    """A member's report lands in the queue with the image, the reporter and the trimmed reason."""
    ada, image_id = member(session, "ada"), image(session)
    reports.report(session, ada.id, image_id, "  gore in a SFW channel ")
    [queued] = reports.open_reports(session)
    assert (queued.image.id, queued.count) == (image_id, 1)
    assert (queued.reports[0].reporter.name, queued.reports[0].reason) == ("ada", "gore in a SFW channel")


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_reason_must_be_1_to_500_characters(session: Session, reason: str) -> None:
    """An empty or over-long reason is refused on the `reason` field; nothing is stored."""
    ada, image_id = member(session, "ada"), image(session)
    with pytest.raises(InvalidInput) as refused:
        reports.report(session, ada.id, image_id, reason)
    assert refused.value.field == "reason"
    assert states(session) == []


def test_hidden_or_missing_image_cannot_be_reported(session: Session) -> None:
    """A hidden image and an unknown id are both "does not exist"."""
    ada, hidden_id = member(session, "ada"), image(session, hidden=True)
    with pytest.raises(NotFound, match=f"image {hidden_id} does not exist"):
        reports.report(session, ada.id, hidden_id, "spam")
    with pytest.raises(NotFound, match="image 9999 does not exist"):
        reports.report(session, ada.id, 9999, "spam")


def test_reporting_again_rewrites_the_reason(session: Session) -> None:
    """One report per member and image: the second one replaces the first's reason."""
    ada, image_id = member(session, "ada"), image(session)
    reports.report(session, ada.id, image_id, "spam")
    reports.report(session, ada.id, image_id, "actually: stolen art")
    [queued] = reports.open_reports(session)
    assert [r.reason for r in queued.reports] == ["actually: stolen art"]


def test_reporting_a_dismissed_image_again_reopens_it(session: Session) -> None:
    """After a dismissal, the same member's new report is open again."""
    ada, mod, image_id = member(session, "ada"), member(session, "mod", Role.MODERATOR), image(session)
    report = reports.report(session, ada.id, image_id, "spam")
    reports.resolve(session, mod, report.id, hide=False)
    reports.report(session, ada.id, image_id, "it is still spam")
    assert states(session) == [ReportState.OPEN]


def test_queue_is_oldest_first_with_counts_per_image(session: Session) -> None:
    """Images come in the order they were first reported; each carries its open reports."""
    ada, bo = member(session, "ada"), member(session, "bo")
    first, second = image(session), image(session)
    reports.report(session, ada.id, first, "one")
    reports.report(session, ada.id, second, "two")
    reports.report(session, bo.id, first, "three")
    queue = reports.open_reports(session)
    assert [(entry.image.id, entry.count) for entry in queue] == [(first, 2), (second, 1)]
    assert reports.open_count(session) == 3


def test_hiding_resolves_every_open_report_on_the_image(session: Session) -> None:
    """Hide: the image is hidden and all its open reports are resolved by the moderator."""
    ada, bo, mod = member(session, "ada"), member(session, "bo"), member(session, "mod", Role.MODERATOR)
    image_id = image(session)
    report = reports.report(session, ada.id, image_id, "one")
    reports.report(session, bo.id, image_id, "two")
    assert reports.resolve(session, mod, report.id, hide=True) == image_id
    assert states(session) == [ReportState.RESOLVED, ReportState.RESOLVED]
    assert session.get(Image, image_id).hidden  # type: ignore[union-attr]
    assert session.scalars(select(Report.resolved_by_id)).all() == [mod.id, mod.id]
    assert reports.open_reports(session) == []


def test_dismissing_leaves_the_image_up(session: Session) -> None:
    """Dismiss: the image stays visible and its open reports are dismissed."""
    ada, mod, image_id = member(session, "ada"), member(session, "mod", Role.MODERATOR), image(session)
    report = reports.report(session, ada.id, image_id, "one")
    reports.resolve(session, mod, report.id, hide=False)
    assert states(session) == [ReportState.DISMISSED]
    assert not session.get(Image, image_id).hidden  # type: ignore[union-attr]


def test_a_settled_report_cannot_be_settled_again(session: Session) -> None:
    """A second decision on the same report says it is already settled."""
    ada, mod, image_id = member(session, "ada"), member(session, "mod", Role.MODERATOR), image(session)
    report = reports.report(session, ada.id, image_id, "one")
    reports.resolve(session, mod, report.id, hide=False)
    with pytest.raises(InvalidInput, match="already dismissed"):
        reports.resolve(session, mod, report.id, hide=True)


def test_members_cannot_settle_reports(session: Session) -> None:
    """A member is refused and the report stays open."""
    ada, image_id = member(session, "ada"), image(session)
    report = reports.report(session, ada.id, image_id, "one")
    with pytest.raises(Forbidden):
        reports.resolve(session, ada, report.id, hide=True)
    assert states(session) == [ReportState.OPEN]


def test_unknown_report_is_not_found(session: Session) -> None:
    """Settling a report id that does not exist raises NotFound."""
    with pytest.raises(NotFound, match="report 77"):
        reports.resolve(session, member(session, "mod", Role.MODERATOR), 77, hide=False)


def test_decisions_are_audited(session: Session) -> None:
    """Hiding through a report writes the hide and the resolution to the audit log, by the moderator."""
    ada, mod, image_id = member(session, "ada"), member(session, "mod", Role.MODERATOR), image(session)
    report = reports.report(session, ada.id, image_id, "one")
    reports.resolve(session, mod, report.id, hide=True)
    assert [(e.actor, e.action, e.target) for e in audit.recent(session)] == [
        ("mod", "report.resolve", f"image {image_id}"),
        ("mod", "image.hide", f"image {image_id}"),
    ]
