"""Tests of the procedural SEM simulator (sagegan.synth): tiny images, a few milliseconds each."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tifffile
from PIL import Image
from scipy import ndimage
from scipy.spatial import cKDTree

from sagegan.errors import ConfigError, DataError
from sagegan.synth import (
    LAYOUTS,
    Placement,
    SimulatorConfig,
    SizeDistribution,
    render_sem,
    sample_layout,
    simulate,
    write_dataset,
)
from sagegan.synth.layouts import hexagonal_domains
from sagegan.synth.shapes import assign_shapes, rasterise

SMALL = (128, 128)


def small_config(style: str = "pdc", **overrides: object) -> SimulatorConfig:
    return SimulatorConfig.preset(style, size=SMALL, **overrides)


def test_simulate_is_deterministic_for_a_seed_and_differs_across_seeds() -> None:
    config = small_config("mixed")
    first, again, other = simulate(7, config), simulate(7, config), simulate(8, config)
    assert first.image.tobytes() == again.image.tobytes()
    assert first.labels.tobytes() == again.labels.tobytes()
    assert first.meta == again.meta
    assert first.image.tobytes() != other.image.tobytes()
    assert first.labels.tobytes() != other.labels.tobytes()


@pytest.mark.parametrize("style", ["pdc", "tio2", "mixed"])
def test_mask_matches_the_rendered_particles(style: str) -> None:
    config = small_config(style, coverage=(0.15, 0.2))
    for seed in range(3):
        sample = simulate(seed, config)
        assert sample.image.dtype == np.uint8 and sample.image.shape == SMALL
        assert sample.labels.dtype == np.uint16 and sample.labels.shape == SMALL
        assert np.array_equal(sample.mask, sample.labels > 0)
        inside = sample.image[sample.mask].mean()
        outside = sample.image[~sample.mask].mean()
        assert inside > outside + 20, (style, seed, inside, outside)


def test_instance_count_equals_particles_placed_and_instances_are_connected() -> None:
    for seed in range(4):
        sample = simulate(seed, small_config("tio2", coverage=(0.2, 0.3)))
        meta = sample.meta
        present = np.unique(sample.labels[sample.labels > 0])
        assert np.array_equal(present, np.arange(1, meta["n_particles"] + 1))
        assert meta["n_particles"] + meta["n_rejected"] == meta["n_candidates"]
        assert len(meta["diameters_nm"]) == len(meta["areas_px"]) == meta["n_particles"]
        assert len(meta["centroids_yx"]) == meta["n_particles"]
        four = ndimage.generate_binary_structure(2, 1)
        for label, box in enumerate(ndimage.find_objects(sample.labels), start=1):
            assert ndimage.label(sample.labels[box] == label, structure=four)[1] == 1


def test_meta_diameters_bound_the_visible_particles() -> None:
    sample = simulate(3, small_config("pdc", coverage=(0.2, 0.2)))
    meta = sample.meta
    areas = np.bincount(sample.labels.ravel())[1:]
    assert areas.tolist() == meta["areas_px"]
    visible_diameter_px = np.sqrt(4 * areas / math.pi)
    whole_diameter_px = np.asarray(meta["diameters_nm"]) / meta["pixel_size_nm"]
    assert np.all(visible_diameter_px <= whole_diameter_px + 1e-3)
    assert meta["coverage"] == pytest.approx((sample.labels > 0).mean(), abs=1e-4)


def test_rasterise_refuses_particles_that_would_hide_too_much_of_others() -> None:
    centers = np.array([[30.0, 30.0], [30.5, 30.5], [30.0, 45.0]])
    placement = Placement(centers, np.array([20.0, 20.0, 20.0]))
    particles = assign_shapes(np.random.default_rng(0), placement, {"round": 1.0}, 1.0, 0.0)
    raster = rasterise(particles, (64, 64), min_visible_fraction=0.5)
    assert raster.placed.tolist() == [0, 2]
    assert raster.rejected == 1
    assert raster.labels.max() == 2
    first_visible = int((raster.labels == 1).sum())
    assert first_visible >= 0.5 * raster.full_area_px[0]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_runs(layout: str) -> None:
    config = small_config("mixed", layout_weights={layout: 1.0}, coverage=(0.1, 0.1))
    sample = simulate(1, config)
    assert sample.meta["layout"] == layout
    assert sample.meta["n_particles"] > 0
    centroids = np.asarray(sample.meta["centroids_yx"])
    assert np.all((centroids >= 0) & (centroids < 128))


def _mean_neighbours(centers: np.ndarray, extent: float) -> float:
    tree = cKDTree(centers)
    spacing = float(np.median(tree.query(centers, k=2)[0][:, 1]))
    margin = 3 * spacing
    inner = np.all((centers > margin) & (centers < extent - margin), axis=1)
    counts = [len(n) - 1 for n in tree.query_ball_point(centers[inner], 1.3 * spacing)]
    return float(np.mean(counts))


def test_hexagonal_layout_has_about_six_neighbours() -> None:
    for seed in range(3):
        placement = hexagonal_domains(
            np.random.default_rng(seed), (256, 256), SizeDistribution(10.0, 0.2), 1.0
        )
        assert 5.5 <= _mean_neighbours(placement.centers, 256) <= 6.05
    config = SimulatorConfig.preset(
        "pdc",
        size=(192, 192),
        layout_weights={"hexagonal": 1.0},
        coverage=(1.0, 1.0),
        scatter_fraction=(0.0, 0.0),
    )
    centroids = np.asarray(simulate(0, config).meta["centroids_yx"])
    assert 5.3 <= _mean_neighbours(centroids, 192) <= 6.1


def test_random_layout_is_far_from_hexagonal() -> None:
    placement = LAYOUTS["random"](
        np.random.default_rng(0), (256, 256), SizeDistribution(10.0, 0.2), 0.3
    )
    assert _mean_neighbours(placement.centers, 256) < 4.5


def test_databar_rows_are_background_and_the_band_is_drawn() -> None:
    config = SimulatorConfig.preset("tio2", size=(128, 160), databar_probability=1.0)
    sample = simulate(0, config)
    rows = sample.meta["databar_rows"]
    assert rows == round(128 * config.databar_fraction) > 0
    assert not sample.labels[-rows:].any()
    band = sample.image[-rows:]
    assert np.median(band) < 15
    assert band.max() == 255
    assert sample.meta["scale_bar_nm"] > 0
    assert simulate(0, small_config("tio2")).meta["databar_rows"] == 0


def test_sample_layout_and_render_sem_work_separately() -> None:
    config = small_config("pdc")
    labels = sample_layout(np.random.default_rng(5), config)
    assert np.array_equal(labels, sample_layout(np.random.default_rng(5), config))
    image = render_sem(labels, np.random.default_rng(1), config)
    assert image.dtype == np.uint8 and image.shape == labels.shape
    assert np.array_equal(image, render_sem(labels, np.random.default_rng(1), config))
    empty = render_sem(np.zeros(SMALL, np.uint16), np.random.default_rng(1), config)
    assert empty.shape == SMALL and empty.std() > 0
    with_bar = sample_layout(np.random.default_rng(5), config, databar_rows=20)
    assert not with_bar[-20:].any()


def test_write_dataset_files_meta_and_prefix_determinism(tmp_path) -> None:
    config = SimulatorConfig.preset("tio2")
    out = write_dataset(tmp_path / "three", 3, size=(64, 96), seed=4, config=config, progress=False)
    for folder, suffix in (("images", "tif"), ("masks", "png"), ("labels", "tif")):
        names = sorted(p.name for p in (out / folder).iterdir())
        assert names == [f"synth_{i:04d}.{suffix}" for i in range(3)]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["n"] == 3 and meta["seed"] == 4 and len(meta["images"]) == 3
    assert "sagegan_version" in meta
    assert SimulatorConfig.from_dict(meta["config"]) == config.with_size((64, 96))
    for record in meta["images"]:
        image = tifffile.imread(out / record["image"])
        labels = tifffile.imread(out / record["labels"])
        mask = np.asarray(Image.open(out / record["mask"]))
        assert image.shape == labels.shape == mask.shape == (64, 96)
        assert labels.dtype == np.uint16 and labels.max() == record["n_particles"]
        assert set(np.unique(mask)) <= {0, 255}
        assert np.array_equal(mask > 0, labels > 0)

    two = write_dataset(tmp_path / "two", 2, size=(64, 96), seed=4, config=config, progress=False)
    meta_two = json.loads((two / "meta.json").read_text())
    assert meta_two["images"] == meta["images"][:2]
    for i in range(2):
        name = f"images/synth_{i:04d}.tif"
        assert np.array_equal(tifffile.imread(out / name), tifffile.imread(two / name))

    with pytest.raises(DataError, match="not empty"):
        write_dataset(out, 1, size=(64, 96), progress=False)
    write_dataset(out, 1, size=(64, 96), progress=False, overwrite=True)
    assert sorted(p.name for p in (out / "images").iterdir()) == ["synth_0000.tif"]


def test_pixel_size_round_trips_through_tiff_resolution_tags(tmp_path) -> None:
    config = SimulatorConfig.preset("tio2", pixel_size_nm=7.35)
    out = write_dataset(tmp_path, 1, size=(64, 64), config=config, progress=False)
    with tifffile.TiffFile(out / "images" / "synth_0000.tif") as tif:
        tags = tif.pages[0].tags
        assert tags["ResolutionUnit"].value == 3  # centimetre
        for name in ("XResolution", "YResolution"):
            numerator, denominator = tags[name].value
            assert 1e7 * denominator / numerator == pytest.approx(7.35, rel=1e-9)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["pixel_size_nm"] == meta["images"][0]["pixel_size_nm"] == 7.35


def test_config_round_trip_and_clear_errors() -> None:
    options = {"loops": {"bow": 0.1}}
    config = SimulatorConfig.preset("mixed", coverage=(0.1, 0.2), layout_options=options)
    assert SimulatorConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert SimulatorConfig.from_dict({"style": "tio2"}) == SimulatorConfig.preset("tio2")
    with pytest.raises(ConfigError, match="unknown simulator option"):
        SimulatorConfig.from_dict({"colour": 1})
    with pytest.raises(ConfigError, match="low <= high"):
        SimulatorConfig(coverage=(0.3, 0.1))
    with pytest.raises(ConfigError, match="unknown option"):
        SimulatorConfig(layout_options={"loops": {"nonsense": 1}})
    with pytest.raises(ConfigError, match="layout_weights"):
        SimulatorConfig(layout_weights={"spiral": 1.0})
    with pytest.raises(ConfigError, match="cannot be drawn"):
        SimulatorConfig(pixel_size_nm=10.0, diameter_median_nm=(5.0, 50.0))
    with pytest.raises(ConfigError, match="unknown simulator style"):
        SimulatorConfig.preset("tem")
    with pytest.raises(ConfigError, match="at least 1"):
        write_dataset("unused", 0)


def test_from_dict_uses_the_config_schema() -> None:
    config = SimulatorConfig.from_dict({"style": "tio2", "dose": 500, "size": [64, 96]})
    assert config.dose == (500.0, 500.0) and config.size == (64, 96)
    assert config.coverage == SimulatorConfig.preset("tio2").coverage
    with pytest.raises(ConfigError, match=r"^pixel_size_nm: 'a' is not a valid float$"):
        SimulatorConfig.from_dict({"pixel_size_nm": "a"})
    with pytest.raises(ConfigError, match=r"^layout_options\.loops: 5 is not a valid dict"):
        SimulatorConfig.from_dict({"layout_options": {"loops": 5}})
    with pytest.raises(ConfigError, match=r"^unknown simulator options key 'colour' \(valid keys"):
        SimulatorConfig.from_dict({"colour": 1})
    with pytest.raises(ConfigError, match="unknown simulator style 3"):
        SimulatorConfig.from_dict({"style": 3})
