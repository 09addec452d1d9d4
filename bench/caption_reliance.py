"""Does the bundled model read each word of its caption? A diagnostic behind the shape score of eval_bundled.

Sampling scores (bench/eval_bundled.py) say *that* a prompt's shape is wrong, not *why*. This script asks the
denoiser directly: ground-truth pictures are encoded, noised to timestep t, and the model predicts the clean
picture three times — with the right caption, with one attribute swapped to another value, and with the empty
caption. Each prediction is decoded and scored. A model that reads the attribute draws the swapped value when given
the swapped caption; one that ignores it keeps the truth (read from the noisy picture) whatever the caption says.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/caption_reliance.py [--attribute shape] [--count 96]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from diffusers import DDPMScheduler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.training import data, pipeline, scoring, train  # noqa: E402

#: caption attribute (a `data.Spec` field) -> the values a swap chooses from
ATTRIBUTES = {
    "shape": data.SHAPES,
    "colour": tuple(data.COLOURS),
    "background": tuple(data.COLOURS),
}


def swapped(spec: data.Spec, attribute: str, offset: int) -> data.Spec:
    """The spec with `attribute` moved `offset` places along its value list, skipping values that would put the
    shape's colour on its own background."""
    values = ATTRIBUTES[attribute]
    current = values.index(getattr(spec, attribute))
    for step in range(offset, offset + len(values)):
        candidate = replace(spec, **{attribute: values[(current + step) % len(values)]})
        if candidate.colour != candidate.background and candidate != spec:
            return candidate
    raise ValueError(f"no swap for {attribute} of {spec}")


def read_attribute(attribute: str, images: list[np.ndarray], classifier: scoring.ShapeClassifier) -> list[str | None]:
    if attribute == "shape":
        return list(classifier.predict(images))
    if attribute == "colour":
        return [scoring.shape_colour(image) for image in images]
    return [scoring.background(image)[0] for image in images]


def clean_prediction(output: torch.Tensor, noisy: torch.Tensor, alpha_bar: torch.Tensor, kind: str) -> torch.Tensor:
    """The model's estimate of the clean latent from its output, for each prediction type SD checkpoints use."""
    if kind == "epsilon":
        return (noisy - (1 - alpha_bar).sqrt() * output) / alpha_bar.sqrt()
    if kind == "v_prediction":
        return alpha_bar.sqrt() * noisy - (1 - alpha_bar).sqrt() * output
    if kind == "sample":
        return output
    raise ValueError(f"unknown prediction type {kind!r}")


@torch.no_grad()
def report(pipe: Any, classifier: scoring.ShapeClassifier, attribute: str, count: int, timesteps: list[int]) -> None:
    """One line per timestep: how often the prediction shows the truth / the swapped value, per caption."""
    noise_schedule = DDPMScheduler.from_config(pipe.scheduler.config)
    kind = pipe.scheduler.config.prediction_type
    rng = random.Random("caption-reliance")
    specs = [replace(data.random_spec(rng), size="large", position="center") for _ in range(count)]
    swaps = [swapped(s, attribute, 1 + i % 5) for i, s in enumerate(specs)]
    vae, unet, encoder, tokenizer = pipe.vae, pipe.unet, pipe.text_encoder, pipe.tokenizer
    scale = vae.config.scaling_factor
    latents = vae.encode(train.images_to_tensor([data.render(s) for s in specs])).latent_dist.mean * scale

    def decode(latent: torch.Tensor) -> list[np.ndarray]:
        return train.tensor_to_images(vae.decode(latent / scale).sample)

    captions = {
        "right": [data.caption(s) for s in specs],
        "swapped": [data.caption(s) for s in swaps],
        "empty": [""] * count,
    }
    features = {name: encoder(train.tokenize(tokenizer, texts))[0] for name, texts in captions.items()}
    truth = [getattr(s, attribute) for s in specs]
    other = [getattr(s, attribute) for s in swaps]
    generator = torch.Generator().manual_seed(0)
    for timestep in timesteps:
        noise = torch.randn(latents.shape, generator=generator)
        steps = torch.full((count,), timestep)
        noisy = noise_schedule.add_noise(latents, noise, steps)
        alpha_bar = noise_schedule.alphas_cumprod[timestep]
        cells = []
        for name, hidden in features.items():
            output = unet(noisy, steps, hidden).sample
            read = read_attribute(attribute, decode(clean_prediction(output, noisy, alpha_bar, kind)), classifier)
            follows_truth = np.mean([r == v for r, v in zip(read, truth, strict=True)])
            follows_swap = np.mean([r == v for r, v in zip(read, other, strict=True)])
            cells.append(f"{name} {follows_truth:.0%} / {follows_swap:.0%}")
        print(f"{attribute:10s} t={timestep:4d}: " + " | ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--attribute", choices=sorted(ATTRIBUTES), action="append")
    parser.add_argument("--count", type=int, default=96)
    parser.add_argument("--timesteps", default="200,400,600,800,950")
    args = parser.parse_args()
    torch.set_num_threads(2)
    pipe = pipeline.load_single_file(
        args.models_dir / "checkpoints" / f"{pipeline.MODEL_NAME}.safetensors",
        args.models_dir / "configs" / pipeline.MODEL_NAME,
    )
    classifier = scoring.train_shape_classifier(count=2000, steps=300)
    print(
        f"{pipe.scheduler.config.prediction_type} model, {args.count} large centred pictures; each cell: the clean "
        "prediction shows the truth / the swapped caption's value"
    )
    for attribute in args.attribute or ["shape"]:
        report(pipe, classifier, attribute, args.count, [int(t) for t in args.timesteps.split(",")])


if __name__ == "__main__":
    main()
