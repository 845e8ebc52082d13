"""Training config: presets, YAML files, overrides and their errors."""

from __future__ import annotations

import pytest

from sagegan.data.augment import AugmentConfig
from sagegan.errors import ConfigError, DataError
from sagegan.train.config import (
    PRESETS,
    PerceptualConfig,
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


def test_augment_and_perceptual_are_records_merged_key_by_key(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("data:\n  augment:\n    hflip: 0.1\ngan:\n  perceptual:\n    downscale: 4\n")
    config = config_from_cli("auto", path)
    assert config.data.augment == AugmentConfig(hflip=0.1, scale=0.5, scale_range=(0.67, 1.5))
    assert config.gan.perceptual == PerceptualConfig(
        downscale=4, layers=["relu1_1", "relu2_1", "relu3_1"]
    )
    assert config.gan.perceptual.loss_options() == {
        "source": "auto",
        "vgg_weights": None,
        "layers": ["relu1_1", "relu2_1", "relu3_1"],
        "downscale": 4,
        "random_arch": "vgg19",
    }
    assert config_from_cli("tiny", None, {"data.augment": None}).data.augment is None


def test_a_config_saved_before_the_records_still_loads():
    """Run folders saved ``augment`` as the given options only ({} = defaults) and
    ``perceptual`` without the keys left at their defaults."""
    old = config_from_cli("auto").to_dict()
    old["data"]["augment"] = {"scale": 0.5, "scale_range": [0.67, 1.5]}
    old["gan"]["perceptual"] = {
        "source": "auto",
        "vgg_weights": None,
        "downscale": 2,
        "layers": ["relu1_1", "relu2_1", "relu3_1"],
    }
    assert TrainConfig.from_dict(old) == config_from_cli("auto")
    old["data"]["augment"] = {}
    assert TrainConfig.from_dict(old).data.augment == AugmentConfig()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data.augment.vflip": 1.5}, "data.augment.vflip is a probability in [0, 1], got 1.5"),
        ({"data.augment.flip": 0.5}, "unknown config key 'data.augment.flip'"),
        ({"gan.perceptual.sorce": "x"}, "unknown config key 'gan.perceptual.sorce'"),
        ({"gan.perceptual.source": "segmenter"}, "gan.perceptual.source: 'segmenter' is not"),
        ({"gan.perceptual.downscale": 0}, "gan.perceptual.downscale must be >= 1, got 0"),
        ({"gan.perceptual.layers": ["relu9_1"]}, "gan.perceptual.layers: perceptual layers"),
        ({"gan.perceptual.random_arch": "vgg11"}, "gan.perceptual.random_arch: 'vgg11' is not"),
        ({"gan.loss_weights.rec_mask": "x"}, "gan.loss_weights.rec_mask: 'x' is not a valid float"),
        ({"model.segmenter": "gan"}, "model.segmenter: 'gan' is not one of attention_unet"),
        ({"model.segmenter_kwargs.widht": 4}, "model.segmenter_kwargs: attention_unet: unknown"),
        ({"model.generator_kwargs.depht": 4}, "model.generator_kwargs: style_unet_generator: unkn"),
        ({"model.discriminator_kwargs.x": 4}, "model.discriminator_kwargs: patch_discriminator: "),
        ({"pretrain.loss": "l2"}, "pretrain.loss: unknown segmentation loss 'l2'"),
        ({"pretrain.loss_kwargs.alpha": 1}, "pretrain.loss: segmentation loss 'bce_focal_tversky'"),
    ],
)
def test_nested_and_open_ended_settings_are_checked_at_load(overrides, message):
    with pytest.raises(ConfigError) as caught:
        config_from_cli("tiny", None, overrides)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_building_a_config_checks_it_and_sections_keep_their_defaults():
    assert TrainConfig() == TrainConfig.from_dict({}) == config_from_cli("paper")
    assert TrainConfig().data.augment == AugmentConfig()
    with pytest.raises(ConfigError, match=r"^seed must be in \[0, 2\*\*32\), got -1$"):
        TrainConfig(seed=-1)
