"""Particle measurements and size statistics against hand-computed and simulated ground truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sagegan.analysis.particles import COLUMNS, feret_diameters, measure_particles
from sagegan.analysis.sizes import fit_lognormal, size_summary
from sagegan.errors import ConfigError
from sagegan.synth import SimulatorConfig, simulate


def _disc(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_rectangle_feret_is_exact_on_pixel_corners() -> None:
    coords = np.argwhere(np.ones((3, 7), dtype=bool))
    feret_max, feret_min = feret_diameters(coords)
    assert feret_max == pytest.approx(math.hypot(3, 7))
    assert feret_min == pytest.approx(3.0)
    single_max, single_min = feret_diameters(np.array([[5, 5]]))
    assert (single_max, single_min) == (pytest.approx(math.sqrt(2)), pytest.approx(1.0))


def test_disc_and_rectangle_measurements() -> None:
    labels = np.zeros((80, 100), dtype=np.int32)
    labels[_disc(labels.shape, (30.0, 30.0), 12.0)] = 1
    labels[60:64, 50:90] = 2  # 4 x 40 bar
    image = np.where(labels == 1, 200.0, 10.0).astype(np.float32)
    table = measure_particles(labels, image)
    assert table.unit == "px" and len(table) == 2
    disc = {name: values[0] for name, values in table.columns.items()}
    bar = {name: values[1] for name, values in table.columns.items()}
    assert disc["area"] == np.count_nonzero(labels == 1)
    assert disc["ecd"] == pytest.approx(24.0, abs=0.5)
    assert disc["feret_max"] == pytest.approx(25.0, abs=1.0)
    assert disc["aspect_ratio"] == pytest.approx(1.0, abs=0.03)
    assert disc["circularity"] > 0.85 and bar["circularity"] < 0.4
    assert disc["solidity"] > 0.9 and bar["solidity"] == pytest.approx(1.0)
    assert (disc["centroid_x"], disc["centroid_y"]) == (pytest.approx(30.5), pytest.approx(30.5))
    assert disc["mean_intensity"] == pytest.approx(200.0)
    assert bar["mean_intensity"] == pytest.approx(10.0)
    assert bar["aspect_ratio"] == pytest.approx(10.0, rel=0.05)
    assert bar["feret_min"] == pytest.approx(4.0) and bar["feret_max"] == pytest.approx(
        math.hypot(4, 40)
    )
    assert not disc["touches_border"] and not bar["touches_border"]


def test_touching_the_border_is_flagged_on_every_side() -> None:
    labels = np.zeros((20, 20), dtype=np.int32)
    labels[0, 5], labels[19, 5], labels[5, 0], labels[5, 19], labels[10, 10] = 1, 2, 3, 4, 5
    flags = measure_particles(labels).columns["touches_border"]
    assert flags.tolist() == [True, True, True, True, False]


def test_calibrated_units_follow_the_pixel_size() -> None:
    labels = np.zeros((64, 64), dtype=np.int32)
    labels[_disc(labels.shape, (30.0, 25.0), 9.0)] = 1
    labels[50:55, 10:30] = 2
    pixels = measure_particles(labels)
    nm = measure_particles(labels, pixel_size_nm=2.5)
    assert nm.unit == "nm" and nm.header("area") == "area_nm2" and nm.header("ecd") == "ecd_nm"
    assert pixels.header("feret_max") == "feret_max_px"
    for name, dimension in COLUMNS.items():
        factor = {0: 1.0, 1: 2.5, 2: 6.25}[dimension]
        expected = pixels.columns[name].astype(float) * factor
        np.testing.assert_allclose(nm.columns[name].astype(float), expected, err_msg=name)
    row = nm.rows()[0]
    assert set(row) >= {"label", "area_nm2", "ecd_nm", "centroid_x_nm", "circularity"}


def test_simulated_particles_recover_their_known_sizes_and_count() -> None:
    config = SimulatorConfig.preset("pdc", size=(192, 256), pixel_size_nm=2.0)
    sample = simulate(3, config)
    meta = sample.meta
    table = measure_particles(sample.labels, pixel_size_nm=meta["pixel_size_nm"])
    assert len(table) == meta["n_particles"] > 10
    np.testing.assert_array_equal(table.columns["label"], np.arange(1, len(table) + 1))
    areas_px = np.asarray(meta["areas_px"], dtype=float)
    np.testing.assert_allclose(table.columns["area"], areas_px * 4.0)
    known = np.asarray(meta["diameters_nm"])
    # a particle neither occluded nor clipped shows its whole rasterised shape, whose equivalent
    # circle diameter the simulator records (rounded to 1e-3 nm)
    full_area_px = np.pi * (known / 2.0 / meta["pixel_size_nm"]) ** 2
    whole = np.abs(areas_px - full_area_px) < 0.5
    assert whole.sum() >= 0.5 * len(table)
    np.testing.assert_allclose(table.columns["ecd"][whole], known[whole], atol=2e-3)
    centroids = np.asarray(meta["centroids_yx"]) + 0.5
    np.testing.assert_allclose(table.columns["centroid_y"], centroids[:, 0] * 2.0, atol=0.02)
    np.testing.assert_allclose(table.columns["centroid_x"], centroids[:, 1] * 2.0, atol=0.02)


def test_bad_inputs_raise_config_errors() -> None:
    labels = np.zeros((8, 8), dtype=np.int32)
    with pytest.raises(ConfigError, match="does not match"):
        measure_particles(labels, np.zeros((8, 9)))
    with pytest.raises(ConfigError, match="positive"):
        measure_particles(labels, pixel_size_nm=0.0)
    assert len(measure_particles(labels)) == 0


def test_size_summary_percentiles_and_empty_case() -> None:
    summary = size_summary(np.arange(1.0, 101.0))
    assert summary["n"] == 100 and summary["median"] == pytest.approx(50.5)
    assert (summary["d10"], summary["d90"]) == (pytest.approx(10.9), pytest.approx(90.1))
    assert summary["sd"] == pytest.approx(np.std(np.arange(1, 101), ddof=1))
    empty = size_summary(np.array([]))
    assert empty["n"] == 0 and empty["mean"] is None and empty["d90"] is None
    assert size_summary(np.array([4.0]))["sd"] is None


def test_lognormal_fit_recovers_its_parameters() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(mean=math.log(20.0), sigma=0.3, size=5000)
    fit = fit_lognormal(values)
    assert fit is not None
    assert fit.median == pytest.approx(20.0, rel=0.02)
    assert fit.geometric_sd == pytest.approx(math.exp(0.3), rel=0.02)
    assert fit.ks_pvalue > 0.01
    uniform = fit_lognormal(rng.uniform(10.0, 11.0, 5000))
    assert uniform is not None and uniform.ks_statistic > fit.ks_statistic
    assert fit_lognormal(np.array([1.0, 2.0])) is None
    assert fit_lognormal(np.array([3.0, 3.0, 3.0])) is None
