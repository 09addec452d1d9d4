"""Fair share on real databases: turn order, role weights, warm checkpoints first, queue caps, daily quotas."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import Refused
from atelier.schema import Job, JobSource, JobState, ModelFile, Role, User
from atelier.services import jobs, logins, quotas, scheduling
from atelier.settings import SchedulingSettings, Settings


@pytest.fixture
def session(registered: Settings) -> Session:
    return session_factory(registered.database_url)()


def member(session: Session, name: str, role: Role = Role.MEMBER) -> int:
    user = User(name=name, role=role)
    session.add(user)
    session.commit()
    return user.id


def queue(session: Session, settings: Settings, owner: int, jobs_count: int = 1, **fields: object) -> list[int]:
    data = {"prompt": "a red circle", "steps": 4, **fields}
    return [jobs.submit(session, settings, data, source=JobSource.WEB, owner_id=owner).id for _ in range(jobs_count)]


def with_rules(settings: Settings, **rules: object) -> Settings:
    return settings.model_copy(update={"scheduling": SchedulingSettings(**rules)})  # type: ignore[arg-type]


def test_members_take_turns(session: Session, registered: Settings) -> None:
    """A burst of one member's jobs is interleaved with the others' in submission order of turns."""
    a, b, c = (member(session, name) for name in "abc")
    a_jobs = queue(session, registered, a, 4)
    b_jobs = queue(session, registered, b, 2)
    c_jobs = queue(session, registered, c, 1)
    order = [job.id for job in scheduling.fair_order(session, registered)]
    assert order == [a_jobs[0], b_jobs[0], c_jobs[0], a_jobs[1], b_jobs[1], a_jobs[2], a_jobs[3]]


def test_running_jobs_count_as_turns_taken(session: Session, registered: Settings) -> None:
    """A member with a job rendering waits behind a member with none."""
    a, b = member(session, "a"), member(session, "b")
    first, second = queue(session, registered, a, 2)
    b_job = queue(session, registered, b)[0]
    assert jobs.claim(session, first, "w1", 60)
    order = [job.id for job in scheduling.fair_order(session, registered)]
    assert order == [b_job, second]


def test_role_weight_gives_more_turns(session: Session, registered: Settings) -> None:
    """A weight-2 role gets two turns for every one of a weight-1 member."""
    rules = with_rules(registered, share_weights={"member": 1.0, "moderator": 2.0})
    mod, plain = member(session, "mod", Role.MODERATOR), member(session, "plain")
    plain_jobs = queue(session, rules, plain, 2)
    mod_jobs = queue(session, rules, mod, 4)
    order = [job.id for job in scheduling.fair_order(session, rules)]
    assert order == [plain_jobs[0], mod_jobs[0], mod_jobs[1], plain_jobs[1], mod_jobs[2], mod_jobs[3]]


def test_warm_checkpoint_jobs_come_first_for_a_warm_worker(session: Session, registered: Settings) -> None:
    """A worker holding a checkpoint takes that checkpoint's jobs before fairer jobs on other models."""
    a, b = member(session, "a"), member(session, "b")
    cold = queue(session, registered, a)[0]
    warm = queue(session, registered, b)[0]
    other = ModelFile(kind="checkpoint", name="other", file_path="checkpoints/other", sha256="0" * 64, autov2="0" * 10)
    session.add(other)
    session.commit()
    session.execute(update(Job).where(Job.id == cold).values(checkpoint_id=other.id))
    session.commit()
    warm_id = session.get(Job, warm).checkpoint_id  # type: ignore[union-attr]
    assert [job.id for job in scheduling.next_jobs(session, registered, {warm_id})] == [warm, cold]
    assert [job.id for job in scheduling.next_jobs(session, registered, set())] == [cold, warm]


def test_position_follows_the_fair_order(session: Session, registered: Settings) -> None:
    """A member's first job, submitted after another's burst, is told it is second in line."""
    a, b = member(session, "a"), member(session, "b")
    queue(session, registered, a, 5)
    job = jobs.submit(session, registered, {"prompt": "x", "steps": 4}, source=JobSource.WEB, owner_id=b)
    assert job.queue_position == 2


def test_queue_cap_refuses_more_waiting_jobs(session: Session, registered: Settings) -> None:
    """Over the per-member cap, submit refuses with the rule and writes nothing."""
    rules = with_rules(registered, max_queued_per_member=2)
    a = member(session, "a")
    queue(session, rules, a, 2)
    with pytest.raises(Refused, match="2 jobs waiting"):
        queue(session, rules, a)
    assert session.query(Job).count() == 2


