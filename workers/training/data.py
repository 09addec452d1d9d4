"""Procedural captioned images for the bundled tiny model.

No dataset can be downloaded where Atelier is installed, so the bundled model learns from pictures this module
draws: one flat shape on a flat background, described by a caption in a tiny fixed language. Because every image is
generated from a `Spec`, the evaluation knows the ground truth of every prompt it renders and can score the model
automatically. Everything is a pure function of `(seed, index)` so two runs produce identical data.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64
_SUPERSAMPLE = 4  # draw at 4x and downsample: antialiased edges like real photos have

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "yellow": (245, 220, 40),
    "purple": (135, 45, 175),
    "orange": (250, 135, 20),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond", "cross")
SIZES: dict[str, float] = {"small": 0.15, "large": 0.28}  # half-extent as a fraction of the image side
POSITIONS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "top left": (0.3, 0.3),
    "top right": (0.7, 0.3),
    "bottom left": (0.3, 0.7),
    "bottom right": (0.7, 0.7),
}

#: Style the base model never sees; the bundled LoRA teaches it, triggered by this word.
STRIPES_TRIGGER = "atelierstripes"
STRIPE_PERIOD = 8  # pixels; wide enough for the 4x-downsampling VAE to reproduce

#: Extra words the tokenizer knows so ordinary prompts ("a picture of ...") don't fall back to letters.
EXTRA_WORDS: tuple[str, ...] = (
    "an",
    "the",
    "of",
    "with",
    "and",
    "in",
    "at",
    "picture",
    "image",
    "photo",
    "shape",
    "striped",
    "stripes",
    "big",
    "tiny",
    "middle",
    "corner",
    "top",
    "bottom",
    "left",
    "right",
    "simple",
    "flat",
    "colour",
    "color",
)


@dataclass(frozen=True)
class Spec:
    """Ground truth of one picture; the caption and the pixels are both derived from it."""

    shape: str
    colour: str
    background: str
    size: str
    position: str
    striped: bool = False
    dx: float = 0.0  # jitter in pixels, so the model learns regions rather than exact pixels
    dy: float = 0.0
    scale: float = 1.0

    @property
    def combo(self) -> tuple[str, str, str]:
        return (self.colour, self.shape, self.background)


def all_combos() -> list[tuple[str, str, str]]:
    """Every (shape colour, shape, background colour) with distinct colours."""
    return [(c, s, b) for c, s, b in itertools.product(COLOURS, SHAPES, COLOURS) if c != b]


def held_out_combos() -> frozenset[tuple[str, str, str]]:
    """A fixed ~7% of combos never shown in training, so generalisation can be scored separately.

    Chosen so each colour, shape and background still appears in many trained combos.
    """
    rng = random.Random(20260505)
    combos = all_combos()
    rng.shuffle(combos)
    return frozenset(combos[:24])


def vocabulary() -> list[str]:
    """All words captions and prompts use, for building the tokenizer."""
    words = {"a", "on", "background", ",", STRIPES_TRIGGER, *EXTRA_WORDS, *COLOURS, *SHAPES, *SIZES}
    for pos in POSITIONS:
        words.update(pos.split())
    return sorted(words)


def random_spec(rng: random.Random, *, striped: bool = False, allow_held_out: bool = False) -> Spec:
    """Draw a spec uniformly over the training combos, with small geometric jitter."""
    held = held_out_combos()
    while True:
        colour, shape, background = rng.choice(all_combos())
        if allow_held_out or (colour, shape, background) not in held:
            break
    return Spec(
        shape=shape,
        colour=colour,
        background=background,
        size=rng.choice(list(SIZES)),
        position=rng.choice(list(POSITIONS)),
        striped=striped,
        dx=rng.uniform(-2.0, 2.0),
        dy=rng.uniform(-2.0, 2.0),
        scale=rng.uniform(0.92, 1.08),
    )


def caption(spec: Spec, *, with_size: bool = True, with_position: bool = True, trigger: bool = False) -> str:
    """The canonical caption, e.g. 'a large yellow triangle on a purple background, top left'."""
    size = f"{spec.size} " if with_size else ""
    text = f"a {size}{spec.colour} {spec.shape} on a {spec.background} background"
    if with_position:
        text += f", {spec.position}"
    if trigger:
        text = f"{STRIPES_TRIGGER}, {text}"
    return text


def random_caption(spec: Spec, rng: random.Random, *, trigger: bool = False) -> str:
    """Caption with size/position sometimes omitted, so short prompts are in-distribution too."""
    return caption(spec, with_size=rng.random() < 0.7, with_position=rng.random() < 0.7, trigger=trigger)


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        r *= 0.85
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)]
    if shape == "star":
        points = []
        for k in range(10):
            radius = r if k % 2 == 0 else 0.42 * r
            angle = -math.pi / 2 + k * math.pi / 5
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
        return points
    if shape == "cross":
        w = 0.33 * r
        return [
            (cx - w, cy - r),
            (cx + w, cy - r),
            (cx + w, cy - w),
            (cx + r, cy - w),
            (cx + r, cy + w),
            (cx + w, cy + w),
            (cx + w, cy + r),
            (cx - w, cy + r),
            (cx - w, cy + w),
            (cx - r, cy + w),
            (cx - r, cy - w),
            (cx - w, cy - w),
        ]
    raise ValueError(f"unknown shape {shape!r}")


def stripe_colour(colour: str) -> tuple[int, int, int]:
    """Stripes contrast with the fill: black on light colours, white on dark ones."""
    r, g, b = COLOURS[colour]
    return (15, 15, 15) if 0.299 * r + 0.587 * g + 0.114 * b > 90 else (240, 240, 240)


def render(spec: Spec) -> np.ndarray:
    """Draw the spec as a uint8 array of shape (64, 64, 3)."""
    big = IMAGE_SIZE * _SUPERSAMPLE
    image = Image.new("RGB", (big, big), COLOURS[spec.background])
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    fx, fy = POSITIONS[spec.position]
    cx = (fx * IMAGE_SIZE + spec.dx) * _SUPERSAMPLE
    cy = (fy * IMAGE_SIZE + spec.dy) * _SUPERSAMPLE
    r = SIZES[spec.size] * spec.scale * IMAGE_SIZE * _SUPERSAMPLE
    if spec.shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    else:
        draw.polygon(_polygon(spec.shape, cx, cy, r), fill=255)
    fill = Image.new("RGB", (big, big), COLOURS[spec.colour])
    if spec.striped:
        stripes = ImageDraw.Draw(fill)
        half = STRIPE_PERIOD * _SUPERSAMPLE // 2
        for y in range(0, big, 2 * half):
            stripes.rectangle((0, y + half, big, y + 2 * half - 1), fill=stripe_colour(spec.colour))
    image.paste(fill, (0, 0), mask)
    return np.asarray(image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX), dtype=np.uint8)


@dataclass(frozen=True)
class Sample:
    spec: Spec
    caption: str
    image: np.ndarray


def sample(seed: int, index: int, *, striped: bool = False, trigger: bool = False) -> Sample:
    """The `index`-th training sample of the stream named by `seed` (pure function of both)."""
    rng = random.Random(f"atelier-{seed}-{index}-{int(striped)}")
    spec = random_spec(rng, striped=striped)
    return Sample(spec, random_caption(spec, rng, trigger=trigger), render(spec))


def dataset(seed: int, count: int, *, striped: bool = False, trigger: bool = False) -> list[Sample]:
    """`count` deterministic samples; the same arguments always give the same list."""
    return [sample(seed, i, striped=striped, trigger=trigger) for i in range(count)]


def with_style(spec: Spec, *, striped: bool) -> Spec:
    return replace(spec, striped=striped)
