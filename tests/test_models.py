"""Networks: shapes at odd sizes, gradient flow, attention maps, generator noise/style behaviour,
PatchGAN geometry and the registry."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sagegan.errors import ConfigError
from sagegan.models import SegmentationOutput, build_model, count_parameters, list_models
from sagegan.models.attention_unet import AttentionUNet, upsample_attention
from sagegan.models.blocks import crop_padding, norm_layer, pad_to_multiple
from sagegan.models.discriminator import PatchDiscriminator, patch_conv_specs, receptive_field
from sagegan.models.registry import check_model_options, format_model_table
from sagegan.models.style_unet import StyleUNetGenerator
from sagegan.models.unet_plus_plus import UNetPlusPlus

SEGMENTERS = ["attention_unet", "unet", "unet_plus_plus", "half_unet", "dc_unet"]
TINY = {"base_width": 4, "depth": 3}
ODD_SIZE = (97, 131)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _tiny_generator(**cfg: object) -> StyleUNetGenerator:
    model = build_model("style_unet_generator", latent_dim=16, mapping_layers=2, **TINY, **cfg)
    assert isinstance(model, StyleUNetGenerator)
    return model


def _mask(size: tuple[int, int] = (64, 64)) -> torch.Tensor:
    return (torch.rand(1, 1, *size) > 0.6).float()


def _assert_every_parameter_has_gradient(model: nn.Module, output: torch.Tensor) -> None:
    weights = torch.randn(output.shape, generator=torch.Generator().manual_seed(1))
    (output * weights).sum().backward()
    missing = [
        name
        for name, parameter in model.named_parameters()
        if parameter.grad is None or not parameter.grad.abs().sum() > 0
    ]
    assert not missing, f"no gradient reaches {missing}"


# ---------------------------------------------------------------- segmenters


@pytest.mark.parametrize("name", SEGMENTERS)
@pytest.mark.parametrize(("batch", "size"), [(1, ODD_SIZE), (2, (64, 64))])
def test_segmenter_logits_have_input_size(name: str, batch: int, size: tuple[int, int]) -> None:
    model = build_model(name, out_channels=2, **TINY)
    output = model(torch.randn(batch, 1, *size))
    assert isinstance(output, SegmentationOutput)
    assert output.logits.shape == (batch, 2, *size)
    assert torch.isfinite(output.logits).all()


@pytest.mark.parametrize(
    ("name", "cfg"),
    [
        *[(name, {}) for name in SEGMENTERS],
        ("attention_unet", {"gating": "same_resolution", "dropout": 0.5}),
        ("attention_unet", {"norm": "group", "upsampling": "bilinear"}),
        ("unet_plus_plus", {"deep_supervision": True}),
        ("half_unet", {"norm": "instance", "upsampling": "nearest"}),
        ("dc_unet", {"norm": "none"}),
    ],
)
def test_gradients_reach_every_segmenter_parameter(name: str, cfg: dict) -> None:
    model = build_model(name, **TINY, **cfg)
    _assert_every_parameter_has_gradient(model, model(torch.randn(2, 1, 48, 40)).logits)


def test_segmenters_without_gates_return_no_attention() -> None:
    for name in SEGMENTERS[1:]:
        assert build_model(name, **TINY)(torch.randn(1, 1, 32, 32)).attention == []


@pytest.mark.parametrize("gating", ["coarser", "same_resolution"])
def test_attention_maps_one_per_level_in_unit_range(gating: str) -> None:
    model = AttentionUNet(base_width=4, depth=3, gating=gating)
    output = model(torch.randn(1, 1, *ODD_SIZE))
    assert len(output.attention) == 3
    for alpha, level in zip(output.attention, [2, 1, 0], strict=True):
        expected = (1, 1, math.ceil(ODD_SIZE[0] / 2**level), math.ceil(ODD_SIZE[1] / 2**level))
        assert alpha.shape == expected
        assert alpha.min() >= 0 and alpha.max() <= 1
        assert alpha.std() > 0
    heatmaps = upsample_attention(output.attention, ODD_SIZE)
    assert heatmaps.shape == (1, 3, *ODD_SIZE)
    assert torch.equal(heatmaps[:, -1:], output.attention[-1])
    assert heatmaps.min() >= 0 and heatmaps.max() <= 1


def test_attention_gates_weight_the_skips() -> None:
    """Forcing every gate shut (psi bias -> -inf) must change the prediction."""
    model = AttentionUNet(base_width=4, depth=3).eval()
    image = torch.randn(1, 1, 64, 64)
    open_logits = model(image).logits
    with torch.no_grad():
        for gate in model.gates:
            gate.psi.bias.fill_(-1e4)
    closed = model(image)
    assert all(alpha.max() < 1e-6 for alpha in closed.attention)
    assert (closed.logits - open_logits).abs().mean() > 1e-3


def test_upsample_attention_rejects_maps_off_the_pyramid() -> None:
    with pytest.raises(ValueError, match="power-of-two"):
        upsample_attention([torch.rand(1, 1, 30, 30)], (97, 131))


def test_deep_supervision_averages_the_heads() -> None:
    model = UNetPlusPlus(base_width=4, depth=3, deep_supervision=True).eval()
    image = torch.randn(1, 1, 40, 56)
    heads = model.forward_heads(image)
    assert len(heads) == 3
    assert torch.allclose(model(image).logits, torch.stack(heads).mean(dim=0))


def test_half_unet_needs_even_width() -> None:
    with pytest.raises(ConfigError, match="even"):
        build_model("half_unet", base_width=5)


# ---------------------------------------------------------------- blocks


@pytest.mark.parametrize("mode", ["reflect", "zeros", "replicate"])
def test_pad_to_multiple_round_trips(mode: str) -> None:
    image = torch.randn(1, 2, *ODD_SIZE)
    padded, pad = pad_to_multiple(image, 16, mode)
    assert padded.shape[-2] % 16 == 0 and padded.shape[-1] % 16 == 0
    assert pad == (-ODD_SIZE[0] % 16, -ODD_SIZE[1] % 16)
    assert torch.equal(crop_padding(padded, pad), image)
    if mode == "zeros":
        assert padded[..., ODD_SIZE[0] :, :].abs().sum() == 0


def test_reflect_padding_falls_back_for_tiny_images() -> None:
    padded, _ = pad_to_multiple(torch.randn(1, 1, 3, 5), 16)
    assert padded.shape == (1, 1, 16, 16)
    model = build_model("unet", **TINY).eval()
    assert model(torch.randn(1, 1, 3, 5)).logits.shape == (1, 1, 3, 5)


def test_norm_layer_kinds() -> None:
    assert isinstance(norm_layer("batch", 8), nn.BatchNorm2d)
    assert isinstance(norm_layer("instance", 8), nn.InstanceNorm2d)
    assert norm_layer("group", 12).num_groups == 4
    assert isinstance(norm_layer("none", 8), nn.Identity)
    with pytest.raises(ConfigError, match="batch, instance, group, none"):
        norm_layer("layer", 8)


# ---------------------------------------------------------------- generator


@pytest.mark.parametrize("modulation", ["adain", "modconv"])
def test_generator_output_in_range_at_mask_size(modulation: str) -> None:
    model = _tiny_generator(modulation=modulation)
    image = model(_mask(ODD_SIZE))
    assert image.shape == (1, 1, *ODD_SIZE)
    assert image.min() >= -1 and image.max() <= 1
    _assert_every_parameter_has_gradient(model, image)


def test_faithful_noise_parameters_get_gradients() -> None:
    model = _tiny_generator(modulation="modconv", noise="faithful")
    _assert_every_parameter_has_gradient(model, model(_mask()))


@pytest.mark.parametrize("modulation", ["adain", "modconv"])
def test_generator_is_deterministic_given_z_and_noise(modulation: str) -> None:
    model = _tiny_generator(modulation=modulation)
    mask = _mask()
    z = model.sample_z(1, generator=torch.Generator().manual_seed(3))
    noise = model.make_noise(1, (64, 64), generator=torch.Generator().manual_seed(4))
    assert torch.equal(model(mask, z=z, noise=noise), model(mask, z=z, noise=noise))


@pytest.mark.parametrize("modulation", ["adain", "modconv"])
def test_different_z_gives_visibly_different_images(modulation: str) -> None:
    model = _tiny_generator(modulation=modulation).eval()
    mask = _mask()
    noise = model.make_noise(1, (64, 64))
    first = model(mask, z=model.sample_z(1), noise=noise)
    second = model(mask, z=model.sample_z(1), noise=noise)
    assert (first - second).abs().mean() > 0.02


def _noise_effect(model: StyleUNetGenerator) -> float:
    """Mean |difference| between two noise draws for one mask and one z."""
    model.eval()
    mask, z = _mask(), model.sample_z(1)
    first = model(mask, z=z, noise=model.make_noise(1, (64, 64)))
    second = model(mask, z=z, noise=model.make_noise(1, (64, 64)))
    return (first - second).abs().mean().item()


@pytest.mark.parametrize("modulation", ["adain", "modconv"])
def test_per_pixel_noise_changes_texture_faithful_noise_barely(modulation: str) -> None:
    per_pixel = _noise_effect(_tiny_generator(modulation=modulation, noise="per_pixel"))
    faithful = _noise_effect(_tiny_generator(modulation=modulation, noise="faithful"))
    assert per_pixel > 0.005
    assert faithful < 0.2 * per_pixel


def test_style_mixing_switches_styles_at_the_crossover() -> None:
    model = _tiny_generator().eval()
    mask = _mask()
    noise = model.make_noise(1, (64, 64))
    z1, z2 = model.sample_z(1), model.sample_z(1)
    layers = model.num_style_layers
    only_first = model(mask, w=model.mix_styles(z1, z2, crossover=layers), noise=noise)
    only_second = model(mask, w=model.mix_styles(z1, z2, crossover=0), noise=noise)
    mixed = model(mask, w=model.mix_styles(z1, z2, crossover=layers // 2), noise=noise)
    assert torch.allclose(only_first, model(mask, z=z1, noise=noise), atol=1e-6)
    assert torch.allclose(only_second, model(mask, z=z2, noise=noise), atol=1e-6)
    assert (mixed - only_first).abs().mean() > 1e-4
    assert (mixed - only_second).abs().mean() > 1e-4


def test_generator_rejects_bad_noise_and_styles() -> None:
    model = _tiny_generator()
    mask = _mask()
    noise = model.make_noise(1, (32, 32))
    with pytest.raises(ValueError, match="noise map"):
        model(mask, noise=noise)
    with pytest.raises(ValueError, match="noise maps"):
        model(mask, noise=noise[:1])
    with pytest.raises(ValueError, match="not both"):
        model(mask, z=model.sample_z(1), w=torch.zeros(1, 16))
    with pytest.raises(ValueError, match="crossover"):
        model.mix_styles(model.sample_z(1), model.sample_z(1), crossover=99)


# ---------------------------------------------------------------- discriminator


def test_patchgan_receptive_field_is_70() -> None:
    assert receptive_field(patch_conv_specs(3)) == 70
    assert PatchDiscriminator().receptive_field == 70


def test_patchgan_receptive_field_matches_gradient_support() -> None:
    """Backpropagating one interior score lights up exactly a 70x70 input window."""
    model = PatchDiscriminator(base_width=4, norm="none")
    image = torch.randn(1, 1, 160, 160, requires_grad=True)
    scores = model(image)
    centre = scores.shape[-1] // 2
    scores[0, 0, centre, centre].backward()
    support = image.grad[0, 0].abs() > 0
    rows = support.any(dim=1).nonzero()
    cols = support.any(dim=0).nonzero()
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70


@pytest.mark.parametrize("size", [(64, 64), ODD_SIZE])
def test_patchgan_output_size_follows_input(size: tuple[int, int]) -> None:
    model = PatchDiscriminator(base_width=4)
    expected = tuple(n // 8 - 2 for n in size)  # three halvings (floor), then two 4x4/1 convs
    assert model.output_size(*size) == expected
    assert model(torch.randn(2, 1, *size)).shape == (2, 1, *expected)


@pytest.mark.parametrize(
    "cfg",
    [{"norm": "batch"}, {"norm": "instance"}, {"spectral_norm": True}, {"in_channels": 2}],
)
def test_patchgan_variants_train(cfg: dict) -> None:
    model = build_model("patch_discriminator", base_width=4, **cfg)
    in_channels = cfg.get("in_channels", 1)
    _assert_every_parameter_has_gradient(model, model(torch.randn(2, in_channels, 72, 88)))


def test_spectral_norm_replaces_norm_layers() -> None:
    model = PatchDiscriminator(base_width=4, spectral_norm=True)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in model.modules())
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(hasattr(conv, "parametrizations") for conv in convs)


# ---------------------------------------------------------------- registry


def test_registry_lists_every_network() -> None:
    infos = {info.name: info for info in list_models()}
    assert set(infos) == {*SEGMENTERS, "style_unet_generator", "patch_discriminator"}
    assert {infos[name].kind for name in SEGMENTERS} == {"segmenter"}
    assert infos["style_unet_generator"].kind == "generator"
    assert infos["patch_discriminator"].kind == "discriminator"
    for name in SEGMENTERS:
        assert {"in_channels", "out_channels", "base_width", "depth", "norm"} <= set(
            infos[name].default_cfg
        )
    infos["unet"].default_cfg["base_width"] = 999
    assert next(i for i in list_models() if i.name == "unet").default_cfg["base_width"] != 999


def test_registry_rejects_unknown_names_options_and_values() -> None:
    with pytest.raises(ConfigError, match="attention_unet, unet"):
        build_model("segformer")
    with pytest.raises(ConfigError, match=r"unknown option.*widht.*valid options: in_channels"):
        build_model("unet", widht=8)
    with pytest.raises(ConfigError, match="same_resolution"):
        build_model("attention_unet", gating="sideways")
    with pytest.raises(ConfigError, match="adain, modconv"):
        build_model("style_unet_generator", modulation="film")
    with pytest.raises(ConfigError, match="per_pixel, faithful"):
        build_model("style_unet_generator", noise="uniform")
    with pytest.raises(ConfigError, match="reflect, zeros, replicate"):
        build_model("dc_unet", pad_mode="circular")
    with pytest.raises(ConfigError, match="bilinear, nearest"):
        build_model("half_unet", upsampling="transpose")


def test_count_parameters_and_table() -> None:
    model = build_model("unet", **TINY)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
    shared = nn.Linear(3, 3)
    assert count_parameters(nn.Sequential(shared, shared)) == 12
    rows = [(info, 1000 + index) for index, info in enumerate(list_models())]
    table = format_model_table(rows).splitlines()
    assert table.index("References:") == len(rows) + 2
    assert len(table) == 2 * len(rows) + 3
    assert table[1].split()[0] == rows[0][0].name and "1,000" in table[1]


def test_option_check_matches_the_build_error_without_building() -> None:
    check_model_options("unet", {"base_width": 8, "depth": 3})
    for name, options in (("segformer", {}), ("unet", {"widht": 8})):
        with pytest.raises(ConfigError) as checked:
            check_model_options(name, options)
        with pytest.raises(ConfigError) as built:
            build_model(name, **options)
        assert str(checked.value) == str(built.value)
