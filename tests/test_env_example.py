"""`.env.example` names every setting a deployment can change, so none is only discoverable in code."""

from __future__ import annotations

import inspect
from pathlib import Path

from pydantic_settings import BaseSettings

from atelier import logging_setup, settings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def setting_names() -> set[str]:
    classes = [
        cls
        for module in (settings, logging_setup)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseSettings) and cls.__module__ == module.__name__ and cls is not settings.Settings
    ]
    return {f"ATELIER_{field.upper()}" for cls in classes for field in cls.model_fields}


def test_every_setting_is_in_the_example() -> None:
    example, names = EXAMPLE.read_text(), setting_names()
    assert len(names) > 30  # the settings classes were found
    assert sorted(name for name in names if f"{name}=" not in example) == []
