"""`python -m bot` as a process: refusing to start, staying off the GPU and web stacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.fake_discord import FakeDiscord

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("torch", "diffusers", "transformers", "fastapi", "starlette", "gallery", "workers")


def run_bot(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_refuses_to_start_without_a_token() -> None:
    """With no token the bot exits with status 2 and says which setting to fill in."""
    result = run_bot({"ATELIER_DISCORD_TOKEN": ""})
    assert result.returncode == 2
    assert "ATELIER_DISCORD_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_rejected_token_stops_with_a_clear_message(tmp_path: Path) -> None:
    """A token Discord refuses ends the process with status 1 and a sentence, not a traceback."""
    with FakeDiscord() as fake:
        env = {
            **fake.env(),
            "ATELIER_DISCORD_TOKEN": "not-the-token",
            "ATELIER_DATABASE_URL": f"sqlite:///{tmp_path / 'atelier.db'}",
            "ATELIER_DATA_DIR": str(tmp_path / "data"),
            "ATELIER_SECRET_KEY": "test-secret-key",
        }
        result = run_bot(env)
    assert result.returncode == 1, result.stderr
    assert "refused ATELIER_DISCORD_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_bot_imports_no_gpu_web_or_sibling_package() -> None:
    """Importing the bot loads neither torch/diffusers/transformers, nor FastAPI, nor gallery/workers."""
    probe = (
        "import sys, bot.__main__, bot.client, bot.delivery, bot.draw, bot.store\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
