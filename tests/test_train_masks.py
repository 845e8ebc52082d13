"""New masks for online augmentation: re-arranged real particles and simulator layouts."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sagegan.train.mask_sources import (
    MaskSources,
    extract_instances,
    foreground_fraction_range,
    rearranged_labels,
)


def _label_map(seed: int, size: int = 96) -> np.ndarray:
    """Separate discs of radius 3-6 px on an empty canvas."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), np.int32)
    yy, xx = np.mgrid[:size, :size]
    for index in range(1, 13):
        cy, cx = rng.integers(8, size - 8, 2)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= rng.integers(3, 7) ** 2
        if not np.any(labels[ndimage.binary_dilation(disc, iterations=2)]):
            labels[disc] = index
    return labels


def test_instances_touching_the_border_are_left_out():
    labels = np.zeros((20, 20), np.int32)
    labels[0:4, 5:9] = 1  # touches the top border
    labels[8:12, 8:13] = 2
    instances = extract_instances([labels])
    assert len(instances) == 1
    assert instances[0].shape == (4, 5)


def test_rearranged_labels_are_separate_particles_up_to_the_target_fraction():
    instances = extract_instances([_label_map(0), _label_map(1)])
    areas = sorted(int(crop.sum()) for crop in instances)
    labels = rearranged_labels(instances, (64, 80), 0.15, np.random.default_rng(3))
    assert labels.shape == (64, 80) and labels.dtype == np.int32
    mask = labels > 0
    assert 0.15 <= mask.mean() < 0.15 + max(areas) / mask.size + 1e-9
    # one label per pasted particle, each the area of some real instance
    count = int(labels.max())
    assert count >= 5 and set(np.unique(labels).tolist()) == set(range(count + 1))
    assert set(np.bincount(labels.ravel())[1:].tolist()) <= set(areas)
    # and pasted particles never touch: the mask's components are the labels
    _, found = ndimage.label(mask)
    assert found == count


def test_sources_are_deterministic_and_follow_the_weights():
    maps = [_label_map(0), _label_map(1)]
    sources = MaskSources(maps, {"real": 0.0, "rearranged": 1.0, "simulator": 1.0}, (64, 64))
    first = [sources.make(s, np.random.default_rng(5)) for s in ("rearranged", "simulator")]
    again = [sources.make(s, np.random.default_rng(5)) for s in ("rearranged", "simulator")]
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)
        assert a.shape == (64, 64) and a.dtype == np.int32 and a.any()  # instance labels
    picks = sources.choose(np.random.default_rng(0), 400)
    assert set(picks) == {"rearranged", "simulator"}
    assert 150 < picks.count("simulator") < 250


def test_without_instances_rearranging_is_not_offered():
    sources = MaskSources([np.zeros((32, 32), np.int32)], {"rearranged": 1.0}, (32, 32))
    assert sources.choose(np.random.default_rng(0), 5) == ["real"] * 5


def test_the_foreground_fraction_range_spans_the_sparsest_and_densest_map():
    quarter = np.zeros((4, 4), np.int32)
    quarter[:2, :2] = 1
    half = np.zeros((4, 4), np.int32)
    half[:2] = [[1, 1, 2, 2], [1, 1, 2, 2]]
    assert foreground_fraction_range([half, quarter]) == (0.25, 0.5)
    assert foreground_fraction_range([]) == (0.0, 0.0)
