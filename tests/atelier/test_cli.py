"""The `atelier models` commands, run through typer's test runner with the real services."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atelier.cli import app
from atelier.db import session_factory
from atelier.schema import ModelFile
from atelier.settings import Settings, get_settings
from tests.helpers import model_files as files


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Iterator[Path]:
    """An empty model store and a fresh database, as the CLI's settings."""
    for key, value in {
        "ATELIER_DATABASE_URL": database_url,
        "ATELIER_DATA_DIR": str(tmp_path / "data"),
        "ATELIER_MODELS_DIR": str(tmp_path / "models"),
        "ATELIER_SECRET_KEY": "test-secret-key",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield tmp_path / "models"
    get_settings.cache_clear()


def test_models_import_reports_what_it_registered(store: Path, tmp_path: Path, database_url: str) -> None:
    """`models import` prints kind, name, base, store path and hashes, and the row exists."""
    source = files.sdxl_checkpoint(tmp_path / "juggernaut.safetensors")
    result = CliRunner().invoke(app, ["models", "import", str(source)])
    assert result.exit_code == 0, result.output
    placed = store / "checkpoints" / "juggernaut.safetensors"
    assert result.stdout.startswith(f"imported checkpoint 'juggernaut' (sdxl) as {placed}; AutoV2 ")
    with session_factory(database_url)() as session:
        assert session.query(ModelFile).one().base_arch == "sdxl"


def test_models_import_says_when_a_single_file_has_no_config_folder(store: Path, tmp_path: Path) -> None:
    """A single-file checkpoint without models/configs/<name>/ gets a note on stderr: workers need one."""
    result = CliRunner().invoke(app, ["models", "import", str(files.sdxl_checkpoint(tmp_path / "xl.safetensors"))])
    assert result.exit_code == 0
    assert result.stderr == (
        f"note: no diffusers config folder ({store / 'configs' / 'xl'} or {store / 'configs' / 'sdxl'}) "
        "with model_index.json yet: "
        "workers need one to load this file\n"
    )


def test_models_import_refuses_a_pickle_with_a_sentence(store: Path, tmp_path: Path) -> None:
    """A .ckpt is refused on stderr with exit 1 and the conversion advice, no traceback."""
    source = tmp_path / "old.ckpt"
    source.write_bytes(pickle.dumps({"w": 1}))
    result = CliRunner().invoke(app, ["models", "import", str(source), "--kind", "checkpoint"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # a clean exit, nothing raised
    assert result.stderr.startswith(f"refused: {source}: pickle files can run code when loaded")
    assert "Traceback" not in result.output


def test_models_import_checks_the_given_kind(store: Path, tmp_path: Path) -> None:
    """--kind lora on an embedding is refused, saying what the file looks like."""
    source = files.embedding(tmp_path / "sun.safetensors", 768)
    result = CliRunner().invoke(app, ["models", "import", str(source), "--kind", "lora"])
    assert result.exit_code == 1
    assert "looks like a textual-inversion embedding, not a LoRA" in result.stderr


def test_models_tokenizer_writes_a_loadable_folder(tmp_path: Path) -> None:
    """`models tokenizer DIR` writes the CLIP tokenizer files there."""
    result = CliRunner().invoke(app, ["models", "tokenizer", str(tmp_path / "tok")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == [
        "merges.txt",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "vocab.json",
    ]


def test_models_tokenizer_names_a_bad_source(tmp_path: Path) -> None:
    """A --bpe file that does not exist is an error sentence and exit 1."""
    result = CliRunner().invoke(app, ["models", "tokenizer", str(tmp_path / "tok"), "--bpe", str(tmp_path / "no.gz")])
    assert result.exit_code == 1 and f"error: {tmp_path / 'no.gz'}: no such file" in result.stderr


def test_cancel_stops_a_waiting_job(registered: Settings) -> None:
    """`atelier cancel ID` cancels as the operator and says so; a second time it explains why not."""
    from atelier.schema import Job, JobSource, JobState
    from atelier.services.jobs import submit

    with session_factory(registered.database_url)() as session:
        job_id = submit(session, registered, {"prompt": "a red circle"}, source=JobSource.CLI).id
    first = CliRunner().invoke(app, ["cancel", str(job_id)])
    assert first.exit_code == 0 and first.stdout.strip() == f"job {job_id} cancelled"
    with session_factory(registered.database_url)() as session:
        assert session.get(Job, job_id).state == JobState.CANCELLED  # type: ignore[union-attr]
    again = CliRunner().invoke(app, ["cancel", str(job_id)])
    assert again.exit_code == 1 and "already cancelled" in again.stderr


def test_mod_ban_and_unban(registered: Settings) -> None:
    """`atelier mod ban` adds a rule that `mod bans` lists and `mod unban` removes."""
    runner = CliRunner()
    assert runner.invoke(app, ["mod", "ban", "Gore", "--reason", "see #rules"]).stdout.strip() == (
        "banned 'gore': see #rules"
    )
    assert runner.invoke(app, ["mod", "bans"]).stdout.strip() == "gore\tsee #rules"
    assert runner.invoke(app, ["mod", "unban", "gore"]).exit_code == 0
    missing = runner.invoke(app, ["mod", "unban", "gore"])
    assert missing.exit_code == 1 and "not a banned term" in missing.stderr
