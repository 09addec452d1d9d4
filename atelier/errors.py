"""Errors that reach users. Each says what is wrong and where, so the bot and the gallery can
show it as it is (an ephemeral Discord message, an inline form error) instead of a traceback."""

from __future__ import annotations


class AtelierError(Exception):
    """Base of every error meant for a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(AtelierError):
    """A field of a request is out of bounds or malformed; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class NotFound(AtelierError):
    """A job, image or model that the request names does not exist (or is hidden from the caller)."""


class ModelRefused(AtelierError):
    """A model file the store will not take (a pickle, an unknown layout, a LyCORIS type the workers
    cannot apply); the message names the file, what was found and what to do instead."""


class Forbidden(AtelierError):
    """The caller may not do this to this object (e.g. cancel another member's job)."""


class Refused(AtelierError):
    """A fair-share rule stops the request for now (queue cap, daily quota); the message says until when."""
