"""A fake Discord (REST API v10 and gateway) that the real bot process talks to, unmodified, offline.

Why a fake server and not mocks: the bot's promises (defer within 3 s, one delivery per job, the
fallback to a channel message when the interaction token is dead) live in the HTTP and gateway
traffic, so tests should see that traffic. The bot points discord.py's REST at `base_url` and reads
the gateway address from `GET /gateway/bot`, as a sharded client does against the real Discord.

The fake implements only what discord.py 2.7.1 calls for login, command sync, interaction
responses, followups, channel messages and their edits and deletions, button presses
(`press_button`: a MESSAGE_COMPONENT interaction carrying the message the button is on, whose
"original response" is then that message), autocomplete (`autocomplete`), modal submits
(`submit_modal`), message context menus (`send_message_command`, with the target message resolved)
members' messages with attachments it serves over loopback (`post_member_message`), members'
reactions (`react`: MESSAGE_REACTION_ADD/REMOVE, sent only to a session that asked for the
reactions intent, as Discord does), members with roles and permissions of their own, role options
resolved as Discord resolves them, and a second, age-restricted channel (`nsfw_channel_id`), and
answers like Discord does where it matters: JSON with `Content-Type: application/json` exactly
(discord.py compares the header string), 404 "Unknown interaction" for a callback after 3 s or a
second callback, 401 "Invalid Webhook Token" for an expired interaction token. Every request is
recorded so tests can assert on what the bot said.

It runs in a background thread with its own event loop, so synchronous pytest code can drive it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
BOT_TOKEN = "fake"
INTERACTION_DEADLINE_SECONDS = 3.0
EPHEMERAL = 1 << 6
# Interaction types, and component types (Discord's InteractionType, ComponentType).
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
APPLICATION_COMMAND_AUTOCOMPLETE = 4
MODAL_SUBMIT = 5
BUTTON = 2
TEXT_INPUT = 4
# Application command types: a slash command, and a message context-menu command.
CHAT_INPUT = 1
MESSAGE_COMMAND = 3
# Interaction callback types (Discord's InteractionCallbackType).
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9
ALL_PERMISSIONS = str((1 << 50) - 1)
# A member without Manage Guild or Administrator: view, send, read history, use application commands.
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)
GUILDS_INTENT = 1 << 0
GUILD_MESSAGE_REACTIONS_INTENT = 1 << 10
MODERATOR_ROLE_ID = 720_000_000_000_000_001
"""A role the fake guild has (named "Moderators"), for the bot's moderator-role setting."""
SUPPORTER_ROLE_ID = 720_000_000_000_000_002
"""Another role of the fake guild (named "Supporters"), for per-role quotas."""
ROLE_OPTION = 8
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    data: bytes
    content_type: str | None


@dataclass(frozen=True)
class Recorded:
    """One HTTP request the bot made; `path` is relative to the API base (e.g. `/users/@me`)."""

    method: str
    path: str
    query: Mapping[str, str]
    json: Any
    files: tuple[UploadedFile, ...]
    authorization: str | None
    at: float

    @property
    def content(self) -> str:
        return str(self.json.get("content") or "") if isinstance(self.json, dict) else ""

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        """What the bot allowed this message to ping (None: the field was not sent)."""
        if not isinstance(self.json, dict):
            return None
        found = self.json.get("allowed_mentions")
        if found is None and isinstance(self.json.get("data"), dict):  # interaction callbacks nest it
            found = self.json["data"].get("allowed_mentions")
        return found if isinstance(found, dict) else None

    @property
    def flags(self) -> int:
        if not isinstance(self.json, dict):
            return 0
        flags = self.json.get("flags")
        if flags is None and isinstance(self.json.get("data"), dict):  # interaction callbacks nest it
            flags = self.json["data"].get("flags")
        return int(flags or 0)


RECORDED: web.RequestKey[Recorded] = web.RequestKey("recorded", Recorded)


@dataclass(frozen=True)
class SentInteraction:
    """A slash command the fake dispatched; the paths are where the bot answers it."""

    id: str
    token: str
    application_id: str
    channel_id: int
    user_id: int
    at: float

    @property
    def callback_path(self) -> str:
        return f"/interactions/{self.id}/{self.token}/callback"

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self.application_id}/{self.token}"

    @property
    def original_path(self) -> str:
        return f"{self.webhook_path}/messages/@original"


