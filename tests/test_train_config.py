"""Training config: presets, YAML files, overrides and their errors."""

from __future__ import annotations

import pytest

from sagegan.errors import ConfigError, DataError
from sagegan.train.config import (
    PRESETS,
    TrainConfig,
    config_from_cli,
    load_yaml,
    nest_dotted,
    parse_yaml,
    save_config,
)


def test_paper_preset_has_the_paper_sizes():
    config = config_from_cli("paper")
    assert config.model.segmenter_kwargs["base_width"] == 64
    assert config.data.patch_size == (512, 768)
    assert (config.pretrain.epochs, config.gan.epochs) == (200, 500)
    assert config.pretrain.batch_size == config.gan.batch_size == 2
    assert config.pretrain.lr == 1e-4
    assert config.gan.loss_weights["rec_mask"] == 200.0


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_yaml(tmp_path, name):
    config = config_from_cli(name)
    save_config(config, tmp_path / "config.yaml")
    assert TrainConfig.from_dict(load_yaml(tmp_path / "config.yaml")) == config


def test_file_then_overrides_win_over_the_preset(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("gan:\n  epochs: 7\n  loss_weights:\n    rec_mask: 10\nseed: 3\n")
    config = config_from_cli("tiny", path, {"gan.epochs": 9, "data.patch_size": [32, 48]})
    assert config.gan.epochs == 9
    assert config.seed == 3
    assert config.data.patch_size == (32, 48)
    # a nested dict merges: the other loss weights keep their preset values
    assert config.gan.loss_weights["rec_mask"] == 10.0
    assert config.gan.loss_weights["id_mask"] == 100.0


def test_unknown_key_is_an_error_naming_it(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("gan:\n  epoch: 7\n")
    with pytest.raises(ConfigError, match=r"gan\.epoch"):
        config_from_cli("tiny", path)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"gan.mask_mode": "argmax"}, "gan.mask_mode"),
        ({"gan.bn_guard": "maybe"}, "gan.bn_guard"),
        ({"pretrain.val_metric": "iou"}, "pretrain.val_metric"),
        ({"gan.mask_sources": {"dreams": 1.0}}, "dreams"),
        ({"gan.loss_weights": {"vgg": 1.0}}, "vgg"),
        ({"pretrain.epochs": "many"}, "pretrain.epochs"),
        ({"runtime.amp": "fp8"}, "runtime.amp"),
        ({"data.patch_size": [8, 8]}, "patch_size"),
    ],
)
def test_bad_values_are_one_line_config_errors(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")) as caught:
        config_from_cli("tiny", None, overrides)
    assert "\n" not in str(caught.value)


def test_unknown_preset_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="preset"):
        config_from_cli("huge")
    path = tmp_path / "bad.yaml"
    path.write_text("gan: [1, 2\n")
    with pytest.raises(DataError, match=r"bad\.yaml"):
        load_yaml(path)


def test_nest_dotted():
    assert nest_dotted({"a.b.c": 1, "a.d": 2, "e": 3}) == {"a": {"b": {"c": 1}, "d": 2}, "e": 3}


@pytest.mark.parametrize(
    ("text", "value"), [("1e-3", 0.001), ("2E+2", 200.0), ("1.0e-3", 0.001), ("3", 3)]
)
def test_exponent_floats_are_numbers_in_files_and_overrides(tmp_path, text, value):
    (tmp_path / "c.yaml").write_text(f"pretrain:\n  lr: {text}\n")
    from_file = config_from_cli("tiny", tmp_path / "c.yaml", {})
    from_set = config_from_cli("tiny", None, {"pretrain.lr": parse_yaml(text)})
    assert from_file.pretrain.lr == from_set.pretrain.lr == value
