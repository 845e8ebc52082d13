"""The classical baseline: blur + Otsu on the minority side + watershed, either polarity."""

from __future__ import annotations

import numpy as np
import pytest

from sagegan.errors import ConfigError
from sagegan.infer.classical import classical_foreground, classical_instances


def _discs(centres, radius=11, shape=(96, 120), bright=True):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    inside = np.zeros(shape, dtype=bool)
    for row, col in centres:
        inside |= (yy - row) ** 2 + (xx - col) ** 2 <= radius**2
    image = np.where(inside, 0.8, -0.8).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 0.1, shape).astype(np.float32)
    return (image if bright else -image) + noise, inside


@pytest.mark.parametrize("bright", [True, False])
def test_particles_are_found_in_either_polarity(bright):
    image, inside = _discs([(30, 30), (70, 90)], bright=bright)
    foreground = classical_foreground(image)
    assert (foreground == inside).mean() > 0.97
    assert classical_instances(image).max() == 2


def test_touching_particles_are_split_and_specks_dropped():
    image, _ = _discs([(40, 40), (40, 62)], radius=12)
    assert classical_instances(image).max() == 2
    speck, _ = _discs([(40, 40)], radius=3)
    assert classical_instances(speck, min_size_px=1).max() == 1
    assert classical_instances(speck, min_size_px=200).max() == 0


def test_flat_image_has_no_particle_and_bad_input_is_refused():
    assert not classical_foreground(np.zeros((20, 20), np.float32)).any()
    with pytest.raises(ConfigError, match="2-D"):
        classical_foreground(np.zeros((4, 4, 3)))
    with pytest.raises(ConfigError, match="sigma"):
        classical_foreground(np.zeros((4, 4)), sigma_px=-1)
