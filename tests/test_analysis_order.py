"""Spatial-order metrics of point patterns: lattices, CSR, rings, clusters, degenerate input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import Voronoi

from sagegan.analysis.order import (
    Window,
    bond_order_psi6,
    clark_evans,
    nearest_neighbour_distances,
    order_metrics,
    pair_correlation,
    ring_statistics,
)
from sagegan.errors import ConfigError

SPACING = 1.0


def hex_lattice(
    columns: int, rows: int, spacing: float = SPACING, jitter: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, Window]:
    """A triangular (hexagonal) lattice with half a spacing of margin inside its window."""
    column, row = np.meshgrid(np.arange(columns), np.arange(rows))
    x = (column + 0.5 * (row % 2) + 0.5) * spacing
    y = (row * np.sqrt(3) / 2 + 0.5) * spacing
    points = np.stack([x.ravel(), y.ravel()], axis=1)
    points += np.random.default_rng(seed).normal(0, jitter * spacing, points.shape)
    window = Window((columns + 0.5) * spacing, ((rows - 1) * np.sqrt(3) / 2 + 1) * spacing)
    return points, window


def csr(n: int, window: Window, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 2)) * [window.width, window.height]


def circle(centre: tuple[float, float], count: int, radius: float, missing: int = 0) -> np.ndarray:
    """``count`` equally spaced positions on a circle, the last ``missing`` of them left out."""
    angles = 2 * np.pi * np.arange(count - missing) / count
    return np.array(centre) + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def test_clark_evans_separates_lattice_from_randomness() -> None:
    lattice, window = hex_lattice(20, 20)
    assert len(lattice) == 400
    assert 2.0 < clark_evans(lattice, window) < 2.2
    random_window = Window(20.0, 20.0)
    assert abs(clark_evans(csr(400, random_window, seed=1), random_window) - 1) < 0.1


def test_clark_evans_edge_correction_centres_small_random_patterns_on_one() -> None:
    # 25 points in a small window: half of them are near an edge, which without Donnelly's
    # correction raises the mean R to about 1.09
    window = Window(10.0, 6.0)
    ratios = [clark_evans(csr(25, window, seed), window) for seed in range(300)]
    assert abs(np.mean(ratios) - 1) < 0.04


def test_nearest_neighbour_distances_of_a_lattice_are_its_spacing() -> None:
    lattice, _ = hex_lattice(6, 5, spacing=2.5)
    np.testing.assert_allclose(nearest_neighbour_distances(lattice), 2.5)


def test_psi6_is_one_on_a_lattice_and_low_on_random_points() -> None:
    lattice, window = hex_lattice(20, 20, jitter=0.02)
    psi6 = bond_order_psi6(lattice, window)
    assert np.isfinite(psi6).sum() > 250
    assert np.nanmean(psi6) > 0.95
    random_window = Window(20.0, 20.0)
    assert np.nanmean(bond_order_psi6(csr(400, random_window, seed=2), random_window)) < 0.6


def test_psi6_is_nan_exactly_where_the_voronoi_cell_is_unbounded_or_leaves_the_window() -> None:
    window = Window(10.0, 8.0)
    points = csr(150, window, seed=3)
    voronoi = Voronoi(points)
    expected_nan = []
    for region_index in voronoi.point_region:
        region = voronoi.regions[region_index]
        vertices = voronoi.vertices[[v for v in region if v >= 0]]
        outside = (vertices < 0).any() or (vertices > [window.width, window.height]).any()
        expected_nan.append(-1 in region or bool(outside))
    psi6 = bond_order_psi6(points, window)
    np.testing.assert_array_equal(np.isnan(psi6), expected_nan)
    assert 0 < np.isnan(psi6).sum() < len(points)


def test_pair_correlation_of_a_lattice_peaks_at_the_spacing() -> None:
    lattice, window = hex_lattice(20, 20, jitter=0.02)
    # bins of width 0.1 centred on multiples of 0.1, so that the spacing is a bin centre
    r, g = pair_correlation(lattice, window, r_max=3.05, n_bins=61)
    assert r[np.argmax(g)] == pytest.approx(SPACING, abs=0.05)
    assert np.all(g[r < 0.8 * SPACING] == 0)


def test_pair_correlation_of_csr_is_one_up_to_r_max_thanks_to_edge_correction() -> None:
    window = Window(20.0, 20.0)
    r_max, n_bins = 9.0, 30
    corrected, uncorrected = [], []
    for seed in range(4):
        points = csr(500, window, seed=seed)
        r, g = pair_correlation(points, window, r_max=r_max, n_bins=n_bins)
        corrected.append(g)
        # the same estimate without edge correction: every pair weighted 1/A
        distances = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
        counts, edges = np.histogram(distances[np.triu_indices(len(points), 1)], n_bins, (0, r_max))
        shells = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
        uncorrected.append(2 * counts * window.area / (len(points) * (len(points) - 1) * shells))
    corrected, uncorrected = np.mean(corrected, axis=0), np.mean(uncorrected, axis=0)
    assert abs(corrected.mean() - 1) < 0.1
    far = r > 0.7 * r_max
    assert abs(corrected[far].mean() - 1) < 0.05
    assert uncorrected[far].mean() < 0.85


def test_pair_correlation_of_few_random_points_is_unbiased() -> None:
    # the adapted intensity estimate n(n-1)/A^2 keeps g = 1 even for 6 points (n^2 gives 5/6)
    window = Window(10.0, 6.0)
    disc = [pair_correlation(csr(6, window, seed), window, 2.9, 1)[1][0] for seed in range(400)]
    assert abs(np.mean(disc) - 1) < 0.08


def test_order_metrics_z_scores_flag_a_lattice_and_not_randomness() -> None:
    lattice, window = hex_lattice(16, 16, jitter=0.02)
    lattice_report = order_metrics(lattice, window, n_reference=20)
    assert lattice_report.metrics["psi6_mean"].z > 10
    assert lattice_report.metrics["clark_evans"].z > 10
    assert lattice_report.metrics["g_peak_r"].observed == pytest.approx(SPACING, abs=0.1)
    random_report = order_metrics(csr(256, window, seed=5), window, n_reference=20)
    for name in ("psi6_mean", "clark_evans"):
        assert abs(random_report.metrics[name].z) < 3


def test_order_metrics_reference_g_envelope_surrounds_its_mean() -> None:
    window = Window(12.0, 10.0)
    report = order_metrics(csr(200, window, seed=6), window, n_reference=20, n_bins=20)
    assert report.r.shape == report.g.shape == report.g_reference_mean.shape == (20,)
    assert np.all(report.g_reference_low <= report.g_reference_mean)
    assert np.all(report.g_reference_mean <= report.g_reference_high)
    assert abs(report.g_reference_mean.mean() - 1) < 0.1
    median_nnd = np.median(nearest_neighbour_distances(csr(200, window, seed=6)))
    assert report.r_max == pytest.approx(min(10.0 / 4, 10 * median_nnd))


def test_order_metrics_is_deterministic_for_a_seed() -> None:
    window = Window(10.0, 10.0)
    points = csr(120, window, seed=7)
    first = order_metrics(points, window, n_reference=5, seed=3).to_dict()
    assert order_metrics(points, window, n_reference=5, seed=3).to_dict() == first
    other = order_metrics(points, window, n_reference=5, seed=4).to_dict()
    assert other["metrics"]["psi6_mean"] != first["metrics"]["psi6_mean"]
    assert other["metrics"]["psi6_mean"]["observed"] == first["metrics"]["psi6_mean"]["observed"]


@pytest.mark.parametrize("n_circles", [1, 4])
def test_closed_loops_of_particles_are_rings(n_circles: int) -> None:
    centres = [(10 + 25 * (k % 2), 10 + 25 * (k // 2)) for k in range(n_circles)]
    points = np.concatenate([circle(centre, 12, radius=5.0) for centre in centres])
    points += np.random.default_rng(8).normal(0, 0.05, points.shape)
    stats = ring_statistics(points, Window(50.0, 50.0))
    assert stats.ring_count == n_circles
    assert stats.mean_ring_size == 12
    assert stats.ring_particle_fraction == 1.0
    assert stats.cluster_count == n_circles
    assert stats.ring_density == pytest.approx(n_circles / 2500)


def test_an_open_arc_is_not_a_ring() -> None:
    closed = circle((10, 10), 12, radius=5.0)
    arc = circle((35, 10), 12, radius=5.0, missing=2)
    window = Window(50.0, 25.0)
    assert ring_statistics(arc, window).ring_count == 0
    both = ring_statistics(np.concatenate([closed, arc]), window)
    assert both.ring_count == 1
    assert both.ring_particle_fraction == pytest.approx(12 / 22)


def test_a_dense_lattice_has_no_rings_and_one_cluster() -> None:
    lattice, window = hex_lattice(15, 15, jitter=0.03)
    stats = ring_statistics(lattice, window)
    assert stats.ring_count == 0
    assert stats.cluster_count == 1
    assert stats.largest_cluster_fraction == 1.0
    assert 1.3 < stats.cutoff < 1.7


def test_a_lattice_with_a_vacancy_cluster_has_one_ring() -> None:
    lattice, window = hex_lattice(15, 15, jitter=0.02)
    middle = np.array([window.width, window.height]) / 2
    centre = lattice[np.argmin(np.hypot(*(lattice - middle).T))]
    holed = lattice[np.hypot(*(lattice - centre).T) > 1.1]
    stats = ring_statistics(holed, window)
    assert stats.ring_count == 1
    assert stats.mean_ring_size >= 6


def test_well_separated_groups_are_separate_clusters() -> None:
    patch, _ = hex_lattice(5, 5, jitter=0.03)
    points = np.concatenate([patch, patch + np.array([20.0, 0.0])])
    stats = ring_statistics(points, Window(30.0, 10.0))
    assert stats.cluster_count == 2
    assert stats.largest_cluster_fraction == 0.5
    assert stats.mean_cluster_size == 25


@pytest.mark.parametrize(
    "points",
    [
        np.empty((0, 2)),
        np.array([[1.0, 1.0]]),
        np.array([[1.0, 1.0], [2.0, 3.0]]),
        np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]]),
    ],
    ids=["empty", "one", "two", "collinear"],
)
def test_sparse_or_degenerate_patterns_give_nan_and_a_note(points: np.ndarray) -> None:
    window = Window(5.0, 5.0)
    report = order_metrics(points, window, n_reference=3)
    assert report.n == len(points)
    assert np.isnan(report.metrics["psi6_mean"].observed)
    assert np.isnan(report.rings.ring_count)
    assert np.isnan(ring_statistics(points, window).cluster_count)
    assert np.all(np.isnan(bond_order_psi6(points, window)))
    assert any("triangulation" in note for note in report.notes)
    if len(points) < 2:
        assert np.isnan(clark_evans(points, window))
        assert np.all(np.isnan(report.g))
        assert any("Clark-Evans" in note for note in report.notes)
    else:
        assert np.isfinite(report.metrics["clark_evans"].observed)
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert '"psi6_mean": {"observed": null' in text


def test_to_dict_is_plain_json_with_the_reference_described() -> None:
    window = Window(8.0, 6.0)
    report = order_metrics(csr(60, window, seed=9), window, n_reference=4, n_bins=10)
    plain = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert plain["reference"] == (
        "complete spatial randomness: 60 uniform points in the same window, 4 patterns"
    )
    assert len(plain["pair_correlation"]["r"]) == 10
    assert set(plain["metrics"]["clark_evans"]) == {
        "observed",
        "reference_mean",
        "reference_sd",
        "z",
        "reference_defined",
    }
    assert plain["window"] == {"width": 8.0, "height": 6.0}


def test_scaling_points_and_window_scales_lengths_only() -> None:
    lattice, window = hex_lattice(12, 12, jitter=0.05)
    scale = 37.5
    scaled_window = Window(window.width * scale, window.height * scale)
    base = order_metrics(lattice, window, n_reference=5)
    scaled = order_metrics(lattice * scale, scaled_window, n_reference=5)
    for name in ("nnd_mean", "nnd_sd", "g_peak_r"):
        assert scaled.metrics[name].observed == pytest.approx(base.metrics[name].observed * scale)
    assert scaled.rings.cutoff == pytest.approx(base.rings.cutoff * scale)
    assert scaled.r_max == pytest.approx(base.r_max * scale)
    for name in ("clark_evans", "psi6_mean", "g_peak", "ring_particle_fraction"):
        assert scaled.metrics[name].observed == pytest.approx(base.metrics[name].observed)
        assert scaled.metrics[name].z == pytest.approx(base.metrics[name].z)
    np.testing.assert_allclose(scaled.g, base.g)
    assert scaled.metrics["ring_density"].observed == pytest.approx(
        base.metrics["ring_density"].observed / scale**2
    )


def test_bad_input_is_a_config_error() -> None:
    window = Window(5.0, 5.0)
    with pytest.raises(ConfigError, match="outside the window"):
        order_metrics(np.array([[1.0, 1.0], [6.0, 1.0]]), window)
    with pytest.raises(ConfigError, match="width"):
        Window(0.0, 3.0)
    with pytest.raises(ConfigError, match="r_max"):
        pair_correlation(csr(10, window, seed=0), window, r_max=2.5)
    with pytest.raises(ConfigError, match="shape"):
        clark_evans(np.ones((4, 3)), window)
    with pytest.raises(ConfigError, match="min_ring_size"):
        ring_statistics(csr(10, window, seed=0), window, min_ring_size=2)
    with pytest.raises(ConfigError, match="n_reference"):
        order_metrics(csr(10, window, seed=0), window, n_reference=1)


@pytest.mark.real_data
def test_pd_on_graphite_particles_are_not_randomly_placed(pdc_sem) -> None:
    from PIL import Image
    from scipy import ndimage

    mask = np.asarray(Image.open(pdc_sem / "masks" / "graphite_0.png")) > 0
    labels, count = ndimage.label(mask)
    centres = np.array(ndimage.center_of_mass(mask, labels, range(1, count + 1)))[:, ::-1] + 0.5
    report = order_metrics(centres, Window(mask.shape[1], mask.shape[0]), n_reference=20)
    assert report.n > 500
    assert report.metrics["g_peak"].z > 3  # short-range aggregation along chains
    assert report.metrics["nnd_sd"].z < -3