@dataclass
class _Interaction:
    sent: SentInteraction
    name: str
    user: dict[str, Any]
    kind: int = APPLICATION_COMMAND
    acknowledged: bool = False
    expired: bool = False
    original_id: str | None = None
    source_message_id: str | None = None  # a button's message: the "original" of an update response


@dataclass
class _State:
    requests: list[Recorded] = field(default_factory=list)
    gateway_frames: list[dict[str, Any]] = field(default_factory=list)
    interactions: dict[str, _Interaction] = field(default_factory=dict)
    by_token: dict[str, _Interaction] = field(default_factory=dict)
    commands: dict[str | None, list[dict[str, Any]]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # attachment path -> bytes
    identified: int = 0
    intents: int = 0  # of the latest IDENTIFY


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(), content_type="application/json")


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status)


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


class FakeDiscord:
    """Start with `with FakeDiscord() as fake:`; give the bot `fake.env()`."""

    def __init__(
        self,
        *,
        app_id: int = 900_000_000_000_000_001,
        bot_user_id: int = 900_000_000_000_000_001,
        guild_id: int = 700_000_000_000_000_001,
        channel_id: int = 710_000_000_000_000_001,
        nsfw_channel_id: int = 710_000_000_000_000_002,
        token: str = BOT_TOKEN,
    ) -> None:
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.nsfw_channel_id = nsfw_channel_id
        self.token = token
        self.port = 0
        self._state = _State()
        self._changed = threading.Condition()
        self._counter = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._session: web.WebSocketResponse | None = None
        self._sequence = 0
        self._startup_error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> FakeDiscord:
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="fake-discord", daemon=True)
        self._thread.start()
        if not started.wait(15):
            raise RuntimeError("fake Discord did not start within 15 s")
        if self._startup_error is not None:
            raise RuntimeError("fake Discord failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close_sockets(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(15)

    def _run(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._startup_error = exc
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

    async def _serve(self) -> None:
        app = web.Application(middlewares=[self._record])
        api = API_PREFIX
        app.router.add_get(f"{api}/users/@me", self._get_me)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._get_application)
        app.router.add_get(f"{api}/gateway/bot", self._get_gateway_bot)
        app.router.add_get(f"{api}/gateway", self._get_gateway)
        app.router.add_put(f"{api}/applications/{{app}}/commands", self._put_commands)
        app.router.add_put(f"{api}/applications/{{app}}/guilds/{{guild}}/commands", self._put_commands)
        app.router.add_get(f"{api}/applications/{{app}}/commands", self._get_commands)
        app.router.add_get(f"{api}/applications/{{app}}/guilds/{{guild}}/commands", self._get_commands)
        app.router.add_post(f"{api}/interactions/{{id}}/{{token}}/callback", self._callback)
        app.router.add_post(f"{api}/webhooks/{{app}}/{{token}}", self._followup)
        message = f"{api}/webhooks/{{app}}/{{token}}/messages/{{message}}"
        app.router.add_get(message, self._webhook_message)
        app.router.add_patch(message, self._webhook_message)
        app.router.add_delete(message, self._webhook_message)
        app.router.add_post(f"{api}/channels/{{channel}}/messages", self._channel_message)
        channel_message = f"{api}/channels/{{channel}}/messages/{{message}}"
        app.router.add_patch(channel_message, self._existing_channel_message)
        app.router.add_delete(channel_message, self._existing_channel_message)
        app.router.add_route("*", f"{api}/{{tail:.*}}", self._unknown)
        app.router.add_get("/attachments/{channel}/{message}/{filename}", self._attachment)
        app.router.add_get("/gateway", self._gateway)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _close_sockets(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"fake Discord stopping")

    # -- what tests use ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def env(self, *, guild: bool = True) -> dict[str, str]:
        """The environment that points the bot process here."""
        return {
            "ATELIER_DISCORD_TOKEN": self.token,
            "ATELIER_DISCORD_APP_ID": str(self.app_id),
            "ATELIER_DISCORD_GUILD_ID": str(self.guild_id) if guild else "",
            "ATELIER_DISCORD_API_BASE": self.base_url,
        }

    def requests(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        with self._changed:
            found = list(self._state.requests)
        return [r for r in found if (method is None or r.method == method) and (path is None or r.path == path)]

    def wait_for(
        self, predicate: Callable[[Recorded], bool], *, timeout: float = 15.0, what: str = "request"
    ) -> Recorded:
        """The first recorded request matching `predicate`, waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for recorded in self._state.requests:
                    if predicate(recorded):
                        return recorded
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n".join(f"  {r.method} {r.path} {r.json!r:.200}" for r in self._state.requests)
                    raise TimeoutError(f"no {what} within {timeout} s; requests seen:\n{seen}")
                self._changed.wait(left)

    def wait_until_identified(
        self, count: int = 1, *, timeout: float = 60.0, alive: Callable[[], bool] = lambda: True
    ) -> None:
        """Wait until `count` sessions have IDENTIFYed and got READY; `alive` ends the wait early when the
        client died."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._state.identified < count:
                if not alive():
                    raise RuntimeError("the client went away before identifying")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no IDENTIFY within {timeout} s")
                self._changed.wait(min(left, 0.5))

    def gateway_frames(self, op: int | None = None) -> list[dict[str, Any]]:
        with self._changed:
            frames = list(self._state.gateway_frames)
        return [f for f in frames if op is None or f.get("op") == op]

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        with self._changed:
            return list(self._state.commands.get(str(guild_id) if guild_id else None, []))

    def messages(self) -> list[dict[str, Any]]:
        """Messages that exist now (interaction responses, followups, channel messages)."""
        with self._changed:
            return list(self._state.messages.values())

    def message(self, message_id: str | int) -> dict[str, Any]:
        """A message that exists now, as Discord would send it in a payload."""
        with self._changed:
            found = self._state.messages.get(str(message_id))
            if found is None:
                raise KeyError(f"message {message_id} does not exist (deleted, or never posted)")
            return json.loads(json.dumps(found))

    def wait_for_message(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 15.0, what: str = "message"
    ) -> dict[str, Any]:
        """The first existing message matching `predicate` (a copy), waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self._state.messages.values():
                    if predicate(message):
                        return json.loads(json.dumps(message))
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n".join(f"  {m['id']} {m['content']!r:.120}" for m in self._state.messages.values())
                    raise TimeoutError(f"no {what} within {timeout} s; messages:\n{seen}")
                self._changed.wait(left)

    def original(self, sent: SentInteraction) -> dict[str, Any]:
        """The interaction's original response as it is now (for a button: the message it is on)."""
        with self._changed:
            original_id = self._state.interactions[sent.id].original_id
        if original_id is None:
            raise KeyError(f"interaction {sent.id} has no original response yet")
        return self.message(original_id)

    def has_message(self, message_id: str | int) -> bool:
        with self._changed:
            return str(message_id) in self._state.messages

    def expire_token(self, token: str) -> None:
        """Make an interaction token dead, as Discord does 15 minutes after the interaction."""
        with self._changed:
            self._state.by_token[token].expired = True

    def send_slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        user: Mapping[str, Any] | None = None,
        channel_id: int | None = None,
        guild_id: int | None = -1,
        roles: Sequence[int] = (),
        permissions: int | None = None,
    ) -> SentInteraction:
        """Dispatch INTERACTION_CREATE for `/name`; `guild_id=None` sends it from a DM. The member holds
        `roles` and has `permissions` in the channel (default: all, as the guild's owner)."""
        if guild_id == -1:
            guild_id = self.guild_id
        if isinstance(options, Mapping):
            option_list = [
                {"name": k, "type": _option_type(v), "value": v} for k, v in options.items() if v is not None
            ]
        else:
            option_list = [dict(o) for o in options or []]
        data: dict[str, Any] = {"id": self._command_id(name, guild_id), "name": name, "type": 1}
        if option_list:
            data["options"] = option_list
        roles_named = self._resolved_roles(option_list)
        if roles_named:
            data["resolved"] = {"roles": roles_named}
        if guild_id and any(c["name"] == name for c in self.commands(guild_id)):
            data["guild_id"] = str(guild_id)
        channel = channel_id or self.channel_id
        member = (roles, permissions)
        return self._send_interaction(APPLICATION_COMMAND, name, data, user, channel, guild_id, member=member)

    def press_button(
        self, message_id: str | int, custom_id: str, *, user: Mapping[str, Any] | None = None
    ) -> SentInteraction:
        """Dispatch INTERACTION_CREATE for a press of the button `custom_id` on a message that exists, as
        a member of the guild (`user`, default Ada); the message's components must hold that button."""
        message = self.message(message_id)
        buttons = [c for row in message.get("components") or [] for c in row.get("components") or []]
        if not any(b.get("custom_id") == custom_id for b in buttons):
            raise AssertionError(f"message {message_id} has no button {custom_id!r}: {buttons!r}")
        data = {"custom_id": custom_id, "component_type": BUTTON}
        channel = int(message["channel_id"])
        return self._send_interaction(MESSAGE_COMPONENT, custom_id, data, user, channel, self.guild_id, message)

    def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        user: Mapping[str, Any] | None = None,
        path: Sequence[str] = (),
        channel_id: int | None = None,
    ) -> SentInteraction:
        """Dispatch APPLICATION_COMMAND_AUTOCOMPLETE for `/name` while the member types in `focused`
        (its value in `options`, with what the other options hold so far) in `channel_id` (default the
        studio channel); `path` names the subcommand group and subcommand (`("model", "info")` for
        `/mod model info`)."""
        option_list = [
            {"name": k, "type": _option_type(v), "value": v, **({"focused": True} if k == focused else {})}
            for k, v in options.items()
            if v is not None
        ]
        data: dict[str, Any] = {
            "id": self._command_id(name, self.guild_id),
            "name": name,
            "type": CHAT_INPUT,
            "options": subcommand(*path, options=option_list) if path else option_list,
        }
        if any(c["name"] == name for c in self.commands(self.guild_id)):
            data["guild_id"] = str(self.guild_id)
        return self._send_interaction(
            APPLICATION_COMMAND_AUTOCOMPLETE, name, data, user, channel_id or self.channel_id, self.guild_id
        )

    def submit_modal(
        self, custom_id: str, values: Mapping[str, str], *, user: Mapping[str, Any] | None = None
    ) -> SentInteraction:
        """Dispatch MODAL_SUBMIT for the form `custom_id` with these text input values (by custom id)."""
        rows = [
            {"type": 1, "components": [{"type": TEXT_INPUT, "custom_id": key, "value": value}]}
            for key, value in values.items()
        ]
        data = {"custom_id": custom_id, "components": rows}
        return self._send_interaction(MODAL_SUBMIT, custom_id, data, user, self.channel_id, self.guild_id)

    def send_message_command(
        self, name: str, message_id: str | int, *, user: Mapping[str, Any] | None = None
    ) -> SentInteraction:
        """Dispatch a message context-menu command (`name`, e.g. "Show parameters") on a message that
        exists, which the interaction carries resolved, as Discord does."""
        message = self.message(message_id)
        data: dict[str, Any] = {
            "id": self._command_id(name, self.guild_id),
            "name": name,
            "type": MESSAGE_COMMAND,
            "target_id": str(message["id"]),
            "resolved": {"messages": {str(message["id"]): message}},
        }
        if any(c["name"] == name for c in self.commands(self.guild_id)):
            data["guild_id"] = str(self.guild_id)
        channel = int(message["channel_id"])
        return self._send_interaction(APPLICATION_COMMAND, name, data, user, channel, self.guild_id)

    def post_member_message(
        self,
        content: str,
        files: Sequence[tuple[str, bytes, str]] = (),
        *,
        user: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message a member posted in the channel, with (filename, bytes, content type) attachments
        served at their `url` over loopback."""
        uploads = [UploadedFile(name, data, kind) for name, data, kind in files]
        author = dict(user or self.default_user())
        message = self._message(str(self.channel_id), {"content": content}, uploads, author=author)
        return json.loads(json.dumps(message))

    def react(
        self, message_id: str | int, emoji: str = "❤️", *, user: Mapping[str, Any] | None = None, remove: bool = False
    ) -> bool:
        """A member adds (or removes) a unicode emoji reaction on a message that exists. The gateway event
        goes only to a session that identified with the reactions intent; returns whether it was sent."""
        message = self.message(message_id)
        user_data = dict(user or self.default_user())
        with self._changed:
            intents = self._state.intents
        if not intents & GUILD_MESSAGE_REACTIONS_INTENT:
            return False
        data: dict[str, Any] = {
            "user_id": user_data["id"],
            "channel_id": str(message["channel_id"]),
            "message_id": str(message["id"]),
            "guild_id": str(self.guild_id),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if not remove:
            data["member"] = self._member(user_data, (), None)
            data["message_author_id"] = str(message["author"]["id"])
            data["burst_colors"] = []
        self._call(self._dispatch("MESSAGE_REACTION_REMOVE" if remove else "MESSAGE_REACTION_ADD", data))
        return True

    def callback_of(self, sent: SentInteraction, timeout: float = 15.0) -> Recorded:
        """The bot's answer to the interaction (a defer, a modal, autocomplete choices)."""
        return self.wait_for(
            lambda r: r.method == "POST" and r.path == sent.callback_path, timeout=timeout, what="callback"
        )

    def _send_interaction(
        self,
        kind: int,
        name: str,
        data: Mapping[str, Any],
        user: Mapping[str, Any] | None,
        channel: int,
        guild_id: int | None,
        message: Mapping[str, Any] | None = None,
        *,
        member: tuple[Sequence[int], int | None] = ((), None),
    ) -> SentInteraction:
        user_data = dict(user or self.default_user())
        interaction_id = str(self.snowflake())
        token = f"itoken-{interaction_id}"
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": str(self.app_id),
            "type": kind,
            "data": dict(data),
            "channel_id": str(channel),
            "token": token,
            "version": 1,
            "locale": "en-US",
            "app_permissions": ALL_PERMISSIONS,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = dict(message)
        if guild_id:
            payload.update(
                guild_id=str(guild_id),
                guild_locale="en-US",
                context=0,
                authorizing_integration_owners={"0": str(guild_id)},
                channel=self._text_channel(channel, guild_id),
                member=self._member(user_data, *member),
            )
        else:
            payload.update(
                context=1,
                authorizing_integration_owners={"1": user_data["id"]},
                channel={"id": str(channel), "type": 1, "recipients": [user_data], "last_message_id": None, "flags": 0},
                user=user_data,
            )
        sent = SentInteraction(
            id=interaction_id,
            token=token,
            application_id=str(self.app_id),
            channel_id=channel,
            user_id=int(user_data["id"]),
            at=time.monotonic(),
        )
        with self._changed:
            record = _Interaction(sent, name, user_data, kind=kind)
            if message is not None:
                record.source_message_id = str(message["id"])
            self._state.interactions[interaction_id] = record
            self._state.by_token[token] = record
        self._call(self._dispatch("INTERACTION_CREATE", payload))
        return sent

    @staticmethod
    def _member(user: Mapping[str, Any], roles: Sequence[int], permissions: int | None) -> dict[str, Any]:
        """A guild member payload: the user with their role ids and resolved channel permissions."""
        return {
            "user": dict(user),
            "roles": [str(role) for role in roles],
            "joined_at": _now_iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "permissions": ALL_PERMISSIONS if permissions is None else str(permissions),
        }

    def member(self, user_id: int, username: str) -> dict[str, Any]:
        """Another member than Ada, to press buttons as."""
        return {**self.default_user(), "id": str(user_id), "username": username, "global_name": username.title()}

    def default_user(self) -> dict[str, Any]:
        return {
            "id": "300000000000000001",
            "username": "ada",
            "global_name": "Ada",
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
        }

    def snowflake(self) -> int:
        """An id that carries the current time, as Discord's do."""
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._counter) & 0x3FFFFF)

    # -- plumbing ----------------------------------------------------------------------------------

    def _call(self, coro: Any) -> Any:
        if self._loop is None:
            raise RuntimeError("fake Discord is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _dispatch(self, event: str, data: Mapping[str, Any]) -> None:
        ws = self._session
        if ws is None or ws.closed:
            raise RuntimeError("no client is connected to the fake gateway")
        self._sequence += 1
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": self._sequence, "d": data}))

    def _resolved_roles(self, options: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Role options (in subcommands too) resolved to role objects, as Discord sends them."""
        found: dict[str, Any] = {}
        for option in options:
            if option.get("type") == ROLE_OPTION:
                role_id = str(option["value"])
                known = {role["id"]: role for role in self._roles()}
                found[role_id] = known.get(role_id) or {**self._roles()[0], "id": role_id, "name": f"role {role_id}"}
            found.update(self._resolved_roles(option.get("options") or []))
        return found

    def _roles(self) -> list[dict[str, Any]]:
        everyone = {
            "id": str(self.guild_id),
            "name": "@everyone",
            "permissions": ALL_PERMISSIONS,
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        moderators = {**everyone, "id": str(MODERATOR_ROLE_ID), "name": "Moderators", "permissions": "0", "position": 1}
        supporters = {**moderators, "id": str(SUPPORTER_ROLE_ID), "name": "Supporters", "position": 2}
        return [everyone, moderators, supporters]

    def _text_channel(self, channel_id: int, guild_id: int) -> dict[str, Any]:
        """A text channel; `nsfw_channel_id` is the age-restricted one."""
        age_restricted = channel_id == self.nsfw_channel_id
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": "after-dark" if age_restricted else "studio",
            "position": 1 if age_restricted else 0,
            "permission_overwrites": [],
            "nsfw": age_restricted,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            "permissions": ALL_PERMISSIONS,
        }

    def _guild(self) -> dict[str, Any]:
        """The one guild, as GUILD_CREATE carries it to a client with the GUILDS intent."""
        me = {"user": self._bot_user(), "roles": [], "joined_at": _now_iso(), "deaf": False, "mute": False, "flags": 0}
        return {
            "id": str(self.guild_id),
            "name": "Atelier test guild",
            "icon": None,
            "owner_id": "300000000000000099",
            "unavailable": False,
            "large": False,
            "member_count": 1,
            "joined_at": _now_iso(),
            "features": [],
            "roles": self._roles(),
            "emojis": [],
            "stickers": [],
            "channels": [
                self._text_channel(self.channel_id, self.guild_id),
                self._text_channel(self.nsfw_channel_id, self.guild_id),
            ],
            "threads": [],
            "members": [me],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
        }

    def _command_id(self, name: str, guild_id: int | None) -> str:
        for scope in (str(guild_id) if guild_id else None, None):
            for command in self.commands(int(scope) if scope else None):
                if command["name"] == name:
                    return str(command["id"])
        return str(self.snowflake())

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": str(self.bot_user_id),
            "username": "atelier",
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": True,
            "verified": True,
            "mfa_enabled": False,
            "flags": 0,
            "public_flags": 0,
        }

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    @web.middleware
    async def _record(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if request.path.startswith(API_PREFIX):
            payload, files = await self._read_body(request)
            recorded = Recorded(
                method=request.method,
                path=request.path[len(API_PREFIX) :],
                query=dict(request.query),
                json=payload,
                files=tuple(files),
                authorization=request.headers.get("Authorization"),
                at=time.monotonic(),
            )
            request[RECORDED] = recorded
            with self._changed:
                self._state.requests.append(recorded)
                self._changed.notify_all()
        response: web.StreamResponse = await handler(request)
        return response

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if not request.body_exists:
            return None, []
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":
                    payload = json.loads(data)
                elif part.filename is not None:
                    files.append(UploadedFile(part.filename, bytes(data), part.headers.get("Content-Type")))
            return payload, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    def _message(self, channel_id: str, body: Any, files: Sequence[UploadedFile], **extra: Any) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        message_id = str(self.snowflake())
        attachments = self._attachments(channel_id, message_id, files)
        message = {
            "id": message_id,
            "type": 0,
            "channel_id": channel_id,
            "author": self._bot_user(),
            "content": body.get("content") or "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "flags": int(body.get("flags") or 0),
            **extra,
        }
        with self._changed:
            self._state.messages[message_id] = message
            self._changed.notify_all()
        return message

    def _attachments(self, channel_id: str, message_id: str, files: Sequence[UploadedFile]) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/attachments/{channel_id}/{message_id}"
        with self._changed:
            for f in files:
                self._state.files[f"/attachments/{channel_id}/{message_id}/{f.filename}"] = f.data
        return [
            {
                "id": str(self.snowflake()),
                "filename": f.filename,
                "size": len(f.data),
                "url": f"{url}/{f.filename}",
                "proxy_url": f"{url}/{f.filename}",
                "content_type": f.content_type or "application/octet-stream",
            }
            for f in files
        ]

    # -- REST --------------------------------------------------------------------------------------

    async def _get_me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        return _json(self._bot_user())

    async def _get_application(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        owner = {"id": "300000000000000099", "username": "owner", "discriminator": "0", "avatar": None}
        return _json(
            {
                "id": str(self.app_id),
                "name": "Atelier (fake)",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": owner,
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "redirect_uris": [],
                "interactions_endpoint_url": None,
            }
        )

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _get_gateway(self, _request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    def _command_scope(self, request: web.Request) -> str | None:
        return request.match_info.get("guild")

    async def _put_commands(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        if request.match_info["app"] != str(self.app_id):
            return _error(403, 50001, "Missing Access")
        scope = self._command_scope(request)
        stored = []
        for command in request[RECORDED].json or []:
            entry = {
                "type": 1,
                "description": "",  # context-menu commands have none; Discord answers ""
                "default_member_permissions": None,
                "nsfw": False,
                **command,
                "id": str(self.snowflake()),
                "application_id": str(self.app_id),
                "version": str(self.snowflake()),
            }
            if scope is not None:
                entry["guild_id"] = scope
            stored.append(entry)
        with self._changed:
            self._state.commands[scope] = stored
            self._changed.notify_all()
        return _json(stored)

    async def _get_commands(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        with self._changed:
            return _json(self._state.commands.get(self._command_scope(request), []))

    async def _callback(self, request: web.Request) -> web.Response:
        with self._changed:
            record = self._state.interactions.get(request.match_info["id"])
            fresh = record is not None and time.monotonic() - record.sent.at <= INTERACTION_DEADLINE_SECONDS
            if record is None or record.sent.token != request.match_info["token"] or not fresh:
                return _error(404, 10062, "Unknown interaction")
            if record.acknowledged:
                return _error(400, 40060, "Interaction has already been acknowledged.")
            record.acknowledged = True
        body = request[RECORDED].json or {}
        kind = int(body.get("type", 0))
        answer: dict[str, Any] = {
            "interaction": {
                "id": record.sent.id,
                "type": record.kind,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(int((body.get("data") or {}).get("flags") or 0) & EPHEMERAL),
            }
        }
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            message = self._message(
                str(record.sent.channel_id),
                body.get("data") or {},
                request[RECORDED].files,
                interaction={"id": record.sent.id, "type": record.kind, "name": record.name, "user": record.user},
            )
            record.original_id = message["id"]
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": kind, "message": message}
        elif kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE) and record.source_message_id is not None:
            # A button's response: the "original" is now the message the button is on.
            record.original_id = record.source_message_id
            with self._changed:
                message = self._state.messages.get(record.source_message_id)
            if kind == UPDATE_MESSAGE and message is not None:
                self._edit(message, body.get("data") or {}, request[RECORDED].files)
        if "with_response" not in request.query:
            return web.Response(status=204)
        return _json(answer)

    def _webhook_target(self, request: web.Request) -> _Interaction | web.Response:
        with self._changed:
            record = self._state.by_token.get(request.match_info["token"])
        if request.match_info["app"] != str(self.app_id) or record is None:
            return _error(404, 10015, "Unknown Webhook")
        if record.expired:
            return _error(401, 50027, "Invalid Webhook Token")
        return record

    async def _followup(self, request: web.Request) -> web.Response:
        record = self._webhook_target(request)
        if isinstance(record, web.Response):
            return record
        recorded: Recorded = request[RECORDED]
        message = self._message(str(record.sent.channel_id), recorded.json, recorded.files, webhook_id=str(self.app_id))
        if request.query.get("wait", "false").lower() not in ("true", "1"):
            return web.Response(status=204)
        return _json(message)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_target(request)
        if isinstance(record, web.Response):
            return record
        wanted = request.match_info["message"]
        message_id = record.original_id if wanted == "@original" else wanted
        with self._changed:
            message = self._state.messages.get(message_id or "")
        if message is None:
            return _error(404, 10008, "Unknown Message")
        if request.method == "DELETE":
            with self._changed:
                del self._state.messages[message["id"]]
                self._changed.notify_all()
            return web.Response(status=204)
        if request.method == "PATCH":
            recorded: Recorded = request[RECORDED]
            self._edit(message, recorded.json, recorded.files)
        return _json(message)

    def _edit(self, message: dict[str, Any], body: Any, files: Sequence[UploadedFile]) -> None:
        """Apply an edit as Discord does: fields left out stay; `attachments` lists the old ones to keep,
        and uploaded files are added."""
        body = body if isinstance(body, dict) else {}
        with self._changed:
            if "content" in body:
                message["content"] = body["content"] or ""
            if "components" in body:
                message["components"] = body["components"] or []
            if "embeds" in body:
                message["embeds"] = body["embeds"] or []
            if "attachments" in body or files:
                keep = {str(a.get("id")) for a in body.get("attachments") or []}
                kept = [a for a in message["attachments"] if a["id"] in keep]
                message["attachments"] = kept + self._attachments(message["channel_id"], message["id"], files)
            message["edited_timestamp"] = _now_iso()
            self._changed.notify_all()

    async def _channel_message(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        recorded: Recorded = request[RECORDED]
        return _json(self._message(request.match_info["channel"], recorded.json, recorded.files))

    async def _existing_channel_message(self, request: web.Request) -> web.Response:
        """Edit or delete a message with the bot token (the bot's own messages only, as a bot without
        Manage Messages may)."""
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        with self._changed:
            message = self._state.messages.get(request.match_info["message"])
        if message is None or message["channel_id"] != request.match_info["channel"]:
            return _error(404, 10008, "Unknown Message")
        if message["author"]["id"] != str(self.bot_user_id) or message["flags"] & EPHEMERAL:
            return _error(403, 50005, "Cannot edit a message authored by another user")
        if request.method == "DELETE":
            with self._changed:
                del self._state.messages[message["id"]]
                self._changed.notify_all()
            return web.Response(status=204)
        recorded: Recorded = request[RECORDED]
        self._edit(message, recorded.json, recorded.files)
        return _json(message)

    async def _attachment(self, request: web.Request) -> web.Response:
        """An attachment's bytes, as Discord's CDN serves them (no authorization)."""
        with self._changed:
            data = self._state.files.get(request.path)
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    async def _unknown(self, _request: web.Request) -> web.Response:
        return _error(404, 0, "404: Not Found")

    # -- gateway -------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(message.data)
                with self._changed:
                    self._state.gateway_frames.append(frame)
                    self._changed.notify_all()
                await self._on_frame(ws, frame)
        finally:
            self._sockets.discard(ws)
            if self._session is ws:
                self._session = None
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: Mapping[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d") or {}
        if op == 1:  # heartbeat
            await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
        elif op == 2:  # identify
            if data.get("token") != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
                return
            self._session = ws
            with self._changed:
                self._state.intents = int(data.get("intents") or 0)
            ready = {
                "v": 10,
                "user": self._bot_user(),
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "session_id": f"session-{self.snowflake()}",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.app_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
            }
            await self._dispatch("READY", ready)
            if int(data.get("intents") or 0) & GUILDS_INTENT:
                await self._dispatch("GUILD_CREATE", self._guild())
            with self._changed:
                self._state.identified += 1
                self._changed.notify_all()
        elif op == 6:  # resume
            self._session = ws
            await self._dispatch("RESUMED", {})


def subcommand(*path: str, options: Sequence[Mapping[str, Any]] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
    """The options of an interaction for a subcommand: `subcommand("ban", "add", options={"term": "x"})`
    is `/… ban add term:x` (a subcommand group, then a subcommand, then its options)."""
    if isinstance(options, Mapping):
        inner = [{"name": k, "type": _option_type(v), "value": v} for k, v in options.items() if v is not None]
    else:
        inner = [dict(o) for o in options]
    for depth, name in reversed(list(enumerate(path))):
        kind = SUB_COMMAND if depth == len(path) - 1 else SUB_COMMAND_GROUP
        inner = [{"name": name, "type": kind, **({"options": inner} if inner or kind == SUB_COMMAND_GROUP else {})}]
    return inner
