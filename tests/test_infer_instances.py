"""Instance splitting: touching discs separate, single shapes stay whole, noise goes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sagegan.errors import ConfigError
from sagegan.infer.instances import (
    SplitPass,
    split_instances,
    typical_radius,
)
from sagegan.infer.watershed_pieces import merge_small_pieces

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
    with pytest.raises(ConfigError, match="min_depth_px"):
        split_instances(np.zeros((4, 4), dtype=np.float32), min_depth_px=-1.0)


def _same_partition(first: np.ndarray, second: np.ndarray) -> bool:
    """True when two label images hold the same instances, whatever their numbers."""
    if first.max() != second.max() or ((first > 0) != (second > 0)).any():
        return False
    foreground = first > 0
    pairs = np.unique(np.stack([first[foreground], second[foreground]]), axis=1)
    return pairs.shape[1] == first.max()


def test_blocks_bound_memory_without_changing_the_instances() -> None:
    rng = np.random.default_rng(3)
    centers = zip(rng.integers(0, SHAPE[0], 25), rng.integers(0, SHAPE[1], 25), strict=True)
    shapes = [
        _disc((int(y), int(x)), int(r))
        for (y, x), r in zip(centers, rng.integers(3, 12, 25), strict=True)
    ]
    probability = _probability(*shapes)
    whole = split_instances(probability, block_px=4096)
    assert whole.max() >= 10
    for block_px in (8, 17, 40):
        assert _same_partition(split_instances(probability, block_px=block_px), whole)
    with pytest.raises(ConfigError, match="block_px"):
        split_instances(probability, block_px=0)


def _merge_in_whole_window(labels: np.ndarray, min_size_px: int) -> np.ndarray:
    """The merge rule written plainly: every small piece dilated over the whole map."""
    sizes = np.bincount(labels.ravel())
    for label in np.flatnonzero((sizes > 0) & (sizes < min_size_px)):
        if label == 0:
            continue
        piece = labels == label
        ring = ndimage.binary_dilation(piece, structure=np.ones((3, 3), bool)) & ~piece
        neighbours = labels[ring]
        neighbours = neighbours[neighbours > 0]
        if neighbours.size:
            labels[piece] = np.bincount(neighbours).argmax()
    return labels


def test_small_pieces_merge_inside_their_boxes_as_over_the_whole_map():
    rng = np.random.default_rng(3)
    for _ in range(10):
        blocks = rng.integers(0, 30, (20, 25)).repeat(4, 0).repeat(4, 1)
        specks = rng.integers(1, 50, blocks.shape)
        labels = np.where(rng.random(blocks.shape) < 0.1, specks, blocks).astype(np.int32)
        for min_size in (3, 12, 40):
            expected = _merge_in_whole_window(labels.copy(), min_size)
            assert np.array_equal(merge_small_pieces(labels.copy(), min_size), expected)


def _particles_and_specks(scale: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Four discs of radius 10 x ``scale`` and six specks of 3 x 3 x ``scale``^2 px on a map
    ``scale`` times the size of SHAPE."""
    height, width = SHAPE[0] * scale, SHAPE[1] * scale
    yy, xx = np.mgrid[:height, :width]
    discs = [
        (yy - cy * scale) ** 2 + (xx - cx * scale) ** 2 <= (10 * scale) ** 2
        for cy, cx in [(22, 22), (22, 70), (70, 22), (70, 70)]
    ]
    specks = []
    for cy, cx in [(10, 100), (30, 100), (50, 100), (70, 110), (88, 100), (46, 46)]:
        speck = np.zeros((height, width), dtype=bool)
        speck[cy * scale : (cy + 3) * scale, cx * scale : (cx + 3) * scale] = True
        specks.append(speck)
    probability = np.full((height, width), 0.05, dtype=np.float32)
    probability[np.logical_or.reduce(discs + specks)] = 0.9
    return probability, discs, specks


@pytest.mark.parametrize("scale", [1, 3])
def test_the_scaled_smallest_object_drops_specks_at_any_magnification(scale: int) -> None:
    probability, discs, specks = _particles_and_specks(scale)
    fixed = split_instances(probability, min_size_px=4)
    assert fixed.max() == 10  # a fixed 4 px floor keeps every speck
    scaled = split_instances(probability, min_size_px=4, min_size_fraction=0.3)
    assert scaled.max() == 4  # 0.3 of a typical disc's area drops them, at both scales
    assert all(len(np.unique(scaled[disc])) == 1 and scaled[disc].all() for disc in discs)
    assert not any(scaled[speck].any() for speck in specks)


def test_the_typical_particle_is_the_area_weighted_median_not_the_many_specks() -> None:
    probability, _, _ = _particles_and_specks(1)
    labels, radii = SplitPass(0.5, 3, 1.0, 1.0, 0.0).run(probability, {}, 4, 1024)
    assert len(radii) == labels.max() == 10
    # six specks outnumber four discs, but the discs hold most of the area: radius ~10
    assert typical_radius(labels, radii) == pytest.approx(10, rel=0.05)
    assert typical_radius(labels[:0], radii[:0]) == 0


def _pairs(radii: tuple[float, float], spacing: float, count: int) -> np.ndarray:
    """A probability map of ``count`` pairs of overlapping discs of ``radii``, centres
    ``spacing`` apart (unequal radii: two equally high distance peaks are always both seeds)."""
    side = int(4 * max(radii) + spacing)
    yy, xx = np.mgrid[:side, : side * count]
    mask = np.zeros(yy.shape, dtype=bool)
    for index in range(count):
        for radius, offset in zip(radii, (-spacing / 2, spacing / 2), strict=True):
            centre_x = side / 2 + index * side + offset
            mask |= (yy - side / 2) ** 2 + (xx - centre_x) ** 2 <= radius**2
    return np.where(mask, 0.9, 0.05).astype(np.float32)


def test_a_seed_depth_scaled_per_image_fits_small_packed_and_large_waisted_particles() -> None:
    # small discs with a deep neck are two particles; a large particle with a shallow waist is one
    small = _pairs((6, 5.5), spacing=11, count=4)
    large = _pairs((40, 36), spacing=44, count=1)
    assert split_instances(small, min_depth_px=8.0).max() == 4  # deep seeds merge the pairs
    assert split_instances(large, min_depth_px=1.0).max() == 2  # shallow seeds split the waist
    assert split_instances(small, min_depth_fraction=0.25).max() == 8
    assert split_instances(large, min_depth_fraction=0.25).max() == 1


def test_the_scaled_split_does_not_depend_on_the_blocks() -> None:
    probability, _, _ = _particles_and_specks(2)
    whole = split_instances(probability, min_size_fraction=0.3, block_px=4096)
    blocked = split_instances(probability, min_size_fraction=0.3, block_px=40)
    assert whole.max() == 4 and _same_partition(whole, blocked)


def test_a_bad_fraction_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"min_size_fraction must be in \[0, 1\], got -0.1"):
        split_instances(np.zeros(SHAPE, dtype=np.float32), min_size_fraction=-0.1)
    with pytest.raises(ConfigError, match=r"min_depth_fraction must be in \[0, 1\], got 2"):
        split_instances(np.zeros(SHAPE, dtype=np.float32), min_depth_fraction=2)
