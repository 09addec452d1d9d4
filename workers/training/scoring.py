"""Automatic scoring of rendered pictures against the generator's ground truth.

The bundled model's world is one flat shape on a flat background, so simple measurements suffice: the background
colour is the majority palette colour of the border; the shape is every pixel far from that colour; its colour is
the palette colour nearest their median; its kind comes from a tiny CNN trained (seeded, seconds) on masks of
generated pictures; stripes show up as much more vertical than horizontal gradient energy. Every scorer is checked
against ground-truth renders in the eval, so a score reflects the model, not the scorer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from workers.training import data, train

_PALETTE_NAMES = list(data.COLOURS)
_PALETTE = np.array([data.COLOURS[n] for n in _PALETTE_NAMES], dtype=np.float32)
_SHAPE_THRESHOLD = 70.0  # RGB distance from the background that counts as "shape"


def nearest_colour(rgb: np.ndarray) -> str:
    return _PALETTE_NAMES[int(np.argmin(((_PALETTE - rgb[None, :]) ** 2).sum(axis=1)))]


def _border(image: np.ndarray, width: int = 3) -> np.ndarray:
    top, bottom = image[:width].reshape(-1, 3), image[-width:].reshape(-1, 3)
    left, right = image[width:-width, :width].reshape(-1, 3), image[width:-width, -width:].reshape(-1, 3)
    return np.concatenate([top, bottom, left, right]).astype(np.float32)


def background(image: np.ndarray) -> tuple[str, np.ndarray]:
    """Majority palette colour of the border pixels, and the median RGB of those pixels."""
    pixels = _border(image)
    labels = ((pixels[:, None, :] - _PALETTE[None]) ** 2).sum(axis=2).argmin(axis=1)
    winner = int(np.bincount(labels, minlength=len(_PALETTE)).argmax())
    return _PALETTE_NAMES[winner], np.median(pixels[labels == winner], axis=0)


def shape_mask(image: np.ndarray) -> np.ndarray:
    _, bg = background(image)
    return bool_mask(np.sqrt(((image.astype(np.float32) - bg) ** 2).sum(axis=2)) > _SHAPE_THRESHOLD)


def bool_mask(mask: np.ndarray) -> np.ndarray:
    return mask.astype(bool)


def shape_colour(image: np.ndarray) -> str | None:
    mask = shape_mask(image)
    if mask.sum() < 6:
        return None
    return nearest_colour(np.median(image[mask].astype(np.float32), axis=0))


def position(image: np.ndarray) -> str | None:
    """Nearest named position to the shape's centroid."""
    mask = shape_mask(image)
    if mask.sum() < 6:
        return None
    ys, xs = np.nonzero(mask)
    cx, cy = xs.mean() / data.IMAGE_SIZE, ys.mean() / data.IMAGE_SIZE
    return min(data.POSITIONS, key=lambda p: (data.POSITIONS[p][0] - cx) ** 2 + (data.POSITIONS[p][1] - cy) ** 2)


def _shift_any(mask: np.ndarray, reach: int, combine: str) -> np.ndarray:
    out = mask.copy()
    for k in range(1, reach + 1):
        down = np.zeros_like(mask)
        down[k:] = mask[:-k]
        up = np.zeros_like(mask)
        up[:-k] = mask[k:]
        out = (out | down | up) if combine == "or" else (out & down & up)
    return out


def stripe_score(image: np.ndarray) -> float:
    """Horizontal stripes repeat every STRIPE_PERIOD rows: inside the shape, pixels half a period apart differ a
    lot while pixels a whole period apart match; in a plain shape both differences are ~0. The mask is closed
    vertically first so stripes that happen to match the background still count as inside."""
    half, full = data.STRIPE_PERIOD // 2, data.STRIPE_PERIOD
    inside = _shift_any(_shift_any(shape_mask(image), half + 1, "or"), half + 1, "and")
    lum = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    pair_half = inside[half:] & inside[:-half]
    pair_full = inside[full:] & inside[:-full]
    if pair_half.sum() < 8 or pair_full.sum() < 8:
        return 0.0
    half_diff = np.abs(lum[half:] - lum[:-half])[pair_half].mean()
    full_diff = np.abs(lum[full:] - lum[:-full])[pair_full].mean()
    return float((half_diff - full_diff) / 255.0)


