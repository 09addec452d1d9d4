"""The bundled model, loaded once for the worker tests that need real images (shapes and colours)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="session")
def bundled() -> Any:
    """The shipped atelier-tiny-v1 pipeline, through the worker's own loader."""
    from workers.model_cache import PipelineCache

    return PipelineCache(SHIPPED_MODELS, "cpu").get("checkpoints/atelier-tiny-v1.safetensors")
