"""New masks for online augmentation: re-arranged real particles and simulator layouts."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sagegan.train.mask_sources import MaskSources, extract_instances, rearranged_mask


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


def test_rearranged_mask_is_separate_particles_up_to_the_target_fraction():
    instances = extract_instances([_label_map(0), _label_map(1)])
    areas = sorted(int(crop.sum()) for crop in instances)
    mask = rearranged_mask(instances, (64, 80), 0.15, np.random.default_rng(3))
    assert mask.shape == (64, 80) and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert 0.15 <= mask.mean() < 0.15 + max(areas) / mask.size + 1e-9
    # pasted particles never touch: every component has the area of some real instance
    components, count = ndimage.label(mask)
    component_areas = np.bincount(components.ravel())[1:]
    assert count >= 5
    assert set(component_areas.tolist()) <= set(areas)


def test_sources_are_deterministic_and_follow_the_weights():
    maps = [_label_map(0), _label_map(1)]
    sources = MaskSources(maps, {"real": 0.0, "rearranged": 1.0, "simulator": 1.0}, (64, 64))
    first = [sources.make(s, np.random.default_rng(5)) for s in ("rearranged", "simulator")]
    again = [sources.make(s, np.random.default_rng(5)) for s in ("rearranged", "simulator")]
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)
        assert a.shape == (64, 64) and a.any()
    picks = sources.choose(np.random.default_rng(0), 400)
    assert set(picks) == {"rearranged", "simulator"}
    assert 150 < picks.count("simulator") < 250


def test_without_instances_rearranging_is_not_offered():
    sources = MaskSources([np.zeros((32, 32), np.int32)], {"rearranged": 1.0}, (32, 32))
    assert sources.choose(np.random.default_rng(0), 5) == ["real"] * 5
