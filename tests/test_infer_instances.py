"""Instance splitting: touching discs separate, single shapes stay whole, noise goes."""

from __future__ import annotations

import numpy as np
import pytest

from sagegan.errors import ConfigError
from sagegan.infer.instances import split_instances

SHAPE = (96, 128)


def _disc(center: tuple[float, float], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius**2


def _ellipse(center: tuple[float, float], semi_axes: tuple[float, float]) -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return ((yy - center[0]) / semi_axes[0]) ** 2 + ((xx - center[1]) / semi_axes[1]) ** 2 <= 1


def _probability(*shapes: np.ndarray, value: float = 0.9) -> np.ndarray:
    probability = np.full(SHAPE, 0.05, dtype=np.float32)
    probability[np.logical_or.reduce(shapes)] = value
    return probability


@pytest.mark.parametrize(("radius", "spacing"), [(12, 22), (6, 10), (20, 36)])
def test_two_touching_discs_are_separated(radius: int, spacing: int) -> None:
    left, right = _disc((48, 40), radius), _disc((48, 40 + spacing), radius)
    labels = split_instances(_probability(left, right))
    assert labels.dtype == np.int32
    assert labels.max() == 2
    assert set(np.unique(labels[_disc((48, 40), 2)])) != set(
        np.unique(labels[_disc((48, 40 + spacing), 2)])
    )
    # every foreground pixel is kept by one of the two instances
    assert np.array_equal(labels > 0, left | right)


@pytest.mark.parametrize("semi_axes", [(8, 30), (10, 40), (15, 20)])
def test_isolated_disc_and_ellipse_stay_whole(semi_axes: tuple[int, int]) -> None:
    disc, ellipse = _disc((20, 110), 9), _ellipse((60, 55), semi_axes)
    labels = split_instances(_probability(disc, ellipse))
    assert labels.max() == 2
    assert len(np.unique(labels[disc])) == 1 and len(np.unique(labels[ellipse])) == 1


def test_small_objects_are_removed_and_labels_are_consecutive() -> None:
    speck = np.zeros(SHAPE, dtype=bool)
    speck[2:4, 2:4] = True
    discs = [_disc((30, 30), 8), _disc((70, 100), 5), _disc((70, 30), 4)]
    labels = split_instances(_probability(speck, *discs), min_size_px=10)
    assert not labels[speck].any()
    assert sorted(np.unique(labels)) == [0, 1, 2, 3]
    assert split_instances(_probability(speck, *discs), min_size_px=1).max() == 4


def test_threshold_decides_the_foreground() -> None:
    disc = _disc((48, 64), 10)
    assert split_instances(_probability(disc, value=0.6), threshold=0.5).max() == 1
    assert split_instances(_probability(disc, value=0.6), threshold=0.7).max() == 0


def test_larger_min_distance_keeps_close_discs_together() -> None:
    probability = _probability(_disc((48, 40), 6), _disc((48, 50), 6))
    assert split_instances(probability, min_distance_px=3).max() == 2
    assert split_instances(probability, min_distance_px=12).max() == 1


def test_bad_probability_map_is_rejected() -> None:
    with pytest.raises(ConfigError):
        split_instances(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(ConfigError):
        split_instances(np.zeros((4, 4), dtype=np.float32), threshold=1.5)
