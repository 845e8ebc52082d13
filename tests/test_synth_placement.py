"""The primitives the simulator's layouts share (sagegan.synth.placement) and the layout split."""

from __future__ import annotations

import numpy as np
import pytest

from sagegan.synth import layouts, ordered_layouts
from sagegan.synth.placement import (
    Placement,
    SizeDistribution,
    crop,
    grow_groups,
    hard_core_thinning,
    in_canvas,
    target_count,
)


def test_size_distribution_clips_to_three_sigma_and_two_pixels() -> None:
    sizes = SizeDistribution(median_px=1.5, sigma=0.5)
    diameters = sizes.sample(np.random.default_rng(0), 5000)
    assert diameters.min() == 2.0
    assert diameters.max() <= 1.5 * np.exp(1.5) + 1e-9
    assert sizes.mean_area == pytest.approx(np.pi / 4 * 1.5**2 * np.exp(0.5))


def test_target_count_fills_the_coverage_with_mean_discs() -> None:
    sizes = SizeDistribution(median_px=10.0, sigma=0.0)
    assert target_count((100, 100), sizes, 0.5) == round(0.5 * 10_000 / (np.pi * 25.0))
    assert target_count((4, 4), sizes, 0.01) == 1


def test_concat_skips_empty_parts_and_keeps_order() -> None:
    a = Placement(np.array([[1.0, 2.0]]), np.array([3.0]))
    b = Placement(np.array([[4.0, 5.0], [6.0, 7.0]]), np.array([8.0, 9.0]))
    joined = Placement.concat([a, Placement(np.zeros((0, 2)), np.zeros(0)), b])
    np.testing.assert_array_equal(joined.diameters, [3.0, 8.0, 9.0])
    assert len(Placement.concat([])) == 0


def test_hard_core_thinning_removes_the_later_of_two_overlapping_particles() -> None:
    centers = np.array([[0.0, 0.0], [0.0, 5.0], [0.0, 30.0]])
    diameters = np.array([10.0, 10.0, 10.0])
    np.testing.assert_array_equal(hard_core_thinning(centers, diameters, 0.0), [0, 2])
    np.testing.assert_array_equal(hard_core_thinning(centers, diameters, -0.6), [0, 1, 2])


def test_crop_keeps_particles_within_one_radius_of_the_canvas() -> None:
    placement = Placement(
        np.array([[-4.0, 10.0], [-6.0, 10.0], [10.0, 24.0], [10.0, 26.0]]), np.full(4, 10.0)
    )
    kept = crop(placement, (20, 20))
    np.testing.assert_array_equal(kept.centers, [[-4.0, 10.0], [10.0, 24.0]])
    assert in_canvas(placement.centers, (20, 20), 5.0).tolist() == [True, False, True, False]


def test_grow_groups_stops_at_the_target_and_gives_up_on_groups_off_the_canvas() -> None:
    one = Placement(np.array([[5.0, 5.0]]), np.array([4.0]))
    assert len(grow_groups((10, 10), 3, lambda: one)) == 3
    away = Placement(np.array([[500.0, 500.0]]), np.array([4.0]))
    calls = []
    grown = grow_groups((10, 10), 2, lambda: calls.append(1) or away)
    assert len(grown) == 0 and len(calls) == 10 * 2 + 10


def test_layouts_registry_offers_the_ordered_layouts_of_their_own_module() -> None:
    assert layouts.LAYOUTS["loops"] is ordered_layouts.loop_network
    assert layouts.LAYOUTS["rings"] is ordered_layouts.ring_arcs
    assert layouts.LAYOUTS["hexagonal"] is ordered_layouts.hexagonal_domains
    assert layouts.Placement is Placement and layouts.SizeDistribution is SizeDistribution
