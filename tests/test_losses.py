"""Segmentation losses, least-squares GAN losses and DiffAugment on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sagegan.errors import ConfigError
from sagegan.losses import (
    bce_loss,
    build_segmentation_loss,
    dice_loss,
    diff_augment,
    focal_bce_loss,
    focal_tversky_loss,
    l1_image_loss,
    lsgan_d_loss,
    lsgan_g_loss,
    tversky_index,
)
from sagegan.losses.segmentation import PRESETS, check_segmentation_loss

CONFIDENT = 30.0


def disk_target(batch: int = 2, size: int = 32, radius: float = 8.0) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disk = (((rows - size / 2) ** 2 + (cols - size / 2) ** 2) <= radius**2).float()
    return disk.expand(batch, 1, size, size).clone()


def confident_logits(mask: torch.Tensor) -> torch.Tensor:
    return (2.0 * mask - 1.0) * CONFIDENT


REGION_LOSSES = {
    "dice": lambda lo, ta, va, agg: dice_loss(lo, ta, va, agg),
    "tversky": lambda lo, ta, va, agg: focal_tversky_loss(lo, ta, va, 0.3, 0.7, 1.0, agg),
    "focal_tversky": lambda lo, ta, va, agg: focal_tversky_loss(lo, ta, va, aggregation=agg),
    "focal_tversky_gamma_below_1": lambda lo, ta, va, agg: focal_tversky_loss(
        lo, ta, va, gamma=0.75, aggregation=agg
    ),
}


@pytest.mark.parametrize("aggregation", ["per_image", "batch"])
@pytest.mark.parametrize("name", list(REGION_LOSSES))
def test_region_loss_perfect_is_zero_and_all_wrong_is_one(name: str, aggregation: str) -> None:
    loss = REGION_LOSSES[name]
    target = disk_target()
    assert loss(confident_logits(target), target, None, aggregation).item() < 1e-4
    assert loss(confident_logits(1.0 - target), target, None, aggregation).item() > 0.99


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_on_empty_masks_are_finite_with_finite_gradients(name: str) -> None:
    loss = build_segmentation_loss(name)
    target = torch.zeros(2, 1, 16, 16)
    for start in (-CONFIDENT, 0.0):
        logits = torch.full_like(target, start, requires_grad=True)
        value = loss(logits, target)
        value.backward()
        assert torch.isfinite(value)
        assert logits.grad is not None and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name", ["bce_focal_tversky", "dice", "ce_dice"])
def test_presets_call_empty_mask_predicted_empty_a_perfect_prediction(name: str) -> None:
    target = torch.zeros(1, 1, 16, 16)
    assert build_segmentation_loss(name)(confident_logits(target), target).item() < 1e-4


@pytest.mark.parametrize("aggregation", ["per_image", "batch"])
@pytest.mark.parametrize("name", list(PRESETS))
def test_valid_mask_ignores_masked_pixels(name: str, aggregation: str) -> None:
    options = {} if name.startswith("reference") else {"aggregation": aggregation}
    loss = build_segmentation_loss(name, **options)
    generator = torch.Generator().manual_seed(0)
    target = disk_target()
    logits = torch.randn(target.shape, generator=generator)
    valid = torch.ones_like(target)
    valid[..., :, 20:] = 0.0
    changed_logits = logits.clone()
    changed_logits[..., :, 20:] = torch.randn(
        changed_logits[..., :, 20:].shape, generator=generator
    )
    changed_target = target.clone()
    changed_target[..., :, 20:] = 1.0 - changed_target[..., :, 20:]
    reference = loss(logits, target, valid)
    assert torch.allclose(loss(changed_logits, changed_target, valid), reference, atol=1e-6)
    assert not torch.allclose(loss(changed_logits, target), loss(logits, target), atol=1e-6)


def test_half_precision_logits_do_not_overflow_the_soft_counts() -> None:
    target = torch.ones(1, 1, 256, 256)  # 65536 foreground pixels > float16 max 65504
    logits = confident_logits(target).half()
    for preset in ("dice", "bce_focal_tversky", "reference_default"):
        value = build_segmentation_loss(preset)(logits, target)
        assert torch.isfinite(value) and value.item() < 1e-3


def test_valid_mask_with_nothing_valid_gives_zero_pixel_loss() -> None:
    target = disk_target()
    assert bce_loss(torch.zeros_like(target), target, torch.zeros_like(target)).item() == 0.0


def test_tversky_penalises_false_negatives_more_when_beta_exceeds_alpha() -> None:
    small = torch.zeros(1, 1, 8, 8)
    small[..., 2:6, 2:4] = 1.0  # 8 pixels
    large = small.clone()
    large[..., 2:6, 4] = 1.0  # the same 8 plus 4 more

    def false_positives(alpha: float, beta: float) -> float:  # TP 8, FP 4, FN 0
        return focal_tversky_loss(confident_logits(large), small, None, alpha, beta, 1.0).item()

    def false_negatives(alpha: float, beta: float) -> float:  # TP 8, FP 0, FN 4
        return focal_tversky_loss(confident_logits(small), large, None, alpha, beta, 1.0).item()

    assert false_negatives(0.3, 0.7) > false_positives(0.3, 0.7) + 0.1
    assert false_positives(0.7, 0.3) > false_negatives(0.7, 0.3) + 0.1
    assert false_positives(0.5, 0.5) == pytest.approx(false_negatives(0.5, 0.5), rel=1e-5)


def test_per_image_and_batch_aggregation_differ_on_unequal_images() -> None:
    target = torch.zeros(2, 1, 32, 32)
    target[0, :, 4:28, 4:28] = 1.0  # large object, found
    target[1, :, 10:12, 10:12] = 1.0  # small object, missed
    prediction = target.clone()
    prediction[1] = 0.0
    logits = confident_logits(prediction)
    per_image = dice_loss(logits, target, aggregation="per_image").item()
    batch = dice_loss(logits, target, aggregation="batch").item()
    assert per_image == pytest.approx(0.5 * (1.0 - 1.0 / 5.0), abs=1e-3)  # (0 + 1 - 1/(FN + 1)) / 2
    assert batch < 0.02
    per_image_ti = tversky_index(logits, target, aggregation="per_image")
    assert per_image_ti.shape == (2,)


def test_focal_bce_down_weights_easy_pixels() -> None:
    target = torch.ones(1, 1, 1, 2)
    probabilities = torch.tensor([0.95, 0.3]).view(1, 1, 1, 2)  # easy, hard
    logits = torch.log(probabilities / (1 - probabilities))
    gamma = 2.0
    for pixel, p_true in enumerate((0.95, 0.3)):
        one = (slice(None), slice(None), slice(None), slice(pixel, pixel + 1))
        focal = focal_bce_loss(logits[one], target[one], alpha=None, gamma=gamma)
        plain = bce_loss(logits[one], target[one])
        assert (focal / plain).item() == pytest.approx((1 - p_true) ** gamma, rel=1e-4)
    assert focal_bce_loss(logits, target, alpha=None, gamma=0.0).item() == pytest.approx(
        bce_loss(logits, target).item(), rel=1e-6
    )


def test_focal_bce_class_balance_weights_foreground_by_alpha() -> None:
    logits = torch.zeros(1, 1, 1, 1)
    foreground = focal_bce_loss(logits, torch.ones_like(logits), alpha=0.75, gamma=0.0)
    background = focal_bce_loss(logits, torch.zeros_like(logits), alpha=0.75, gamma=0.0)
    assert (foreground / background).item() == pytest.approx(3.0, rel=1e-5)


SMALL_LOGITS = [[2.0, -1.0], [0.0, 3.0]], [[-2.0, 0.5], [1.0, -0.5]]
SMALL_TARGET = [[1.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [1.0, 0.0]]


def hand_counts() -> tuple[float, float, float, float]:
    """Batch-mean BCE and batch-wide soft TP, FP, FN of the small example, with plain math."""
    ce = tp = fp = fn = 0.0
    for image_logits, image_target in zip(SMALL_LOGITS, SMALL_TARGET, strict=True):
        for row_logits, row_target in zip(image_logits, image_target, strict=True):
            for z, y in zip(row_logits, row_target, strict=True):
                p = 1.0 / (1.0 + math.exp(-z))
                ce -= y * math.log(p) + (1 - y) * math.log(1 - p)
                tp, fp, fn = tp + p * y, fp + p * (1 - y), fn + (1 - p) * y
    return ce / 8, tp, fp, fn


def small_example() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(SMALL_LOGITS).unsqueeze(1), torch.tensor(SMALL_TARGET).unsqueeze(1)


def test_reference_default_matches_hand_computation() -> None:
    ce, tp, fp, fn = hand_counts()
    expected = 0.5 * (1 - math.exp(-ce)) ** 2 * ce + 1 - tp / (tp + 0.7 * fn + 0.3 * fp + 1e-6)
    logits, target = small_example()
    assert build_segmentation_loss("reference_default")(logits, target).item() == pytest.approx(
        expected, rel=1e-5
    )


def test_reference_logged_matches_hand_computation() -> None:
    ce, tp, fp, fn = hand_counts()
    expected = ce + (1 - tp / (tp + 0.6 * fn + 0.4 * fp + 1e-6)) ** 1.5
    logits, target = small_example()
    assert build_segmentation_loss("reference_logged")(logits, target).item() == pytest.approx(
        expected, rel=1e-5
    )


def test_single_logit_bce_equals_two_class_softmax_cross_entropy() -> None:
    logits, target = small_example()
    two_class = torch.cat([torch.zeros_like(logits), logits], dim=1)
    softmax_ce = F.cross_entropy(two_class, target.squeeze(1).long())
    assert bce_loss(logits, target).item() == pytest.approx(softmax_ce.item(), rel=1e-6)


def test_components_report_terms_and_weighted_total() -> None:
    loss = build_segmentation_loss("bce_focal_tversky", bce_weight=2.0, ftl_weight=0.5)
    logits, target = small_example()
    parts = loss.components(logits, target)
    assert set(parts) == {"bce", "focal_tversky", "total"}
    assert parts["total"].item() == pytest.approx(
        2.0 * parts["bce"].item() + 0.5 * parts["focal_tversky"].item(), rel=1e-6
    )
    assert loss(logits, target).item() == pytest.approx(parts["total"].item(), rel=1e-6)
    focal = build_segmentation_loss("bce_focal_tversky", focal_alpha=0.25, focal_gamma=2.0)
    assert "focal_bce" in focal.components(logits, target)


def test_ce_dice_is_bce_plus_dice() -> None:
    logits, target = small_example()
    expected = bce_loss(logits, target) + dice_loss(logits, target)
    assert build_segmentation_loss("ce_dice")(logits, target).item() == pytest.approx(
        expected.item(), rel=1e-6
    )


@pytest.mark.parametrize(
    ("name", "options", "fragment"),
    [
        ("focal_dice", {}, "choose from bce_focal_tversky, dice, ce_dice"),
        ("dice", {"alpha": 0.3}, "unknown option(s) alpha"),
        ("reference_default", {"smooth": 0.0}, "allowed: none"),
        ("dice", {"aggregation": "image"}, "aggregation must be one of"),
        ("bce_focal_tversky", {"ftl_gamma": 0.0}, "ftl_gamma must be"),
        ("bce_focal_tversky", {"tversky_alpha": "x"}, "tversky_alpha must be"),
    ],
)
def test_bad_loss_configuration_is_a_config_error(
    name: str, options: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConfigError) as error:
        build_segmentation_loss(name, **options)
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_mismatched_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="target shape"):
        bce_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match="B x 1 x H x W"):
        dice_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4))


def test_lsgan_losses_on_constant_predictions() -> None:
    real = torch.full((2, 1, 6, 6), 0.8)
    fake = torch.full((2, 1, 6, 6), 0.3)
    assert lsgan_d_loss(real, fake).item() == pytest.approx(0.5 * (0.2**2 + 0.3**2), rel=1e-5)
    assert lsgan_g_loss(fake).item() == pytest.approx(0.7**2, rel=1e-5)
    assert lsgan_d_loss(torch.ones(3), torch.zeros(5)).item() == 0.0
    assert lsgan_g_loss(torch.ones(4, 1)).item() == 0.0


def test_l1_image_loss_honours_valid_mask() -> None:
    pred = torch.zeros(1, 1, 4, 4)
    target = torch.zeros(1, 1, 4, 4)
    target[..., :2] = 1.0
    valid = torch.zeros(1, 1, 4, 4)
    valid[..., 2:] = 1.0
    assert l1_image_loss(pred, target).item() == pytest.approx(0.5)
    assert l1_image_loss(pred, target, valid).item() == 0.0


def test_diff_augment_keeps_shape_and_p_zero_is_identity() -> None:
    x = torch.rand(3, 1, 16, 24) * 2 - 1
    out = diff_augment(x, p=1.0, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not torch.equal(out, x)
    assert torch.equal(diff_augment(x, p=0.0), x)


def test_diff_augment_is_differentiable_and_reproducible() -> None:
    x = (torch.rand(2, 1, 16, 16) * 2 - 1).requires_grad_(True)
    out = diff_augment(x, generator=torch.Generator().manual_seed(3))
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    again = diff_augment(x.detach(), generator=torch.Generator().manual_seed(3))
    assert torch.equal(out.detach(), again)


def test_diff_augment_draws_per_sample() -> None:
    x = (torch.rand(1, 1, 16, 16) * 2 - 1).expand(4, 1, 16, 16)
    out = diff_augment(x, generator=torch.Generator().manual_seed(5))
    assert not torch.equal(out[0], out[1])


def test_translation_is_a_zero_filled_integer_shift() -> None:
    x = torch.rand(4, 1, 16, 16) + 0.5  # no zeros inside the image
    out = diff_augment(x, "translation", generator=torch.Generator().manual_seed(2))
    for sample in range(4):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                padded = F.pad(x[sample], [2, 2, 2, 2])
                shifted = padded[:, 2 - dy : 18 - dy, 2 - dx : 18 - dx]
                matches.append(torch.equal(out[sample], shifted))
        assert sum(matches) == 1


def test_cutout_zeros_one_rectangle_of_at_most_half_size() -> None:
    x = torch.rand(4, 1, 16, 16) + 0.5
    out = diff_augment(x, "cutout", generator=torch.Generator().manual_seed(4))
    for sample in range(4):
        zeroed = out[sample, 0] == 0
        rows, cols = zeroed.any(dim=1).nonzero(), zeroed.any(dim=0).nonzero()
        assert 0 < int(zeroed.sum()) <= 8 * 8
        assert int(zeroed.sum()) == len(rows) * len(cols)  # a filled rectangle
        assert torch.equal(out[sample, 0][~zeroed], x[sample, 0][~zeroed])


def test_color_is_a_per_sample_affine_change_of_bounded_contrast() -> None:
    x = torch.rand(4, 1, 8, 8)
    out = diff_augment(x, "color", generator=torch.Generator().manual_seed(6))
    for sample in range(4):
        centred_in = x[sample] - x[sample].mean()
        centred_out = out[sample] - out[sample].mean()
        contrast = (centred_out.abs().sum() / centred_in.abs().sum()).item()
        assert 0.5 <= contrast <= 1.5
        assert torch.allclose(centred_out, contrast * centred_in, atol=1e-5)


def test_diff_augment_rejects_bad_options() -> None:
    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ConfigError, match="unknown DiffAugment operation"):
        diff_augment(x, "color,rotate")
    with pytest.raises(ConfigError, match="probability"):
        diff_augment(x, p=1.5)


def test_loss_option_check_matches_the_build_error() -> None:
    check_segmentation_loss("dice", {"smooth": 0.5})
    for name, options in (("focal_dice", {}), ("dice", {"alpha": 0.3})):
        with pytest.raises(ConfigError) as checked:
            check_segmentation_loss(name, options)
        with pytest.raises(ConfigError) as built:
            build_segmentation_loss(name, **options)
        assert str(checked.value) == str(built.value)
