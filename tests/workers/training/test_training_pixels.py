"""Pixel conversions between the generator's uint8 pictures and the VAE's [-1, 1] tensors."""

from __future__ import annotations

import numpy as np
import torch

from workers.training import data, train


def test_tensor_to_images_inverts_images_to_tensor() -> None:
    """A generated picture survives the round trip to the VAE's range and back, bit for bit."""
    picture = data.render(data.Spec("star", "red", "blue", "large", "center"))
    assert np.array_equal(train.tensor_to_images(train.images_to_tensor([picture]))[0], picture)


def test_tensor_to_images_clamps_out_of_range_values() -> None:
    """A decoder's overshoot beyond [-1, 1] becomes black or white, never wraps around in uint8."""
    pixels = torch.tensor([-1.7, 1.4]).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    assert train.tensor_to_images(pixels)[0].tolist() == [[[0, 0, 0], [255, 255, 255]]]
