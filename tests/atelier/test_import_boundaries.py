"""The import rules of ARCHITECTURE.md, checked in fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["torch", "diffusers", "transformers"]
RULES = {
    "atelier": [*HEAVY, "discord", "fastapi", "starlette", "bot", "gallery", "workers"],
    "atelier.cli": [*HEAVY, "discord", "fastapi", "starlette", "bot", "gallery", "workers"],
    "bot.client": [*HEAVY, "fastapi", "starlette", "gallery", "workers"],
    "gallery.app": [*HEAVY, "discord", "bot", "workers"],
    "workers.app": ["discord", "fastapi", "starlette", "bot", "gallery"],
}


@pytest.mark.parametrize(("module", "forbidden"), RULES.items())
def test_module_imports_nothing_forbidden(module: str, forbidden: list[str]) -> None:
    """Importing the module loads none of the packages it must stay clear of."""
    code = f"import sys, json, {module}; print(json.dumps(sorted(m for m in {forbidden!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
