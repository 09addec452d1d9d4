"""One logging setup for every process: key=value or JSON lines, job ids on job lines, no secrets."""

from __future__ import annotations

import io
import json
import logging
import shlex
from collections.abc import Iterator

import pytest

from atelier.logging_setup import HANDLER_NAME, job_context, setup_logging
from atelier.settings import DatabaseSettings, DiscordSettings, RedisSettings, Settings, WebSettings

PASSWORD = "pg-hunter2-pw"
REDIS_PASSWORD = "redis-s3cret-pw"
SECRET_KEY = "gallery-signing-key-0123456789"
TOKEN = "discord.bot.token.abcdef"
DATABASE_URL = f"postgresql+psycopg://atelier:{PASSWORD}@db:5432/atelier"


@pytest.fixture
def output(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the root logger writes, in text format unless a test sets ATELIER_LOG_FORMAT first."""
    stream = io.StringIO()
    yield stream
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)


def _settings() -> Settings:
    return Settings(
        database=DatabaseSettings(database_url=DATABASE_URL),
        redis=RedisSettings(redis_url=f"redis://:{REDIS_PASSWORD}@redis:6379/0"),
        discord=DiscordSettings(discord_token=TOKEN),
        web=WebSettings(secret_key=SECRET_KEY, oauth_client_secret="oauth-client-secret-xyz"),
    )


def test_secrets_never_reach_the_log(output: io.StringIO) -> None:
    """A settings object, a URL and a trace holding secrets are logged with every secret blanked."""
    settings = _settings()
    setup_logging(settings, stream=output)
    log = logging.getLogger("atelier.test")
    log.info("settings: %r", settings)
    log.warning("connecting to %s", DATABASE_URL)
    try:
        raise ConnectionError(f"could not reach {DATABASE_URL} with token {TOKEN}")
    except ConnectionError:
        log.exception("startup failed")
    text = output.getvalue()
    for secret in (PASSWORD, REDIS_PASSWORD, SECRET_KEY, TOKEN, "oauth-client-secret-xyz"):
        assert secret not in text
    assert "postgresql+psycopg://atelier:***@db:5432/atelier" in text
    assert "ConnectionError" in text


def test_an_unknown_url_password_is_blanked_too(output: io.StringIO) -> None:
    """A password in any URL is blanked even when no settings named it."""
    setup_logging(stream=output)
    logging.getLogger("atelier.test").info("broker at amqp://guest:guest-pw-99@rabbit//")
    assert "guest-pw-99" not in output.getvalue()
    assert "amqp://guest:***@rabbit//" in output.getvalue()


def test_text_lines_are_key_value_pairs(output: io.StringIO) -> None:
    """Text format: one logfmt line per record with time, level, logger and the quoted message."""
    setup_logging(stream=output)
    logging.getLogger("workers.tasks").warning('job 5: "odd" = yes')
    pairs = dict(part.split("=", 1) for part in shlex.split(output.getvalue().strip()))
    assert set(pairs) == {"ts", "level", "logger", "msg"}
    assert (pairs["level"], pairs["logger"], pairs["msg"]) == ("warning", "workers.tasks", 'job 5: "odd" = yes')


def test_lines_inside_a_job_carry_its_id(output: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON format: records logged while a job renders carry job_id; others do not; extra= names one too."""
    monkeypatch.setenv("ATELIER_LOG_FORMAT", "json")
    setup_logging(stream=output)
    log = logging.getLogger("workers.tasks")
    with job_context(42):
        log.info("rendering")
    with job_context(7, 8):
        log.info("batch")
    log.info("idle")
    log.info("queued", extra={"job_id": 9})
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    assert [(line["msg"], line.get("job_id")) for line in lines] == [
        ("rendering", "42"), ("batch", "7,8"), ("idle", None), ("queued", 9),
    ]  # fmt: skip
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "workers.tasks"


def test_setting_up_twice_keeps_one_handler(output: io.StringIO) -> None:
    """A second setup replaces the first handler, so no line is written twice."""
    setup_logging(stream=io.StringIO())
    setup_logging(stream=output)
    logging.getLogger("atelier.test").info("once")
    assert output.getvalue().count("once") == 1
