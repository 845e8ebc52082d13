"""The instance split's shortcuts give the pixels of the plain computation: the h-maxima found
one particle at a time, and passes shared between the candidate splits of one image."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import h_maxima

from conftest import touching_discs
from sagegan.infer.distance_maxima import h_maxima_by_component
from sagegan.infer.instances import PASSES_KEPT, split_instances
from sagegan.train.split_tuning import candidate_splits

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _blobs(seed: int, shape=(160, 200), cover: float = 0.55) -> np.ndarray:
    """A probability map of irregular touching blobs (smoothed noise above a quantile)."""
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 4.0)
    return (noise > np.quantile(noise, 1 - cover)).astype(np.float32)


def _distance(probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    components, _ = ndimage.label(probability > 0.5, structure=EIGHT_CONNECTED)
    inside = components > 0
    distance = ndimage.gaussian_filter(ndimage.distance_transform_edt(inside), 1.0) * inside
    return distance, components


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("h", [0.5, 1.0, 3.0, 8.0])
def test_maxima_found_per_particle_are_those_of_the_whole_map(seed: int, h: float):
    distance, components = _distance(_blobs(seed))
    assert components.max() > 5

    per_particle = h_maxima_by_component(distance, components, h)

    np.testing.assert_array_equal(per_particle, h_maxima(distance, h) > 0)


def test_a_map_without_background_keeps_its_own_floor():
    yy, xx = np.mgrid[:40, :50]
    hills = 5.0 + np.sin(yy / 4.0) + np.cos(xx / 5.0)  # no zero anywhere
    components = np.ones(hills.shape, dtype=np.int32)

    for h in (0.5, 1.5, 3.0):
        np.testing.assert_array_equal(
            h_maxima_by_component(hills, components, h), h_maxima(hills, h) > 0
        )


def test_a_seed_depth_of_zero_seeds_every_maximum_instead_of_failing():
    truth = touching_discs(radius=10, spacing=16)
    probability = (truth > 0).astype(np.float32)

    labels = split_instances(probability, min_depth_px=0.0, min_size_px=5)

    assert labels.max() == 2


def test_candidate_splits_sharing_passes_give_the_labels_of_separate_calls():
    probability = _blobs(3, shape=(128, 128), cover=0.45)
    planned = {
        "min_size_px": 12,
        "min_distance_px": 3,
        "min_depth_px": 1.0,
        "min_size_fraction": 0.0,
        "min_depth_fraction": 0.0,
    }
    candidates = candidate_splits(planned)
    candidates.sort(key=lambda options: (options["min_size_px"], options["min_depth_px"]))
    done: dict = {}
    for options in candidates:
        shared = split_instances(probability, **options, passes_done=done)
        np.testing.assert_array_equal(shared, split_instances(probability, **options))
        assert len(done) <= PASSES_KEPT