STRIPE_THRESHOLD = 0.08


class ShapeNet(torch.nn.Module):
    """Colour-blind shape classifier: it only sees the binary shape mask."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(16, 32, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 32, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
        )
        self.head = torch.nn.Linear(32 * 8 * 8, len(data.SHAPES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x).flatten(1))


def _masks(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack([shape_mask(i) for i in images]).astype(np.float32))[:, None]


def _blurred(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Soften edges like a 4x VAE does, so the classifier is not brittle on rendered outputs."""
    if rng.random() < 0.5:
        return image
    t = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
    small = F.interpolate(t, scale_factor=0.25, mode="area")
    back = F.interpolate(small, size=image.shape[:2], mode="bilinear", align_corners=False)
    mixed = 0.5 * back + 0.5 * t
    return mixed[0].permute(1, 2, 0).clamp(0, 255).numpy().astype(np.uint8)


RoundTrip = Callable[[list[np.ndarray]], list[np.ndarray]]


@torch.no_grad()
def vae_round_trip(vae: torch.nn.Module, images: list[np.ndarray]) -> list[np.ndarray]:
    """The pictures through a VAE (encoded to the posterior mean, decoded): the best any UNet could draw
    through that VAE."""
    parameter = next(vae.parameters())
    pixels = train.images_to_tensor(images).to(parameter.device, parameter.dtype)
    decoded = vae.decode(vae.encode(pixels).latent_dist.mean).sample  # type: ignore[operator]
    return train.tensor_to_images(decoded.float())


@dataclass
class ShapeClassifier:
    net: ShapeNet
    accuracy_on_ground_truth: float
    accuracy_on_round_trips: float | None = None

    @torch.no_grad()
    def predict(self, images: list[np.ndarray]) -> list[str]:
        logits = self.net(_masks(images))
        return [data.SHAPES[i] for i in logits.argmax(dim=1).tolist()]


def train_shape_classifier(
    seed: int = 0, count: int = 3000, steps: int = 400, round_trip: RoundTrip | None = None
) -> ShapeClassifier:
    """Seeded, ~10-30 s on CPU; also reports accuracy on fresh ground-truth renders (held-out combos included).

    With `round_trip` (the checkpoint's VAE encoding and decoding pictures), half of the training pictures go
    through it instead of the generic blur: the classifier then learns shapes as that VAE draws them (a cross
    with rounded arms is still a cross), and `accuracy_on_round_trips` reports how many fresh pictures it still
    recognises after the round trip (the rest the VAE itself made unrecognisable)."""
    torch.manual_seed(seed)
    rng = random.Random(f"shape-classifier-{seed}")
    specs = [data.random_spec(rng, striped=rng.random() < 0.2, allow_held_out=True) for _ in range(count)]
    images = [data.render(s) for s in specs]
    if round_trip is None:
        images = [_blurred(image, rng) for image in images]
    else:
        softened = [i for i in range(count) if rng.random() < 0.5]
        for i, image in zip(softened, round_trip([images[i] for i in softened]), strict=True):
            images[i] = image
    x = _masks(images)
    y = torch.tensor([data.SHAPES.index(s.shape) for s in specs])
    net = ShapeNet()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, count, (64,), generator=gen)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    test_specs = [data.random_spec(rng, allow_held_out=True) for _ in range(300)]
    classifier = ShapeClassifier(net, 0.0)
    predicted = classifier.predict([data.render(s) for s in test_specs])
    classifier.accuracy_on_ground_truth = _accuracy(predicted, test_specs)
    if round_trip is not None:
        trip_specs = [data.random_spec(rng, allow_held_out=True) for _ in range(300)]
        trips = round_trip([data.render(s) for s in trip_specs])
        classifier.accuracy_on_round_trips = _accuracy(classifier.predict(trips), trip_specs)
    return classifier


def _accuracy(predicted: list[str], specs: list[data.Spec]) -> float:
    return float(np.mean([p == s.shape for p, s in zip(predicted, specs, strict=True)]))
