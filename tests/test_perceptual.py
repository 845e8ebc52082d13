"""VGG trunks with torchvision key names, their weight sources, and the perceptual loss."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from sagegan.errors import ConfigError
from sagegan.losses import PerceptualLoss, build_perceptual_loss, vgg_weights
from sagegan.losses.perceptual import IMAGENET_MEAN, IMAGENET_STD, REFERENCE_LAYER_WEIGHTS
from sagegan.models.vgg import VGGFeatures, conv_layer_indices, relu_layer_indices

# torchvision's vgg16().features / vgg19().features convolution indices.
TORCHVISION_CONVS = {
    "vgg16": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
    "vgg19": [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34],
}


@pytest.fixture(scope="module")
def random_vgg19() -> VGGFeatures:
    torch.manual_seed(0)
    return VGGFeatures("vgg19")


@pytest.fixture(scope="module")
def random_loss() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_perceptual_loss("random")


def images(seed: int, size: int = 32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(2, 1, size, size, generator=generator) * 2 - 1


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_vgg_parameter_names_follow_torchvision(arch: str) -> None:
    assert conv_layer_indices(arch) == TORCHVISION_CONVS[arch]
    keys = set(VGGFeatures(arch).state_dict())
    expected = {
        f"features.{i}.{kind}" for i in TORCHVISION_CONVS[arch] for kind in ("weight", "bias")
    }
    assert keys == expected


def test_reference_slices_are_the_relu_k_1_layers_of_vgg19() -> None:
    indices = relu_layer_indices("vgg19")
    # The reference slices VGG19 features at [0:2], [2:7], [7:12], [12:21], [21:30].
    assert [indices[name] + 1 for name in REFERENCE_LAYER_WEIGHTS] == [2, 7, 12, 21, 30]


def test_vgg_forward_returns_requested_layers_only(random_vgg19: VGGFeatures) -> None:
    x = torch.rand(1, 3, 32, 32)
    out = random_vgg19(x, ["relu2_1", "relu1_1"])
    assert set(out) == {"relu1_1", "relu2_1"}
    assert out["relu1_1"].shape == (1, 64, 32, 32)
    assert out["relu2_1"].shape == (1, 128, 16, 16)
    with pytest.raises(ConfigError, match="unknown vgg19 layer 'relu6_1'"):
        random_vgg19(x, ["relu6_1"])


@pytest.mark.parametrize("layout", ["features", "full_model", "bare"])
def test_state_dict_round_trips_through_file_loader(
    layout: str, random_vgg19: VGGFeatures, tmp_path: Path
) -> None:
    state = random_vgg19.state_dict()
    if layout == "full_model":
        state = {
            **state,
            "classifier.0.weight": torch.zeros(4, 2),
            "classifier.0.bias": torch.zeros(4),
        }
    elif layout == "bare":
        state = {key.removeprefix("features."): value for key, value in state.items()}
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    loaded = vgg_weights.load_vgg_file(path)
    assert loaded.arch == "vgg19"
    for key, value in random_vgg19.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_vgg16_file_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "vgg16.pth"
    torch.save(VGGFeatures("vgg16").state_dict(), path)
    loss = build_perceptual_loss(vgg_weights=path)
    assert loss.vgg is not None and loss.vgg.arch == "vgg16"
    assert str(path) in loss.weights_source and "vgg16" in loss.weights_source


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (
            {"net.slice1.0.weight": torch.zeros(64, 3, 3, 3)},
            "not a torchvision VGG16/VGG19 state dict",
        ),
        ([1, 2, 3], "expected a state dict"),
        (None, "not found"),
    ],
)
def test_bad_weight_files_are_config_errors(content: object, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "weights.pth"
    if content is not None:
        torch.save(content, path)
    with pytest.raises(ConfigError) as error:
        build_perceptual_loss(vgg_weights=path)
    message = str(error.value)
    assert fragment in message and str(path) in message and "\n" not in message


def test_wrong_tensor_shapes_are_config_errors(random_vgg19: VGGFeatures, tmp_path: Path) -> None:
    state = dict(random_vgg19.state_dict())
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    with pytest.raises(ConfigError, match="shapes do not match vgg19"):
        vgg_weights.load_vgg_file(path)


@pytest.fixture(scope="module")
def stlpips_file() -> Path:
    path = vgg_weights.find_stlpips_vgg_weights()
    if path is None:
        pytest.skip("stlpips-pytorch==0.0.2 is not installed (pip install stlpips-pytorch==0.0.2)")
    return path


def test_stlpips_weights_are_loaded_in_order(stlpips_file: Path) -> None:
    loss = build_perceptual_loss()
    assert "stlpips-pytorch" in loss.weights_source
    assert "stlpips_pytorch" not in sys.modules  # read as a file, never imported
    assert loss.vgg is not None and loss.vgg.arch == "vgg16"
    raw = torch.load(stlpips_file, map_location="cpu", weights_only=True)
    file_convs = sorted(
        (int(key.split(".")[2]), key.rsplit(".", 1)[0])
        for key in raw
        if key.startswith("net.slice") and key.endswith(".weight")
    )
    assert len(file_convs) == 13
    state = loss.vgg.state_dict()
    for target, (_, prefix) in zip(TORCHVISION_CONVS["vgg16"], file_convs, strict=True):
        assert torch.equal(state[f"features.{target}.weight"], raw[f"{prefix}.weight"])
        assert torch.equal(state[f"features.{target}.bias"], raw[f"{prefix}.bias"])


def test_stlpips_input_scaling_equals_our_imagenet_normalisation(stlpips_file: Path) -> None:
    raw = torch.load(stlpips_file, map_location="cpu", weights_only=True)
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    assert torch.allclose(raw["scaling_layer.shift"].flatten(), 2 * mean - 1, atol=1e-6)
    assert torch.allclose(raw["scaling_layer.scale"].flatten(), 2 * std, atol=1e-6)


def test_stlpips_features_grow_with_distortion(stlpips_file: Path) -> None:
    loss = build_perceptual_loss(layers=["relu1_1", "relu2_1", "relu3_1"])
    clean = images(1, 48)
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
    distances = [loss(clean + level * noise, clean).item() for level in (0.0, 0.05, 0.2, 0.5)]
    assert distances[0] == 0.0
    assert distances == sorted(distances) and distances[1] < 0.5 * distances[3]


def test_missing_weights_give_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vgg_weights, "find_stlpips_vgg_weights", lambda: None)
    for source in ("auto", "stlpips"):
        with pytest.raises(ConfigError) as error:
            build_perceptual_loss(source)
        message = str(error.value)
        assert "--vgg-weights PATH" in message and "stlpips-pytorch==0.0.2" in message
        assert "\n" not in message


def test_random_weights_are_explicit_and_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sagegan"):
        loss = build_perceptual_loss(vgg_weights="random", layers=["relu1_1"])
    assert "random" in loss.weights_source
    assert any("RANDOMLY" in record.getMessage() for record in caplog.records)


def test_loss_is_zero_for_identical_inputs_and_gradients_reach_the_input(
    random_loss: torch.nn.Module,
) -> None:
    x = images(3).requires_grad_(True)
    y = images(4)
    assert random_loss(y, y).item() == 0.0
    value = random_loss(x, y)
    value.backward()
    assert value.item() > 0
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in random_loss.parameters())


def test_loss_matches_weighted_l1_of_normalised_features(random_loss: torch.nn.Module) -> None:
    x, y = images(5), images(6)
    vgg = random_loss.vgg
    mean, std = (
        torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
        torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
    )

    def prepare(image: torch.Tensor) -> torch.Tensor:
        return ((image.repeat(1, 3, 1, 1) + 1) / 2 - mean) / std

    fx, fy = vgg(prepare(x), REFERENCE_LAYER_WEIGHTS), vgg(prepare(y), REFERENCE_LAYER_WEIGHTS)
    expected = sum(w * F.l1_loss(fx[k], fy[k]) for k, w in REFERENCE_LAYER_WEIGHTS.items())
    assert random_loss(x, y).item() == pytest.approx(float(expected), rel=1e-5)


def test_downscale_pools_both_images_first(random_vgg19: VGGFeatures) -> None:
    layers = {"relu1_1": 1.0, "relu2_1": 0.5}
    full = PerceptualLoss(layers, "test", vgg=random_vgg19)
    halved = PerceptualLoss(layers, "test", vgg=random_vgg19, downscale=2)
    x, y = images(7), images(8)
    expected = full(F.avg_pool2d(x, 2), F.avg_pool2d(y, 2))
    assert halved(x, y).item() == pytest.approx(expected.item(), rel=1e-6)
    assert halved(x, y).item() != pytest.approx(full(x, y).item(), rel=1e-3)


def test_vgg_stays_in_eval_mode(random_loss: torch.nn.Module) -> None:
    random_loss.train()
    assert random_loss.training and not random_loss.vgg.training


def test_segmenter_features_source() -> None:
    loss = build_perceptual_loss(
        "segmenter", feature_extractor=lambda t: [t, t**2], feature_weights=[1.0, 0.5]
    )
    x = images(9).requires_grad_(True)
    y = images(10)
    expected = F.l1_loss(x, y) + 0.5 * F.l1_loss(x**2, y**2)
    value = loss(x, y)
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    value.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    equal_weights = build_perceptual_loss("segmenter", feature_extractor=lambda t: [t, 2 * t])
    assert equal_weights(x, y).item() == pytest.approx(3 * F.l1_loss(x, y).item(), rel=1e-6)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"source": "segmenter"}, "needs a feature_extractor"),
        ({"source": "imagenet"}, "choose from auto, file, stlpips, random, segmenter"),
        ({"source": "file"}, "needs vgg_weights=PATH"),
        ({"source": "random", "layers": ["relu1_2"]}, "have no reference weight"),
        ({"source": "random", "downscale": 0}, "downscale must be an integer >= 1"),
        ({"source": "stlpips", "vgg_weights": "vgg19.pth"}, "conflicts with perceptual source"),
    ],
)
def test_bad_perceptual_options_are_config_errors(
    options: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConfigError) as error:
        build_perceptual_loss(**options)
    assert fragment in str(error.value)
