"""The procedural data generator behind the bundled model."""

from __future__ import annotations

import numpy as np

from workers.training import data, scoring


def test_same_seed_and_index_give_identical_samples() -> None:
    """A sample is a pure function of (seed, index): pixels and caption repeat exactly."""
    a, b = data.sample(7, 3), data.sample(7, 3)
    assert a.caption == b.caption
    assert np.array_equal(a.image, b.image)


def test_different_indices_give_different_samples() -> None:
    """The stream is not constant."""
    assert len({data.sample(7, i).caption for i in range(20)}) > 10


def test_caption_names_the_spec() -> None:
    """Every word of the ground truth appears in the full caption."""
    s = data.sample(1, 0).spec
    text = data.caption(s)
    assert text == f"a {s.size} {s.colour} {s.shape} on a {s.background} background, {s.position}"


def test_pixels_agree_with_the_spec() -> None:
    """The scorers read back the spec's colours, position and stripes from the rendered pixels."""
    detected = 0
    for i in range(30):
        sample = data.sample(3, i)
        assert scoring.background(sample.image)[0] == sample.spec.background
        assert scoring.shape_colour(sample.image) == sample.spec.colour
        assert scoring.position(sample.image) == sample.spec.position
        assert scoring.stripe_score(sample.image) < scoring.STRIPE_THRESHOLD
        striped = data.render(data.with_style(sample.spec, striped=True))
        detected += scoring.stripe_score(striped) > scoring.STRIPE_THRESHOLD
    assert detected >= 27  # a small star can catch a single stripe; it is barely striped


def test_held_out_combos_never_appear_in_training_data() -> None:
    """Held-out (colour, shape, background) triples are reserved for the generalisation score."""
    held = data.held_out_combos()
    assert held
    assert not any(data.sample(0, i).spec.combo in held for i in range(500))


def test_images_are_64x64_rgb() -> None:
    """The bundled model's resolution."""
    assert data.sample(0, 0).image.shape == (64, 64, 3)
