"""Posting finished jobs back to Discord: once each, even when an event or a token is lost.

Two ways to learn that a job finished, because either alone can fail: the job events on Redis
pub/sub (fast, but a subscriber that is reconnecting misses them) and a periodic re-read of the
jobs this bot waits on (slow, but the database is the record of truth). Both lead to `_deliver`,
which takes the job out of the waiting set before its first await, so whichever comes second finds
nothing to do: one job, one message. Progress events edit the job's queued message (`bot.status`)
while it waits.

Two ways to post, because interaction tokens die after 15 minutes: a followup on the interaction
(it answers the user's command in place), else a plain channel message with the bot token, which
mentions the author so they are notified. A result carries the persistent buttons of
`bot.components`; a cancelled job gets no new message, its queued message says so instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import discord
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from atelier import events
from atelier.schema import JobState
from atelier.services import channels
from atelier.settings import Settings
from bot import messages, store
from bot.components import result_view
from bot.config import BotTuning
from bot.members import age_restricted
from bot.status import Progress, StatusMessage, decode_preview

log = logging.getLogger(__name__)

FINISHED_EVENTS = ("job.done", "job.failed", "job.cancelled")
RECENT_EVENTS = 2048
REDIS_CLIENT_NAME = "atelier-bot-events"


@dataclass
class Waiter:
    """A job whose result someone in Discord is waiting for, and how to reach them."""

    job_id: int
    channel_id: int | None
    user_id: int | None
    followup: discord.Webhook | None = None
    followup_until: float = 0.0  # time.monotonic() after which the interaction token is dead
    filesize_limit: int = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
    attempts: int = 0
    status: StatusMessage | None = None  # the "queued" message, when this run of the bot knows it
    age_restricted: bool | None = None  # as the interaction's channel said; None: ask the channel cache


class Deliveries:
    def __init__(self, client: discord.Client, settings: Settings, tuning: BotTuning) -> None:
        self._client = client
        self._settings = settings
        self._tuning = tuning
        self._waiting: dict[int, Waiter] = {}
        self._recent: deque[int] = deque(maxlen=RECENT_EVENTS)
        self._redis: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []

    def watch(self, waiter: Waiter) -> None:
        """Wait for this job; if its event already went by, deliver now."""
        self._waiting[waiter.job_id] = waiter
        if waiter.job_id in self._recent:
            self._spawn(self._deliver(waiter.job_id))

    def adopt_status(self, status: StatusMessage) -> bool:
        """Let a waiting job's queued message be edited from now on (a cancel pressed after a restart);
        False when nobody waits for the job."""
        waiter = self._waiting.get(status.job_id)
        if waiter is None:
            return False
        if waiter.status is None:
            waiter.status = status
        return True

    async def start(self) -> None:
        """Subscribe, pick up what a previous run still owed, and start listening and re-checking."""
        try:
            await asyncio.wait_for(self._subscribe(), timeout=10)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("job events: cannot subscribe yet (%s); retrying in the background", exc)
            await self._drop_subscription()
        try:
            since = timedelta(hours=self._tuning.recover_hours)
            for owed in await asyncio.to_thread(store.owed, self._settings, since):
                self._waiting.setdefault(owed.job_id, Waiter(owed.job_id, owed.channel_id, owed.user_discord_id))
        except Exception:
            log.exception("could not read the deliveries a previous run still owed")
        self._loops = [asyncio.create_task(self._listen()), asyncio.create_task(self._recheck_forever())]
        if self._waiting:
            log.info("resuming %d undelivered Discord job(s)", len(self._waiting))
            self._spawn(self.recheck())

    async def stop(self, grace: float = 5.0) -> None:
        """Stop listening; deliveries under way get `grace` seconds to finish and be recorded, since
        one cut between posting and recording would be posted again by the next run."""
        for task in self._loops:
            task.cancel()
        for waiter in self._waiting.values():
            if waiter.status is not None:
                waiter.status.close()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._drop_subscription()

    # -- learning that jobs finished -----------------------------------------------------------

    async def _subscribe(self) -> None:
        self._redis = aioredis.Redis.from_url(
            self._settings.redis_url,
            decode_responses=True,
            socket_connect_timeout=5,
            health_check_interval=30,
            client_name=REDIS_CLIENT_NAME,  # who is who in CLIENT LIST
        )
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(events.all_events_channel(self._settings.redis_url))
        log.info("listening for job events on %s", events.all_events_channel(self._settings.redis_url))

    async def _drop_subscription(self) -> None:
        pubsub, client, self._pubsub, self._redis = self._pubsub, self._redis, None, None
        for closable in (pubsub, client):
            if closable is not None:
                with contextlib.suppress(RedisError, OSError):
                    await closable.aclose()

    async def _listen(self) -> None:
        backoff = 1.0
        while True:
            try:
                if self._pubsub is None:
                    await self._subscribe()
                    backoff = 1.0
                    await self.recheck()  # events published while we were away are gone
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
            except (RedisError, OSError) as exc:
                log.warning("job events: %s; reconnecting in %.0f s", exc, backoff)
                await self._drop_subscription()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if message is not None and message.get("type") == "message":
                self._on_event(message["data"])

    def _on_event(self, raw: str | bytes) -> None:
        try:
            event = events.decode(raw)
            kind, job_id = event.get("type"), int(event["job_id"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed job event: %.200r", raw)
            return
        if kind == "job.progress":
            self._on_progress(job_id, event)
            return
        if kind not in FINISHED_EVENTS:
            return
        self._recent.append(job_id)
        if job_id in self._waiting:
            self._spawn(self._deliver(job_id))

    def _on_progress(self, job_id: int, event: dict[str, Any]) -> None:
        waiter = self._waiting.get(job_id)
        if waiter is None or waiter.status is None:
            return
        try:
            step, total = int(event["step"]), int(event["total"])
        except (KeyError, TypeError, ValueError):
            return
        preview = decode_preview(event.get("preview"))
        data, kind = preview if preview is not None else (None, "webp")
        waiter.status.progress(Progress(step, total, data, kind))

    async def _recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tuning.recheck_seconds)
            await self.recheck()

    async def recheck(self) -> None:
        """Deliver every waited-on job that the database says is finished."""
        if not self._waiting:
            return
        try:
            finished = await asyncio.to_thread(store.finished_among, self._settings, list(self._waiting))
        except Exception:
            log.exception("re-check of waiting jobs failed; trying again later")
            return
        for job_id in finished:
            self._spawn(self._deliver(job_id))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- posting -----------------------------------------------------------------------------------

    async def _deliver(self, job_id: int) -> None:
        waiter = self._waiting.pop(job_id, None)  # before any await: whoever pops it delivers it
        if waiter is None:
            return
        try:
            outcome = await asyncio.to_thread(store.load_outcome, self._settings, job_id)
        except Exception:
            log.exception("job %s: could not load its outcome", job_id)
            self._retry_later(waiter)
            return
        if outcome is None:
            log.warning("job %s vanished from the database; nothing to deliver", job_id)
            return
        if not outcome.state.finished:
            self._waiting.setdefault(job_id, waiter)
            return
        message_id = await self._settle_cancelled(waiter, outcome)
        if message_id is None:
            try:
                message_id = await self._post(waiter, outcome)
            except Exception:
                log.exception("job %s: delivery failed (attempt %d)", job_id, waiter.attempts + 1)
                self._retry_later(waiter)
                return
            await self._finish_status(waiter, messages.settled(outcome.state.value))
        log.info("job %s: delivered (%s) as message %s", job_id, outcome.state.value, message_id)
        try:
            await asyncio.to_thread(store.mark_delivered, self._settings, job_id, message_id)
        except Exception:
            log.exception("job %s: delivered but not recorded; a restart may post it again", job_id)

    def _retry_later(self, waiter: Waiter) -> None:
        waiter.attempts += 1
        if waiter.attempts >= self._tuning.max_delivery_attempts:
            log.error("job %s: giving up after %d delivery attempts", waiter.job_id, waiter.attempts)
            return
        self._waiting.setdefault(waiter.job_id, waiter)

    async def _settle_cancelled(self, waiter: Waiter, outcome: store.Outcome) -> int | None:
        """A cancelled job's queued message becomes its last word; None when there is none to edit."""
        if outcome.state != JobState.CANCELLED:
            return None
        return await self._finish_status(waiter, messages.cancelled(outcome.recipe))

    @staticmethod
    async def _finish_status(waiter: Waiter, content: str) -> int | None:
        """The queued message's last edit, never in the way of recording the delivery."""
        if waiter.status is None:
            return None
        try:
            return await waiter.status.finish(content)
        except Exception:
            log.exception("job %s: could not settle its queued message", waiter.job_id)
            return None

    def _view(self, outcome: store.Outcome) -> discord.ui.View:
        ids = [p.image_id for p in outcome.pictures] if outcome.state == JobState.DONE else []
        return result_view(ids, self._settings.web.public_url)

    async def _post(self, waiter: Waiter, outcome: store.Outcome) -> int:
        restricted = self._age_restricted(waiter)
        if waiter.followup is not None and time.monotonic() < waiter.followup_until:
            content, files = self._render(outcome, waiter.filesize_limit, restricted, mention="")
            try:
                sent = await waiter.followup.send(content, files=files, view=self._view(outcome), wait=True)
                return sent.id
            except discord.HTTPException as exc:
                log.info("job %s: followup refused (%s %s); posting in the channel", waiter.job_id, exc.status, exc)
        if waiter.channel_id is None:
            raise RuntimeError("the interaction token is gone and the job has no channel to post in")
        mention = f"<@{waiter.user_id}> " if waiter.user_id else ""
        allowed = discord.AllowedMentions.none()
        if waiter.user_id:
            allowed = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(waiter.user_id)])
        limit = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
        content, files = self._render(outcome, limit, restricted, mention=mention)
        channel = self._client.get_partial_messageable(waiter.channel_id)
        message = await channel.send(content, files=files, allowed_mentions=allowed, view=self._view(outcome))
        return message.id

    def _age_restricted(self, waiter: Waiter) -> bool:
        """Whether the job's channel is age-restricted: Discord's channel cache first (it follows
        changes), else what the interaction said; unknown counts as not (NSFW stays behind spoilers)."""
        channel = self._client.get_channel(waiter.channel_id) if waiter.channel_id is not None else None
        if channel is not None:
            return age_restricted(channel)
        return bool(waiter.age_restricted)

    @staticmethod
    def _render(
        outcome: store.Outcome, size_limit: int, restricted: bool, *, mention: str
    ) -> tuple[str, list[discord.File]]:
        """The message text and fresh file objects (a File is spent once sent); images are spoilers
        as the channel's policy says (`atelier.services.channels.spoiler`)."""
        if outcome.state == JobState.FAILED:
            return messages.failed(outcome.recipe, outcome.error or "unknown error", mention), []
        if outcome.state == JobState.CANCELLED:
            return messages.cancelled(outcome.recipe, mention), []
        files: list[discord.File] = []
        notes: list[str] = []
        if outcome.exact_of_image_id is not None:
            notes.append(messages.exact_note(outcome.exact_of_image_id, outcome.exact_match))
        for picture in outcome.pictures:
            if len(picture.data) > size_limit:
                notes.append(messages.too_large(picture.index, len(picture.data), size_limit))
                continue
            name = f"atelier_{outcome.job_id}_{picture.index}_{picture.seed}.png"
            hidden = channels.spoiler(picture.nsfw, restricted, outcome.spoiler_all)
            files.append(discord.File(io.BytesIO(picture.data), filename=name, spoiler=hidden))
        if outcome.missing:
            notes.append(f"({outcome.missing} image file(s) are missing from the store)")
        seeds = [p.seed for p in outcome.pictures]
        return messages.result(outcome.recipe, seeds, notes, mention), files