def test_daily_quota_refuses_and_says_when_it_resets(session: Session, registered: Settings) -> None:
    """GPU-seconds rendered today count against the role's quota; the refusal names the reset time."""
    rules = with_rules(registered, daily_gpu_seconds={"member": 30.0})
    a = member(session, "a")
    done = queue(session, rules, a)[0]
    session.execute(
        update(Job)
        .where(Job.id == done)
        .values(state=JobState.DONE, render_seconds=29.9, finished_at=datetime.now(UTC))
    )
    session.commit()
    with pytest.raises(Refused, match=r"resets at 00:00 UTC, in \d+"):
        queue(session, rules, a)


def test_quota_applies_per_role(session: Session, registered: Settings) -> None:
    """A role without a quota entry is unlimited."""
    rules = with_rules(registered, daily_gpu_seconds={"member": 0.001})
    mod = member(session, "mod", Role.MODERATOR)
    assert queue(session, rules, mod, 2)


SUPPORTERS = 730_000_000_000_000_001


def supporter(session: Session, name: str, daily_gpu_seconds: float, max_queued: int) -> int:
    """A member holding a Discord role whose quota moderators set."""
    quotas.set_quota(session, None, SUPPORTERS, "Supporters", daily_gpu_seconds, max_queued)
    user = User(name=name, discord_role_ids=[SUPPORTERS])
    session.add(user)
    session.commit()
    return user.id


def test_role_with_a_small_quota_is_refused_with_the_sentence(session: Session, registered: Settings) -> None:
    """A member whose roles give no more than a tiny daily quota is refused with the reset time."""
    rules = with_rules(registered, daily_gpu_seconds={"member": 0.001})
    a = supporter(session, "a", daily_gpu_seconds=0.002, max_queued=0)
    with pytest.raises(Refused, match=r"your daily GPU time is used up .* resets at 00:00 UTC, in \d+"):
        queue(session, rules, a)


def test_generous_role_quota_admits_past_the_default(session: Session, registered: Settings) -> None:
    """A role with an hour a day lets its member render where the studio's default would refuse."""
    rules = with_rules(registered, daily_gpu_seconds={"member": 0.001})
    a = supporter(session, "a", daily_gpu_seconds=3600, max_queued=0)
    assert queue(session, rules, a, 2)


def test_role_quota_widens_the_queue_cap(session: Session, registered: Settings) -> None:
    """The studio caps waiting jobs at 1; a role allowing 3 lets its member queue 3, and refuses the 4th."""
    rules = with_rules(registered, max_queued_per_member=1)
    a = supporter(session, "a", daily_gpu_seconds=0, max_queued=3)
    queue(session, rules, a, 3)
    with pytest.raises(Refused, match="3 jobs waiting"):
        queue(session, rules, a)


def test_roles_recorded_at_a_gallery_login_apply_to_web_jobs(session: Session, registered: Settings) -> None:
    """A member who logged in to the gallery holding a generous role submits web jobs under its quota."""
    rules = with_rules(registered, max_queued_per_member=1)
    quotas.set_quota(session, None, SUPPORTERS, "Supporters", 0, 2)
    user = logins.discord_member(session, 410_000_000_000_000_001, "Ada", None, [str(SUPPORTERS)])
    data = {"prompt": "a red circle", "steps": 4}
    for _ in range(2):
        jobs.submit(session, rules, data, source=JobSource.WEB, owner_id=user.id)
    with pytest.raises(Refused, match="2 jobs waiting"):
        jobs.submit(session, rules, data, source=JobSource.WEB, owner_id=user.id)


def test_companions_are_compatible_jobs_in_fair_order(session: Session, registered: Settings) -> None:
    """Jobs that can share a sampler call: same batch key, fitting the room left, fairest first."""
    a, b, c = (member(session, name) for name in "abc")
    first = queue(session, registered, a)[0]
    other_steps = queue(session, registered, b, steps=5)[0]
    two_images = queue(session, registered, b, count=2)[0]
    one_image = queue(session, registered, c)[0]
    job = session.get(Job, first)
    assert job is not None
    assert [j.id for j in scheduling.companions(session, registered, job, room=3)] == [one_image, two_images]
    assert [j.id for j in scheduling.companions(session, registered, job, room=1)] == [one_image]
    assert other_steps not in [j.id for j in scheduling.companions(session, registered, job, room=8)]
