"""Support-film features of the simulator: bright edges and sheets that are never labelled."""

from __future__ import annotations

import numpy as np
import pytest

from sagegan.errors import ConfigError
from sagegan.synth import SimulatorConfig, simulate
from sagegan.synth.film import render_film
from sagegan.synth.render import sample_render_params

FILM = {"film_coverage": (0.2, 0.2), "film_sheet": (0.05, 0.05), "film_rim": (0.3, 0.3)}


def test_the_film_covers_the_asked_area_and_its_rims_are_thin_bright_lines() -> None:
    film = render_film(
        np.random.default_rng(0), (256, 384), coverage=0.2, sheet=-0.05, rim=0.3, rim_width_px=2.0
    )
    assert film.shape == (256, 384) and film.dtype == np.float32
    holes = film < -0.01  # inside the patches, away from their rims
    assert 0.1 < holes.mean() < 0.2
    rims = film > 0.15
    assert 0.005 < rims.mean() < 0.15  # lines along outlines, not areas
    assert film.max() <= 0.3 + 1e-6


def test_film_changes_the_image_but_never_the_labels() -> None:
    sharp = {"size": (128, 160), "blur_sigma_px": 0.5}
    plain = simulate(3, SimulatorConfig.preset("pdc", **sharp))
    filmed = simulate(3, SimulatorConfig.preset("pdc", **sharp, **FILM))
    np.testing.assert_array_equal(plain.labels, filmed.labels)
    background = plain.labels == 0
    brightest = [np.percentile(s.image[background], 99.5) for s in (plain, filmed)]
    assert brightest[1] > brightest[0] + 10  # bright rims and sheets off the particles


def test_a_config_without_film_draws_no_film_values() -> None:
    config = SimulatorConfig.preset("pdc")
    rng = np.random.default_rng(0)
    params = sample_render_params(rng, config)
    assert params.film_coverage == 0.0
    follower = rng.random()
    again = np.random.default_rng(0)
    filmed_params = sample_render_params(again, SimulatorConfig.preset("pdc", **FILM))
    assert filmed_params.film_coverage == pytest.approx(0.2)
    assert again.random() != follower  # the film's draws come after every other value


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"film_coverage": 1.5}, "film_coverage"), ({"film_rim_px": 0.0}, "film_rim_px")],
)
def test_bad_film_options_are_one_line_errors(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimulatorConfig.preset("pdc", **overrides)
