"""Through a real worker on the shipped model store: two LoRAs with their own weights, and every sampler."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from atelier import queue as atelier_queue
from atelier.db import session_scope
from atelier.samplers import supported_samplers
from atelier.schema import Image, JobState
from atelier.services.models import scan
from atelier.settings import Settings, get_settings, load_settings
from tests.helpers.processes import Process, running_worker
from tests.workers.conftest import SHIPPED_MODELS
from tests.workers.test_render_task import submit_job, wait_for_state

pytestmark = pytest.mark.slow


def flipped_lora(source: Path, target: Path) -> None:
    """A second, different LoRA: the shipped one with its up-projections negated (it removes stripes)."""
    tensors = load_file(source)
    save_file({key: -value if ".lora_up." in key else value for key, value in tensors.items()}, target)


@pytest.fixture
def shipped(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The test's database and Redis, with a copy of the shipped store plus a second LoRA."""
    store = tmp_path / "models"
    shutil.copytree(SHIPPED_MODELS, store, ignore=shutil.ignore_patterns("*.md"))
    flipped_lora(store / "loras" / "atelier-stripes-v1.safetensors", store / "loras" / "atelier-flat-v1.safetensors")
    monkeypatch.setenv("ATELIER_MODELS_DIR", str(store))
    monkeypatch.setenv("ATELIER_DEFAULT_CHECKPOINT", "atelier-tiny-v1")
    get_settings.cache_clear()
    atelier_queue.forget_apps()
    chosen = load_settings()
    with session_scope(chosen.database_url) as session:
        scan(session, store, "atelier-tiny-v1")
    yield chosen
    get_settings.cache_clear()


@pytest.fixture
def shipped_worker(shipped: Settings, tmp_path: Path) -> Iterator[Process]:
    with running_worker(tmp_path / "worker.log") as process:
        yield process


def image_of(settings: Settings, job_id: int) -> Image:
    job = wait_for_state(settings, job_id, {JobState.DONE, JobState.FAILED})
    assert job.state == JobState.DONE, job.error
    with session_scope(settings.database_url) as session:
        image = session.query(Image).filter_by(job_id=job_id).one()
        session.expunge(image)
        return image


def test_two_loras_with_their_own_weights(shipped_worker: Process, shipped: Settings) -> None:
    """Both LoRAs apply at their weights (the image differs from either alone) and infotext names both."""
    prompt = "a red circle on a blue background, atelierstripes"
    both = f"{prompt} <lora:atelier-stripes-v1:0.9> <lora:atelier-flat-v1:0.4>"
    base = {"seed": 3, "steps": 8, "width": 64, "height": 64}
    images = [
        image_of(shipped, submit_job(shipped, prompt=text, **base))
        for text in (both, f"{prompt} <lora:atelier-stripes-v1:0.9>", f"{prompt} <lora:atelier-flat-v1:0.4>")
    ]
    assert len({image.file_path for image in images}) == 3
    assert "atelier-stripes-v1: " in images[0].infotext and "atelier-flat-v1: " in images[0].infotext


def test_every_sampler_renders(shipped_worker: Process, shipped: Settings) -> None:
    """One job per A1111 sampler name this installation offers, all done through the worker."""
    samplers = sorted(supported_samplers())
    jobs = {name: submit_job(shipped, sampler=name, steps=4, width=64, height=64) for name in samplers}
    for name, job_id in jobs.items():
        assert f"Sampler: {name}" in image_of(shipped, job_id).infotext, name
