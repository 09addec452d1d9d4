"""The evaluation's shape classifier, trained through the shipped checkpoint's own VAE."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workers.training import data, pipeline, scoring

MODELS = Path(__file__).resolve().parents[3] / "models"
CHECKPOINT = MODELS / "checkpoints" / f"{pipeline.MODEL_NAME}.safetensors"


@pytest.mark.skipif(not CHECKPOINT.exists(), reason="bundled model not trained yet")
def test_classifier_trained_through_the_vae_recognises_shapes_after_its_round_trip() -> None:
    torch.set_num_threads(1)
    vae = pipeline.load_single_file(CHECKPOINT, MODELS / "configs" / pipeline.MODEL_NAME).vae
    classifier = scoring.train_shape_classifier(
        count=1000, steps=200, round_trip=lambda images: scoring.vae_round_trip(vae, images)
    )
    assert classifier.accuracy_on_ground_truth >= 0.95
    assert classifier.accuracy_on_round_trips is not None and classifier.accuracy_on_round_trips >= 0.9
    # The round trip changes pictures (it is a lossy 4x VAE), so the second accuracy measures something.
    picture = data.render(data.Spec("star", "red", "blue", "small", "center"))
    assert (scoring.vae_round_trip(vae, [picture])[0] != picture).any()
