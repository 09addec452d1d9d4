"""Fair share: which queued job runs next, where a job stands in line, and whether a member may queue more.

The broker only says "there is work"; the order is decided here, from the database, each time a
worker is free. Members take turns (round-robin, weighted by role), so one member's burst of
twenty jobs does not keep everyone else waiting behind it; a worker takes jobs for checkpoints it
holds loaded first, and any job when none of those is waiting. Positions and ETAs come from the
same order and from render times measured per checkpoint, so what members are told is what happens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from atelier.errors import Refused
from atelier.recipe import Recipe
from atelier.render_plan import batch_key, work_units
from atelier.schema import Job, JobState, ModelFile, Role, User
from atelier.services.quotas import Limits, limits_for
from atelier.settings import Settings

MAX_CONSIDERED = 2000
"""The fair order is computed over the oldest this many queued jobs (a community's queue is far shorter)."""
DEFAULT_SECONDS_PER_UNIT = 0.5
"""Before a checkpoint has rendered anything: seconds per step of one image at the native size."""
RECENT_JOBS = 20


def _role_of(roles: dict[int, Role], owner_id: int | None) -> str:
    return roles[owner_id].value if owner_id in roles else Role.MEMBER.value


def _roles(session: Session, owner_ids: Collection[int | None]) -> dict[int, Role]:
    known = [owner for owner in owner_ids if owner is not None]
    if not known:
        return {}
    return {user_id: role for user_id, role in session.execute(select(User.id, User.role).where(User.id.in_(known)))}


def fair_order(session: Session, settings: Settings) -> list[Job]:
    """Queued jobs in the order they should run: each member's n-th waiting job (counting the jobs
    they already have rendering) gets turn n / weight; ties go to the older job."""
    queued = session.scalars(
        select(Job)
        .options(defer(Job.recipe))  # ordering needs owners only; a batch's companions load theirs
        .where(Job.state == JobState.QUEUED)
        .order_by(Job.id)
        .limit(MAX_CONSIDERED)
    ).all()
    if not queued:
        return []
    running: Counter[int | None] = Counter()
    for owner_id, count in session.execute(
        select(Job.owner_id, func.count()).where(Job.state == JobState.RUNNING).group_by(Job.owner_id)
    ):
        running[owner_id] = int(count)
    roles = _roles(session, {job.owner_id for job in queued})
    weights = settings.scheduling.share_weights
    turns: Counter[int | None] = Counter()
    keyed = []
    for job in queued:
        weight = max(weights.get(_role_of(roles, job.owner_id), 1.0), 0.01)
        keyed.append(((running[job.owner_id] + turns[job.owner_id]) / weight, job.id, job))
        turns[job.owner_id] += 1
    return [job for _, _, job in sorted(keyed, key=lambda entry: (entry[0], entry[1]))]


def next_jobs(session: Session, settings: Settings, warm_checkpoint_ids: Collection[int]) -> list[Job]:
    """What a free worker should try to claim, best first: jobs for checkpoints it holds loaded, in fair
    order, then the rest in fair order (a cold worker takes work when nothing warm is waiting)."""
    order = fair_order(session, settings)
    warm = [job for job in order if job.checkpoint_id in warm_checkpoint_ids]
    return warm + [job for job in order if job.checkpoint_id not in warm_checkpoint_ids]


def companions(session: Session, settings: Settings, job: Job, room: int) -> list[Job]:
    """Waiting jobs that can share `job`'s sampler call (same checkpoint and batch key), in fair order,
    as many as fit in `room` more images."""
    key = batch_key(Recipe.from_json(job.recipe))
    if key is None or room <= 0:
        return []
    chosen: list[Job] = []
    for other in fair_order(session, settings):
        if other.id == job.id or other.checkpoint_id != job.checkpoint_id:
            continue
        recipe = Recipe.from_json(other.recipe)
        if recipe.count <= room and batch_key(recipe) == key:
            chosen.append(other)
            room -= recipe.count
    return chosen


def seconds_per_unit(session: Session, checkpoint_id: int | None, native_size: int) -> float:
    """Measured from the checkpoint's recent renders; a default until it has rendered anything."""
    rows = session.execute(
        select(Job.id, Job.work_units, Job.render_seconds)
        .where(Job.state == JobState.DONE, Job.checkpoint_id == checkpoint_id, Job.render_seconds.is_not(None))
        .order_by(Job.id.desc())
        .limit(RECENT_JOBS)
    )
    seconds = units = 0.0
    for job_id, recorded, spent in rows:
        seconds += float(spent or 0.0)
        if recorded is None:  # jobs from before work was recorded
            recipe = session.scalar(select(Job.recipe).where(Job.id == job_id))
            recorded = work_units(Recipe.from_json(recipe or {"prompt": ""}), native_size)
        units += float(recorded)
    return seconds / units if units else DEFAULT_SECONDS_PER_UNIT


class Pace:
    """Each checkpoint's measured seconds per unit of work, looked up once per checkpoint: estimating a
    queue of hundreds of jobs on a few checkpoints costs a few queries, not hundreds."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._per_checkpoint: dict[tuple[int | None, int], float] = {}

    def per_unit(self, checkpoint_id: int | None, native_size: int) -> float:
        key = (checkpoint_id, native_size)
        if key not in self._per_checkpoint:
            self._per_checkpoint[key] = seconds_per_unit(self.session, checkpoint_id, native_size)
        return self._per_checkpoint[key]

    def seconds(self, job: Job) -> float:
        """How long the job's render should take."""
        native = job.checkpoint.native_size if job.checkpoint is not None else 512
        units = job.work_units if job.work_units is not None else work_units(Recipe.from_json(job.recipe), native)
        return units * self.per_unit(job.checkpoint_id, native)


def estimated_seconds(session: Session, job: Job) -> float:
    return Pace(session).seconds(job)


@dataclass(frozen=True)
class Standing:
    position: int
    """1 = the next job to start."""
    eta_seconds: float
    """Until this job should be done, with `workers` rendering in parallel."""


def standing(session: Session, settings: Settings, job: Job, workers: int = 1) -> Standing:
    """Where a queued job stands in the fair order, and when it should be done."""
    order = fair_order(session, settings)
    ahead = next((index for index, queued in enumerate(order) if queued.id == job.id), len(order))
    running = session.scalars(select(Job).where(Job.state == JobState.RUNNING)).all()
    pace = Pace(session)
    remaining = sum(pace.seconds(other) * (1 - other.progress_step / max(other.progress_total, 1)) for other in running)
    queued_before = sum(pace.seconds(other) for other in order[:ahead])
    wait = (remaining + queued_before) / max(workers, 1)
    return Standing(position=ahead + 1, eta_seconds=wait + pace.seconds(job))


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def admit(session: Session, settings: Settings, owner_id: int | None, recipe: Recipe, checkpoint: ModelFile) -> None:
    """Refuse a member's new job over their queue cap or daily GPU quota (`quotas.limits_for`: the
    studio's defaults widened by their Discord roles' quotas); call inside the submit transaction. On
    PostgreSQL the member's row is locked, so two simultaneous submits cannot both pass a check that
    only one of them should."""
    if owner_id is None:  # jobs of the machine's operator (CLI, the embedded gallery's owner)
        return
    owner = session.scalar(select(User).where(User.id == owner_id).with_for_update())
    if owner is None:
        rules = settings.scheduling
        limits = Limits(rules.daily_gpu_seconds.get(Role.MEMBER.value, 0.0), rules.max_queued_per_member)
    else:
        limits = limits_for(session, settings, owner)
    waiting = session.scalar(
        select(func.count()).select_from(Job).where(Job.owner_id == owner_id, Job.state == JobState.QUEUED)
    )
    if limits.max_queued and int(waiting or 0) >= limits.max_queued:
        raise Refused(
            f"you already have {waiting} jobs waiting, the most one member may queue; "
            "submit more when some have started"
        )
    quota = limits.daily_gpu_seconds
    if quota <= 0:
        return
    now = datetime.now(UTC)
    midnight = _start_of_day(now)
    used = session.scalar(
        select(func.coalesce(func.sum(Job.render_seconds), 0.0)).where(
            Job.owner_id == owner_id, Job.finished_at >= midnight
        )
    )
    pending = session.scalars(
        select(Job).where(Job.owner_id == owner_id, Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
    ).all()
    pace = Pace(session)
    promised = sum(pace.seconds(job) for job in pending)
    this_job = work_units(recipe, checkpoint.native_size) * pace.per_unit(checkpoint.id, checkpoint.native_size)
    if float(used or 0.0) + promised + this_job > quota:
        resets = midnight + timedelta(days=1)
        raise Refused(
            f"your daily GPU time is used up ({float(used or 0.0):.0f} of {quota:.0f} s rendered today, "
            f"{promised:.0f} s waiting); it resets at 00:00 UTC, in {_duration((resets - now).total_seconds())}"
        )
