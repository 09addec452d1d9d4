"""Schema v1: the tables every process shares.

Job state lives here, not in the broker: the database is the record of truth, Celery only carries
job ids. Enumerations are stored as short strings with CHECK constraints so SQLite and PostgreSQL
behave alike and Alembic sees no drift.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# SQL of the expressions the PostgreSQL-only indexes on jobs are built on (see gallery.feed).
PROMPT_DOCUMENT = "to_tsvector('english'::regconfig, coalesce(recipe ->> 'prompt', ''))"
RECIPE_SAMPLER = "recipe ->> 'sampler'"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Role(enum.StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class ModelKind(enum.StrEnum):
    CHECKPOINT = "checkpoint"
    LORA = "lora"
    EMBEDDING = "embedding"
    VAE = "vae"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class JobSource(enum.StrEnum):
    DISCORD = "discord"
    WEB = "web"
    CLI = "cli"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    discord_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.MEMBER)
    # The member's Discord role ids in the studio's guild, as last seen by the bot or a gallery login:
    # per-role quotas (`RoleQuota`) are looked up from them at submit, whichever door the job came by.
    discord_role_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A gallery login. The browser's cookie carries a random token; the row is keyed by its SHA-256,
    so a copy of the database logs nobody in. Deleting the row logs that browser out (revocation)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class ModelFile(Base):
    __tablename__ = "model_files"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[ModelKind] = mapped_column(_enum(ModelKind, "model_kind"))
    name: Mapped[str] = mapped_column(String(200))
    # Relative to the models dir, so the store can move between hosts.
    file_path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    autov2: Mapped[str] = mapped_column(String(10), index=True)
    autov3: Mapped[str | None] = mapped_column(String(12))
    base_arch: Mapped[str] = mapped_column(String(20), default="sd1")
    # The image edge the checkpoint was trained at: the default size of its renders.
    native_size: Mapped[int] = mapped_column(Integer, default=512)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    nsfw_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    trigger_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # PostgreSQL only (SQLite has neither full-text search nor these JSON operators): the prompt
        # search's document and the sampler filter's key, written exactly as gallery.feed queries them
        # (literal SQL, no bound parameters) so that the planner can match the expressions.
        Index("ix_jobs_prompt_search", text(PROMPT_DOCUMENT), postgresql_using="gin").ddl_if(dialect="postgresql"),
        Index("ix_jobs_sampler", text(f"({RECIPE_SAMPLER})")).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    source: Mapped[JobSource] = mapped_column(_enum(JobSource, "job_source"))
    recipe: Mapped[dict[str, Any]] = mapped_column(JSON)
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("model_files.id"))
    state: Mapped[JobState] = mapped_column(_enum(JobState, "job_state"), default=JobState.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Which worker holds the job and until when; a lease in the past means the holder is gone.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    progress_step: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    queue_position: Mapped[int | None] = mapped_column(Integer)
    eta_seconds: Mapped[float | None] = mapped_column()
    discord_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    discord_message_id: Mapped[int | None] = mapped_column(BigInteger)
    parent_image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", use_alter=True))
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # Seconds the worker spent rendering (not waiting): what daily GPU quotas and ETAs add up.
    render_seconds: Mapped[float | None] = mapped_column()
    # Sampler steps of one native-size image the job asks for (atelier.render_plan.work_units): ETAs
    # multiply it by the checkpoint's measured pace.
    work_units: Mapped[float | None] = mapped_column()
    # "Re-render exact": the stored image this job renders again, and whether the pixels came out equal.
    exact_of_image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", use_alter=True))
    exact_match: Mapped[bool | None] = mapped_column(Boolean)

    owner: Mapped[User | None] = relationship()
    checkpoint: Mapped[ModelFile | None] = relationship()
    images: Mapped[list[Image]] = relationship(
        back_populates="job", foreign_keys="Image.job_id", order_by="Image.index"
    )


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("job_id", "index"),
        # The feed's keyset pages seek these directly (see gallery.feed): newest visible images, and the
        # top sorts (score, then newest; the period's created_at bound is checked inside the index).
        Index("ix_images_feed_new", "hidden", "created_at", "id"),
        Index("ix_images_feed_top", "hidden", "score", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    # Relative to the images dir; content-addressed, never chosen by a user.
    file_path: Mapped[str] = mapped_column(String(200))
    thumbnail_path: Mapped[str] = mapped_column(String(200))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    infotext: Mapped[str] = mapped_column(Text)
    nsfw: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # The sum of the image's votes' values, kept exact by atelier.services.votes in the transaction of
    # every vote added or taken back: the top sorts order by it instead of summing votes per request.
    score: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    job: Mapped[Job] = relationship(back_populates="images", foreign_keys=[job_id])


Index("ix_jobs_checkpoint_id", Job.checkpoint_id)
# Lineage: the remixes of an image are the jobs naming it as their parent.
Index("ix_jobs_parent_image_id", Job.parent_image_id)


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("user_id", "image_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"), index=True)
    value: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BannedTerm(Base):
    """A word or phrase the moderators keep out of prompts, with the rule a refused member is shown."""

    __tablename__ = "banned_terms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Lower case, single spaces: what `atelier.services.moderation.normalise` makes of the input.
    term: Mapped[str] = mapped_column(String(200), unique=True)
    reason: Mapped[str] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """One moderator action (who, what, on what, when, details): the audit log `/mod audit` shows.
    Rows are only ever added; `actor_id` None is the machine's operator (the CLI)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()


class Policy(Base):
    """A studio-wide rule moderators set, by name (e.g. `forced_negative`); a row per rule, so new
    rules need no migration. Read at submit, so a change applies to the next job."""

    __tablename__ = "policies"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReportState(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # a moderator acted (e.g. hid the image)
    DISMISSED = "dismissed"  # a moderator looked and left the image as it is


class Report(Base):
    """A member's report of an image, waiting in the moderators' queue. One per member per image:
    reporting twice updates the reason instead of piling up rows."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("image_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[ReportState] = mapped_column(_enum(ReportState, "report_state"), default=ReportState.OPEN, index=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    image: Mapped[Image] = relationship()
    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id])


class ChannelPolicy(Base):
    """What moderators allow in one Discord channel: which checkpoints (an empty list: every enabled
    one) and whether every result is posted behind a spoiler. NSFW-allowed checkpoints are refused
    outside age-restricted channels whatever this row says; Discord tells the bot which those are."""

    __tablename__ = "channel_policies"

    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    allowed_model_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    spoiler_all: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoleQuota(Base):
    """Limits for members holding one Discord role (e.g. supporters get more GPU time). A member with
    several such roles gets the most generous of each limit; 0 means unlimited."""

    __tablename__ = "role_quotas"

    discord_role_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role_name: Mapped[str] = mapped_column(String(100))
    daily_gpu_seconds: Mapped[float] = mapped_column(default=0.0)
    max_queued: Mapped[int] = mapped_column(Integer, default=0)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
