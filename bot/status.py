"""The "queued — #3, about 40 s" message of a job: progress edits while it runs, a last word when it ends.

Edits are throttled per message (at most one every `interval` seconds, the latest progress wins),
because Discord rate-limits edits per webhook and per channel and a render reports progress every
second; a preview that arrives between two edits simply replaces the one waiting. Edits go through
the interaction that made the message while its token lives (no channel permission needed), then
through the channel with the bot token. One lock orders them, and once the job is over no progress
edit can land after the final one.

Everything here is best effort: a failed edit is logged and the render and its delivery go on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import logging
import time
from dataclasses import dataclass
from typing import Any

import discord

from bot import messages

log = logging.getLogger(__name__)

PREVIEW_PREFIX = "data:image/"


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    preview: bytes | None
    preview_type: str = "webp"


def decode_preview(url: object) -> tuple[bytes, str] | None:
    """The bytes and file type of a `data:image/<type>;base64,…` preview, None when absent or malformed."""
    if not isinstance(url, str) or not url.startswith(PREVIEW_PREFIX):
        return None
    header, _, payload = url.partition(",")
    kind = header[len(PREVIEW_PREFIX) :].split(";")[0]
    if not kind.isalnum() or ";base64" not in header:
        return None
    try:
        return base64.b64decode(payload, validate=True), kind
    except (binascii.Error, ValueError):
        return None


class StatusMessage:
    def __init__(
        self,
        client: discord.Client,
        job_id: int,
        message_id: int,
        channel_id: int | None,
        interaction: discord.Interaction[Any] | None,
        token_until: float,
        interval: float,
    ) -> None:
        self.job_id = job_id
        self.message_id = message_id
        self._client = client
        self._channel_id = channel_id
        self._interaction = interaction
        self._token_until = token_until
        self._interval = interval
        self._last_edit = time.monotonic()
        self._pending: Progress | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    def progress(self, update: Progress) -> None:
        """Show this progress soon: now if the last edit is old enough, else when it is."""
        if self._closed:
            return
        waiting = self._pending
        if waiting is not None and update.preview is None and waiting.preview is not None:
            update = Progress(update.step, update.total, waiting.preview, waiting.preview_type)
        self._pending = update
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def finish(self, content: str) -> int | None:
        """The last edit: the text given, no buttons, no preview. Returns the message id when it worked."""
        self._closed = True
        self._pending = None
        async with self._lock:
            edited = await self._edit(content=content, attachments=[], view=None)
        return self.message_id if edited else None

    def close(self) -> None:
        """Drop a pending progress edit (the bot is stopping)."""
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()

    async def _flush(self) -> None:
        while self._pending is not None and not self._closed:
            delay = self._last_edit + self._interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            async with self._lock:
                update, self._pending = self._pending, None
                if update is None or self._closed:
                    return
                changes: dict[str, Any] = {"content": messages.rendering(update.step, update.total)}
                if update.preview is not None:
                    name = f"preview_{self.job_id}.{update.preview_type}"
                    changes["attachments"] = [discord.File(io.BytesIO(update.preview), filename=name)]
                try:
                    await self._edit(**changes)
                except Exception:  # progress is decoration: never let it kill the task noisily
                    log.exception("job %s: progress edit failed", self.job_id)
                self._last_edit = time.monotonic()

    async def _edit(self, **changes: Any) -> bool:
        if self._interaction is not None and time.monotonic() < self._token_until:
            try:
                await self._interaction.edit_original_response(**changes)
                return True
            except discord.HTTPException as exc:
                log.info("job %s: status edit through the interaction refused (%s)", self.job_id, exc)
                self._interaction = None
        if self._channel_id is None:
            return False
        try:
            message = self._client.get_partial_messageable(self._channel_id).get_partial_message(self.message_id)
            await message.edit(**changes)
            return True
        except discord.HTTPException as exc:
            log.info("job %s: status edit in the channel refused (%s)", self.job_id, exc)
            return False
