"""One logging setup for every process (worker, gallery, bot, `atelier up`): one line per record, as
key=value pairs (`ATELIER_LOG_FORMAT=text`, the default) or JSON objects (`json`), for log shippers.

Lines about a job carry `job_id`: the worker sets it for the render it runs (`job_context`), and any
call may pass `extra={"job_id": ...}`. Secrets never reach the output: the handler's filter blanks
passwords inside URLs and every secret value the settings hold, in the message, its arguments and
the exception's trace alike, so logging a settings object or a connection error is safe.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

REDACTED = "***"
URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?=@)")
SECRET_FIELD_WORDS = ("secret", "token", "password")
HANDLER_NAME = "atelier"

_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("atelier_job_id", default=None)


class LogSettings(BaseSettings):
    """How processes log; read on its own so even a process whose other settings are invalid can say so."""

    model_config = SettingsConfigDict(env_prefix="ATELIER_", env_file=".env", extra="ignore")

    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"


@contextlib.contextmanager
def job_context(*job_ids: int) -> Iterator[None]:
    """Every record logged inside (in this thread or task) carries `job_id` (several: "4,5")."""
    token = _job_id.set(",".join(str(job_id) for job_id in job_ids))
    try:
        yield
    finally:
        _job_id.reset(token)


def current_job_id() -> str | None:
    return _job_id.get()


def secret_values(settings: Any) -> list[str]:
    """Secrets a settings object holds: fields named like secrets, and passwords inside URL fields."""
    found: list[str] = []
    stack = [settings]
    while stack:
        item = stack.pop()
        if isinstance(item, BaseSettings):
            for name in type(item).model_fields:
                value = getattr(item, name)
                if isinstance(value, BaseSettings):
                    stack.append(value)
                elif isinstance(value, str) and value:
                    if any(word in name for word in SECRET_FIELD_WORDS):
                        found.append(value)
                    found.extend(match.group("password") for match in URL_PASSWORD.finditer(value))
    return found


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL passwords and the given secret values replaced by `***`."""
    text = URL_PASSWORD.sub(lambda match: match.group("head") + REDACTED, text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:  # a one-letter "secret" would blank every log line
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites each record before any formatter sees it: message (arguments merged in) and trace."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


class JobContext(logging.Filter):
    """Adds `job_id` from the job being rendered, unless the call passed its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            record.job_id = _job_id.get()
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
    }
    job_id = getattr(record, "job_id", None)
    if job_id is not None:
        fields["job_id"] = job_id
    fields["msg"] = record.getMessage()
    if record.exc_text:
        fields["exc"] = record.exc_text
    return fields


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' ="\\\n\t') and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=info logger=workers.tasks job_id=5 msg="job 5: done in 1.20s"` (logfmt)."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in _fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the same keys as the key=value format."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), ensure_ascii=False, default=str)


def make_handler(stream: Any = None, log_format: str = "text", secrets: Iterable[str] = ()) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(JobContext())
    handler.addFilter(RedactSecrets(secrets))
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    return handler


def setup_logging(settings: Any = None, stream: Any = None) -> logging.Handler:
    """Make the root logger write this process's lines; call once at start (again replaces the handler).
    `settings` (an `atelier.settings.Settings`) names the secrets to keep out of the output."""
    chosen = LogSettings()
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    handler = make_handler(stream, chosen.log_format, secret_values(settings) if settings is not None else ())
    root.addHandler(handler)
    root.setLevel(chosen.log_level.upper())
    return handler
