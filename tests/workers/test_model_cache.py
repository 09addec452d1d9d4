"""The warm-model cache: budgets in bytes, GPU pipelines moved to host memory before any is forgotten.

A GPU is the edge of the world here: the GPU tests use stand-in pipelines that record where they
were moved; the CPU tests use the real loader and the bundled model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.workers.conftest import SHIPPED_MODELS
from workers.model_cache import PipelineCache, pipeline_bytes

MIB = 1024**2


class StandIn:
    """A pipeline of exactly `mib` MiB of weights that remembers its moves."""

    def __init__(self, name: str, mib: int) -> None:
        self.name = name
        self.components = {"unet": torch.nn.Linear(MIB // 4, mib, bias=False)}  # float32: mib MiB
        self.moves: list[str] = []

    def to(self, device: str) -> StandIn:
        self.moves.append(device)
        return self


@pytest.fixture
def store(tmp_path: Path) -> Path:
    for name in "abc":
        (tmp_path / "checkpoints").mkdir(exist_ok=True)
        (tmp_path / "checkpoints" / f"{name}.safetensors").write_bytes(b"x")
    return tmp_path


def recording_loader(loads: list[str]) -> Any:
    def load(path: Path, _models_dir: Path, _device: str) -> StandIn:
        loads.append(path.stem)
        return StandIn(path.stem, 4)

    return load


def test_stand_in_weighs_what_it_says() -> None:
    assert pipeline_bytes(StandIn("a", 4)) == 4 * MIB


def test_gpu_over_budget_moves_the_oldest_to_host_memory(store: Path) -> None:
    """VRAM for one pipeline: loading b moves a to host memory; asking for a again moves it back, no reload."""
    loads: list[str] = []
    cache = PipelineCache(store, "cuda:0", ram_budget=64 * MIB, vram_budget=5 * MIB, loader=recording_loader(loads))
    first = cache.get("checkpoints/a.safetensors")
    second = cache.get("checkpoints/b.safetensors")
    assert first.moves == ["cpu"] and cache.placement() == {
        "checkpoints/a.safetensors": "cpu",
        "checkpoints/b.safetensors": "cuda:0",
    }
    assert cache.get("checkpoints/a.safetensors") is first
    assert (first.moves, second.moves, loads) == (["cpu", "cuda:0"], ["cpu"], ["a", "b"])


def test_gpu_worker_forgets_only_past_the_host_budget(store: Path) -> None:
    """With room for one on the GPU and one in host memory, a third load forgets the least recent."""
    loads: list[str] = []
    cache = PipelineCache(store, "cuda:0", ram_budget=5 * MIB, vram_budget=5 * MIB, loader=recording_loader(loads))
    for name in "abc":
        cache.get(f"checkpoints/{name}.safetensors")
    assert cache.warm() == ["checkpoints/b.safetensors", "checkpoints/c.safetensors"]


def test_cpu_worker_keeps_what_fits_in_ram(store: Path) -> None:
    loads: list[str] = []
    cache = PipelineCache(store, "cpu", ram_budget=9 * MIB, loader=recording_loader(loads))
    for name in "abca":
        cache.get(f"checkpoints/{name}.safetensors")
    assert loads == ["a", "b", "c", "a"] and cache.warm() == ["checkpoints/c.safetensors", "checkpoints/a.safetensors"]


def test_a_pipeline_larger_than_the_budget_still_loads(store: Path) -> None:
    """The model asked for is always kept; the budget only decides what else stays."""
    cache = PipelineCache(store, "cpu", ram_budget=1 * MIB, loader=recording_loader([]))
    assert cache.get("checkpoints/a.safetensors").name == "a"
    assert cache.warm() == ["checkpoints/a.safetensors"]


def test_bundled_model_warm_hit_is_the_same_pipeline() -> None:
    cache = PipelineCache(SHIPPED_MODELS, "cpu")
    pipe = cache.get("checkpoints/atelier-tiny-v1.safetensors")
    assert cache.get("checkpoints/atelier-tiny-v1.safetensors") is pipe
    assert 1 * MIB < pipeline_bytes(pipe) < 100 * MIB
