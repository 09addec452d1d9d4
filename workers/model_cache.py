"""The worker's warm models: pipelines kept loaded within a RAM and a VRAM budget.

Loading a checkpoint from disk takes seconds (SD1.5) to tens of seconds (SDXL); moving one between
host and GPU memory takes a fraction of that. So the cache keeps the most recently used pipelines on
the GPU while they fit the VRAM budget, moves the least recently used ones to host memory rather
than dropping them, and forgets pipelines only when host memory is over its budget too. A worker
reports the checkpoints it holds so the scheduler can send it jobs that need no load at all.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from workers.engine import ModelNotLoadable, load_pipeline

log = logging.getLogger(__name__)

GIB = 1024**3
HOST = "cpu"

Loader = Callable[[Path, Path, str], Any]


def pipeline_bytes(pipe: Any) -> int:
    """Bytes of every weight and buffer of the pipeline's torch components."""
    total = 0
    for component in getattr(pipe, "components", {}).values():
        if isinstance(component, torch.nn.Module):
            total += sum(t.numel() * t.element_size() for t in (*component.parameters(), *component.buffers()))
    return total


def default_ram_budget() -> int:
    """Half of the machine's memory: the rest is for the render's activations, the OS and other services."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (OSError, ValueError, AttributeError):
        return 8 * GIB


def default_vram_budget(device: str) -> int:
    """90% of the GPU's memory, leaving room for activations of the render itself; 0 off the GPU."""
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return 0
    return int(torch.cuda.get_device_properties(torch.device(device)).total_memory * 0.9)


class PipelineCache:
    """Most recently used pipelines on the device, the next ones in host memory, the rest forgotten."""

    def __init__(
        self,
        models_dir: Path,
        device: str,
        *,
        ram_budget: int | None = None,
        vram_budget: int | None = None,
        loader: Loader = load_pipeline,
    ) -> None:
        self.models_dir = models_dir
        self.device = device
        self.ram_budget = default_ram_budget() if ram_budget is None else ram_budget
        self.vram_budget = default_vram_budget(device) if vram_budget is None else vram_budget
        self._load = loader
        self._pipes: OrderedDict[Path, Any] = OrderedDict()
        self._where: dict[Path, str] = {}
        self._sizes: dict[Path, int] = {}
        self._lock = threading.Lock()  # the housekeeping thread reads `warm()` while a job loads

    @property
    def on_gpu(self) -> bool:
        return self.device != HOST

    def get(self, relative_path: str) -> Any:
        path = (self.models_dir / relative_path).resolve()
        if not path.is_relative_to(self.models_dir.resolve()) or not path.exists():
            raise ModelNotLoadable(f"{relative_path}: not found in the model store")
        with self._lock:
            if path in self._pipes:
                self._pipes.move_to_end(path)
                if self._where[path] != self.device:
                    self._fit_device(self._sizes[path], keep=path)
                    self._pipes[path].to(self.device)
                    self._where[path] = self.device
                return self._pipes[path]
        pipe = self._load(path, self.models_dir, self.device)
        size = pipeline_bytes(pipe)
        with self._lock:
            self._fit_device(size, keep=path)
            self._pipes[path], self._where[path], self._sizes[path] = pipe, self.device, size
            self._fit_host()
        return pipe

    def _fit_device(self, incoming: int, keep: Path) -> None:
        """On a GPU: move least recently used pipelines to host memory until `incoming` bytes fit."""
        if not self.on_gpu:
            return
        on_device = [p for p in self._pipes if self._where[p] == self.device and p != keep]
        used = sum(self._sizes[p] for p in on_device)
        for path in on_device:
            if used + incoming <= self.vram_budget:
                break
            log.info("moving %s to host memory to make room on %s", path.name, self.device)
            self._pipes[path].to(HOST)
            self._where[path] = HOST
            used -= self._sizes[path]
        if self.device.startswith("cuda") and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _fit_host(self) -> None:
        """Forget least recently used pipelines while host memory holds more than its budget.
        On a CPU worker every pipeline counts; on a GPU worker, those moved to host memory."""
        newest = next(reversed(self._pipes))
        while True:
            held = [p for p in self._pipes if (not self.on_gpu or self._where[p] == HOST) and p != newest]
            in_host = sum(self._sizes[p] for p in held) + (0 if self.on_gpu else self._sizes[newest])
            if not held or in_host <= self.ram_budget:
                return
            oldest = held[0]
            log.info("forgetting %s: over the host memory budget", oldest.name)
            del self._pipes[oldest], self._where[oldest], self._sizes[oldest]

    def warm(self) -> list[str]:
        """Checkpoints held (on the device or in host memory), as store-relative paths, most recent last."""
        with self._lock:
            return [str(p.relative_to(self.models_dir.resolve())) for p in self._pipes]

    def placement(self) -> dict[str, str]:
        """Where each held checkpoint is: the device or host memory (for `atelier status` and logs)."""
        with self._lock:
            return {str(p.relative_to(self.models_dir.resolve())): where for p, where in self._where.items()}
