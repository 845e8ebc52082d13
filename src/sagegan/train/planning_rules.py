"""The planner's rules that read one aspect of the training set's fingerprint
(`sagegan.train.dataset_fingerprint`): the working resolution, the network's depth and patch,
and the instance head's band width. `sagegan.train.planning` combines them into a plan.
"""

from __future__ import annotations

from sagegan.train.dataset_fingerprint import Fingerprint

MIN_DEPTH, MAX_DEPTH = 4, 6
MIN_PATCH_PX = 256
MAX_PATCH_PX = {"cpu": 384, "cuda": 768}
CONTACT_SHARE = 0.05  # particles that touch (or nearly touch) before separation targets are used
# particles at least this wide (p10 of the diameters) get a 2-px boundary band, smaller ones 1 px
WIDE_BOUNDARY_DIAMETER_PX = 12.0
# near particles at least this many times as common as touching ones: the masks annotate gaps
GAPPED_RATIO = 2.0
# particles at least this wide (p10 of the diameters) are segmented at half resolution
HALF_SCALE_MIN_P10_PX = 12.0
HALF_SCALE = 0.5


def masks_gapped(fp: Fingerprint) -> bool:
    """Whether the masks keep most near particles apart by 1-px gaps (binary masks of touching
    particles) rather than letting instances touch."""
    return fp.near_share >= CONTACT_SHARE and fp.near_share >= GAPPED_RATIO * fp.touching_share


def plan_scale(fp: Fingerprint) -> tuple[float, str | None]:
    """(working resolution ``data.scale``, reason or None) from the native fingerprint.

    Half resolution when the particles are large for the network: the 10th-percentile particle
    at least ``HALF_SCALE_MIN_P10_PX`` wide (still at least 6 px at half), the median image at
    least two minimal patches on its short side, and no 1-px gaps in the masks (half resolution
    would close them). A patch then covers four times the area at the same cost; on EMPS (p10
    14 px) a 60-minute CPU run scored Dice +0.07 and F1 +0.14 on the native grid
    (docs/accuracy.md section 25). Otherwise native.
    """
    p10 = fp.diameter_px["p10"]
    if p10 < HALF_SCALE_MIN_P10_PX or min(fp.median_shape) < MIN_PATCH_PX / HALF_SCALE:
        return 1.0, None
    if masks_gapped(fp):
        return 1.0, (
            f"90 % of the particles are at least {p10:.0f} px across, but the masks keep near "
            "particles apart by 1-px gaps, which half resolution would close: native resolution"
        )
    return HALF_SCALE, (
        f"90 % of the particles are at least {p10:.0f} px across: the network works at half "
        f"resolution (data.scale {HALF_SCALE:g}), where a patch covers four times the area; "
        "particle sizes, depth, patch and bands below are at that resolution, the smallest "
        "object and every output in native px"
    )


def receptive_field(depth: int) -> int:
    """Receptive field (px) of a U-Net encoder with two 3x3 convolutions per level and 2x2
    pooling between levels, ``depth`` poolings deep."""
    convs = sum(4 * 2**level for level in range(depth + 1))
    pools = sum(2**level for level in range(depth))
    return 1 + convs + pools


def plan_shape(fp: Fingerprint, device: str) -> tuple[int, int, list[str]]:
    """(depth, patch side, reasons) for the fingerprint on ``device`` ("cpu" or "cuda")."""
    target = 2.0 * fp.diameter_px["p90"]
    depth = next(
        (d for d in range(MIN_DEPTH, MAX_DEPTH + 1) if receptive_field(d) >= target), MAX_DEPTH
    )
    reasons = [f"receptive field >= 2 x p90 particle diameter ({target:.0f} px) sets depth {depth}"]
    if receptive_field(depth) < target:
        reasons.append("the largest particles exceed even the deepest network's receptive field")
    multiple = 2**depth
    ceiling = min(MAX_PATCH_PX.get(device, MAX_PATCH_PX["cpu"]), min(fp.median_shape))
    patch = min(max(MIN_PATCH_PX, receptive_field(depth)), ceiling)
    patch = max(multiple * 4, patch // multiple * multiple)
    reasons.append(
        f"patch {patch} px: the receptive field or {MIN_PATCH_PX}, at most {ceiling} "
        f"(the median image's short side or the {device} cap)"
    )
    return depth, patch, reasons


def plan_boundary(fp: Fingerprint) -> tuple[int, str | None]:
    """(instance head band width in px, reason or None): none when particles are apart; when the
    masks keep most near particles apart by a 1-px gap (binary masks of touching particles), a
    2-px band, which reaches across the gap (a 1-px band marks only diagonal contacts there); when
    instances touch, 2 px for particles at least ``WIDE_BOUNDARY_DIAMETER_PX`` wide, else 1."""
    if masks_gapped(fp):
        return 2, (
            f"{100 * fp.near_share:.0f} % of the particles lie within 2 px of another, most of "
            "them behind a 1-px gap in the masks: an instance head learns the 2-px bands that "
            "reach across the gaps, which the instance split cuts"
        )
    if fp.touching_share < CONTACT_SHARE:
        return 0, None
    width = 2 if fp.diameter_px["p10"] >= WIDE_BOUNDARY_DIAMETER_PX else 1
    return width, (
        f"{100 * fp.touching_share:.0f} % of the particles touch another: an instance head "
        f"learns the {width}-px bands where they meet, which the instance split cuts"
    )
