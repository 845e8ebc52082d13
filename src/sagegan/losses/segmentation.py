"""Binary segmentation losses on logits: BCE, focal BCE, Tversky / focal Tversky, soft Dice.

Shapes: ``logits`` and ``target`` are B x 1 x H x W; ``target`` holds {0, 1} floats; the optional
``valid`` mask (same shape, 1 = counts, 0 = ignored, e.g. padding) is honoured by every loss:
ignored pixels add nothing to pixel means or to the soft counts TP, FP, FN.

Region losses use soft counts with ``p = sigmoid(logits)``: TP = sum p*y, FP = sum p*(1-y), FN = sum
(1-p)*y, summed per image (``aggregation="per_image"``, then averaged over the batch) or over the
whole batch (``"batch"``, as the reference code). Their ratios are smoothed as ``(num + smooth) /
(den + smooth + eps)``: with the default ``smooth=1`` an empty target predicted empty scores a
perfect overlap (loss 0), and ``eps=1e-6`` keeps the ratio finite when ``smooth=0``.

The focal Tversky exponent ``gamma`` is applied directly: FTL = (1 - TI) ** gamma. Abraham & Khan
(2019) write the exponent as 1/gamma' with gamma' in [1, 3]; the reference code writes it as
1/delta. Our default ``gamma=1.5`` is the reference's logged run (delta = 2/3), with alpha 0.4 on FP
and beta 0.6 on FN.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sagegan.errors import ConfigError

AGGREGATIONS = ("per_image", "batch")
DEFAULT_SMOOTH = 1.0
DEFAULT_EPS = 1e-6


def _check_inputs(logits: Tensor, target: Tensor, valid: Tensor | None) -> None:
    if logits.dim() != 4 or logits.shape[1] != 1:
        raise ValueError(f"logits must be B x 1 x H x W, got {tuple(logits.shape)}")
    if target.shape != logits.shape:
        raise ValueError(
            f"target shape {tuple(target.shape)} != logits shape {tuple(logits.shape)}"
        )
    if valid is not None and valid.shape != logits.shape:
        raise ValueError(f"valid shape {tuple(valid.shape)} != logits shape {tuple(logits.shape)}")


def _check_aggregation(aggregation: str) -> None:
    if aggregation not in AGGREGATIONS:
        raise ConfigError(
            f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}"
        )


def _masked_mean(values: Tensor, valid: Tensor | None) -> Tensor:
    """Mean over all pixels, or over valid pixels only (0 when none is valid)."""
    if valid is None:
        return values.mean()
    valid = valid.to(values.dtype)
    return (values * valid).sum() / valid.sum().clamp_min(1.0)


def bce_loss(logits: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    """Per-pixel binary cross-entropy with logits, averaged over (valid) pixels."""
    _check_inputs(logits, target, valid)
    values = F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none")
    return _masked_mean(values, valid)


def focal_bce_loss(
    logits: Tensor,
    target: Tensor,
    valid: Tensor | None = None,
    alpha: float | None = 0.5,
    gamma: float = 2.0,
) -> Tensor:
    """Class-balanced focal BCE (Lin et al. 2017; paper eq. 14), averaged over (valid) pixels.

    Per pixel: ``alpha_t * (1 - p_t) ** gamma * BCE`` with ``p_t`` the probability of the true
    class, ``alpha_t = alpha`` on foreground and ``1 - alpha`` on background (no class weight when
    ``alpha`` is None). ``gamma=0, alpha=None`` is plain BCE.
    """
    _check_inputs(logits, target, valid)
    target = target.to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    values = bce if gamma == 0 else (1.0 - torch.exp(-bce)).clamp_min(0.0) ** gamma * bce
    if alpha is not None:
        values = values * (alpha * target + (1.0 - alpha) * (1.0 - target))
    return _masked_mean(values, valid)


def soft_counts(
    logits: Tensor, target: Tensor, valid: Tensor | None, aggregation: str
) -> tuple[Tensor, Tensor, Tensor]:
    """Soft TP, FP, FN: shape (B,) for ``"per_image"``, scalars for ``"batch"``."""
    _check_inputs(logits, target, valid)
    _check_aggregation(aggregation)
    # Sums over many pixels overflow float16, so count in at least float32.
    probs = torch.sigmoid(logits.to(torch.promote_types(logits.dtype, torch.float32)))
    target = target.to(probs.dtype)
    if valid is not None:
        valid = valid.to(probs.dtype)
        probs, target = probs * valid, target * valid
    dims = (1, 2, 3) if aggregation == "per_image" else (0, 1, 2, 3)
    tp = (probs * target).sum(dims)
    fp = probs.sum(dims) - tp
    fn = target.sum(dims) - tp
    return tp, fp, fn


def tversky_index(
    logits: Tensor,
    target: Tensor,
    valid: Tensor | None = None,
    alpha: float = 0.4,
    beta: float = 0.6,
    aggregation: str = "batch",
    smooth: float = DEFAULT_SMOOTH,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """TI = (TP + smooth) / (TP + alpha*FP + beta*FN + smooth + eps); (B,) per image or a scalar."""
    tp, fp, fn = soft_counts(logits, target, valid, aggregation)
    return (tp + smooth) / (tp + alpha * fp + beta * fn + smooth + eps)


def focal_tversky_loss(
    logits: Tensor,
    target: Tensor,
    valid: Tensor | None = None,
    alpha: float = 0.4,
    beta: float = 0.6,
    gamma: float = 1.5,
    aggregation: str = "batch",
    smooth: float = DEFAULT_SMOOTH,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """Focal Tversky loss (paper eq. 15) ``(1 - TI) ** gamma``; ``gamma=1`` is the Tversky loss."""
    distance = 1.0 - tversky_index(logits, target, valid, alpha, beta, aggregation, smooth, eps)
    if gamma < 1:  # keeps the gradient of x**gamma finite at x = 0
        distance = distance.clamp_min(1e-7)
    return (distance**gamma).mean()


def dice_loss(
    logits: Tensor,
    target: Tensor,
    valid: Tensor | None = None,
    aggregation: str = "batch",
    smooth: float = DEFAULT_SMOOTH,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """Soft Dice loss ``1 - (2TP + smooth) / (2TP + FP + FN + smooth + eps)``."""
    tp, fp, fn = soft_counts(logits, target, valid, aggregation)
    return (1.0 - (2.0 * tp + smooth) / (2.0 * tp + fp + fn + smooth + eps)).mean()


def reference_focal_ce(
    logits: Tensor,
    target: Tensor,
    valid: Tensor | None = None,
    alpha: float = 0.5,
    gamma: float = 2.0,
) -> Tensor:
    """The reference's "focal" term: ``alpha * (1 - exp(-CE)) ** gamma * CE`` on the batch-mean CE.

    For a single logit z the reference's 2-class softmax CE on logits (l0, l1) equals BCE on
    z = l1 - l0, so CE here is the (valid-)pixel-mean BCE. The focal factor rescales the whole batch
    loss; it does not reweight pixels.
    """
    ce = bce_loss(logits, target, valid)
    return alpha * (1.0 - torch.exp(-ce)) ** gamma * ce


LossTerm = Callable[[Tensor, Tensor, Tensor | None], Tensor]


class SegmentationLoss(nn.Module):
    """Weighted sum of named loss terms, each ``term(logits, target, valid) -> scalar``."""

    def __init__(self, terms: dict[str, tuple[float, LossTerm]]) -> None:
        super().__init__()
        if not terms:
            raise ConfigError("SegmentationLoss needs at least one term")
        self.terms = dict(terms)

    def components(
        self, logits: Tensor, target: Tensor, valid: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Unweighted value of every term, plus ``"total"`` (the weighted sum), for logging."""
        values = {name: term(logits, target, valid) for name, (_, term) in self.terms.items()}
        values["total"] = sum(
            (weight * values[name] for name, (weight, _) in self.terms.items()),
            start=logits.new_zeros(()),
        )
        return values

    def forward(self, logits: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
        return self.components(logits, target, valid)["total"]

    def extra_repr(self) -> str:
        return ", ".join(f"{weight:g}*{name}" for name, (weight, _) in self.terms.items())


class BoundaryAwareLoss(nn.Module):
    """A one-channel loss on channel 0 (foreground) plus ``boundary_weight`` times the same loss on
    channel 1 (the instance head's boundary; `sagegan.data.separation.boundary_target`) and, when
    there is a channel 2 (the head's centre map; `sagegan.data.separation.centre_target`),
    ``centre_weight`` times its BCE against the soft target.

    ``logits`` and ``target`` are B x 2 x H x W or B x 3 x H x W, ``valid`` B x 1 x H x W and
    shared by all channels.
    """

    def __init__(
        self, base: SegmentationLoss, boundary_weight: float = 1.0, centre_weight: float = 1.0
    ) -> None:
        super().__init__()
        _check_nonnegative(boundary_weight=boundary_weight, centre_weight=centre_weight)
        self.base = base
        self.boundary_weight = float(boundary_weight)
        self.centre_weight = float(centre_weight)

    def forward(self, logits: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
        if logits.dim() != 4 or logits.shape[1] not in (2, 3) or target.shape != logits.shape:
            raise ValueError(
                f"expected B x 2 x H x W or B x 3 x H x W logits and target, got "
                f"{tuple(logits.shape)} and {tuple(target.shape)}"
            )
        foreground = self.base(logits[:, :1], target[:, :1], valid)
        boundary = self.base(logits[:, 1:2], target[:, 1:2], valid)
        loss = foreground + self.boundary_weight * boundary
        if logits.shape[1] == 3:
            loss = loss + self.centre_weight * bce_loss(logits[:, 2:], target[:, 2:], valid)
        return loss

    def extra_repr(self) -> str:
        return (
            f"foreground + {self.boundary_weight:g} * boundary "
            f"[+ {self.centre_weight:g} * centre BCE]"
        )


def _bce_focal_tversky(
    bce_weight: float = 1.0,
    ftl_weight: float = 1.0,
    tversky_alpha: float = 0.4,
    tversky_beta: float = 0.6,
    ftl_gamma: float = 1.5,
    focal_alpha: float | None = None,
    focal_gamma: float = 0.0,
    aggregation: str = "batch",
    smooth: float = DEFAULT_SMOOTH,
) -> dict[str, tuple[float, LossTerm]]:
    _check_aggregation(aggregation)
    _check_nonnegative(
        bce_weight=bce_weight,
        ftl_weight=ftl_weight,
        tversky_alpha=tversky_alpha,
        tversky_beta=tversky_beta,
        focal_gamma=focal_gamma,
        smooth=smooth,
    )
    _check_positive(ftl_gamma=ftl_gamma)
    if focal_alpha is not None and not (_is_number(focal_alpha) and 0.0 <= focal_alpha <= 1.0):
        raise ConfigError(f"focal_alpha must be in [0, 1] or None, got {focal_alpha!r}")
    plain = focal_alpha is None and focal_gamma == 0
    return {
        "bce" if plain else "focal_bce": (
            bce_weight,
            partial(focal_bce_loss, alpha=focal_alpha, gamma=focal_gamma),
        ),
        "focal_tversky": (
            ftl_weight,
            partial(
                focal_tversky_loss,
                alpha=tversky_alpha,
                beta=tversky_beta,
                gamma=ftl_gamma,
                aggregation=aggregation,
                smooth=smooth,
            ),
        ),
    }


def _dice(
    aggregation: str = "batch", smooth: float = DEFAULT_SMOOTH
) -> dict[str, tuple[float, LossTerm]]:
    _check_aggregation(aggregation)
    _check_nonnegative(smooth=smooth)
    return {"dice": (1.0, partial(dice_loss, aggregation=aggregation, smooth=smooth))}


def _ce_dice(
    bce_weight: float = 1.0,
    dice_weight: float = 1.0,
    aggregation: str = "batch",
    smooth: float = DEFAULT_SMOOTH,
) -> dict[str, tuple[float, LossTerm]]:
    _check_aggregation(aggregation)
    _check_nonnegative(bce_weight=bce_weight, dice_weight=dice_weight, smooth=smooth)
    return {
        "bce": (bce_weight, bce_loss),
        "dice": (dice_weight, partial(dice_loss, aggregation=aggregation, smooth=smooth)),
    }


def _reference_default() -> dict[str, tuple[float, LossTerm]]:
    return {
        "focal_ce": (1.0, reference_focal_ce),
        "tversky": (
            1.0,
            partial(
                focal_tversky_loss, alpha=0.3, beta=0.7, gamma=1.0, aggregation="batch", smooth=0.0
            ),
        ),
    }


def _reference_logged() -> dict[str, tuple[float, LossTerm]]:
    return {
        "bce": (1.0, bce_loss),
        "focal_tversky": (
            1.0,
            partial(
                focal_tversky_loss, alpha=0.4, beta=0.6, gamma=1.5, aggregation="batch", smooth=0.0
            ),
        ),
    }


PRESETS: dict[str, Callable[..., dict[str, tuple[float, LossTerm]]]] = {
    "bce_focal_tversky": _bce_focal_tversky,
    "dice": _dice,
    "ce_dice": _ce_dice,
    "reference_default": _reference_default,
    "reference_logged": _reference_logged,
}


def build_segmentation_loss(name: str = "bce_focal_tversky", **options: object) -> SegmentationLoss:
    """The named segmentation loss; ``options`` override that preset's keyword defaults.

    - ``bce_focal_tversky`` (paper eq. 16): ``bce_weight * BCE + ftl_weight * FTL`` with weights
      1 and 1, FTL alpha 0.4 (FP), beta 0.6 (FN), exponent ``ftl_gamma=1.5``, batch aggregation,
      ``smooth=1``. ``focal_alpha``/``focal_gamma`` turn the BCE into the class-balanced focal BCE
      of eq. 14
      (defaults None/0: plain BCE, as the reference's logged run).
    - ``dice``: soft Dice only (the paper's ablation).
    - ``ce_dice``: BCE + soft Dice (cGAN-Seg).
    - ``reference_default``: the reference's published default, exactly:
      ``0.5 * (1 - exp(-CE))**2 * CE + 1 - TP / (TP + 0.3 FP + 0.7 FN + 1e-6)``, CE the batch-mean
      BCE, counts over the whole batch, no options.
    - ``reference_logged``: the reference's logged run: ``CE + (1 - TI)**1.5`` with TI alpha 0.4
      (FP), beta 0.6 (FN), counts over the whole batch, ``1e-6`` in the denominator only, no
      options.
    """
    check_segmentation_loss(name, options)
    return SegmentationLoss(PRESETS[name](**options))


def check_segmentation_loss(name: str, options: Iterable[str]) -> None:
    """ConfigError naming the choices when ``name`` is no segmentation loss or ``options`` holds
    an option name it does not take (without building it)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown segmentation loss {name!r}; choose from {', '.join(PRESETS)}")
    accepted = list(inspect.signature(PRESETS[name]).parameters)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = ", ".join(accepted) if accepted else "none"
        raise ConfigError(
            f"segmentation loss {name!r}: unknown option(s) {', '.join(unknown)}; "
            f"allowed: {allowed}"
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_nonnegative(**values: float) -> None:
    for key, value in values.items():
        if not (_is_number(value) and value >= 0):
            raise ConfigError(f"{key} must be a finite number >= 0, got {value!r}")


def _check_positive(**values: float) -> None:
    for key, value in values.items():
        if not (_is_number(value) and value > 0):
            raise ConfigError(f"{key} must be a finite number > 0, got {value!r}")
