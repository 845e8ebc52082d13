"""Training targets that teach a binary segmenter to keep touching particles apart.

A network trained on plain foreground masks learns to paint touching particles as one blob, and the
distance-transform watershed afterwards cannot always cut it. Two cheap, local changes to the
target (after Ronneberger et al. 2015, U-Net's border weights) make the separation the network's
job:

* **gaps**: foreground pixels within ``gap_px`` of a *different* instance become background, so
  instance label maps get the thin background gaps that gap-annotated binary masks (TiO2's 1-px
  lines) already have;
* **contact weights**: background pixels that have two different instances within ``2 gap_px + 1``
  pixels (the gaps, and narrow necks of background) weigh ``contact_weight`` in the loss instead
  of 1, so missing a gap costs as much as missing a particle.

A third target gives the network an **instance head**: ``boundary_target`` marks the pixels of each
instance within ``width_px`` of *another* instance, the boundaries between touching particles (not
their outlines against the background). A segmenter with a second output channel learns it beside
the foreground; the instance split then cuts the bands it marks out of the mask before the distance
transform (`sagegan.infer.instances`), so touching particles that the distance transform alone
merges come apart. ``centre_target`` is the target of an optional third channel, the **centre
map**: each instance's distance to its own border (contacts with another instance count as
border) divided by that instance's largest, 1 on its medial axis and falling to 0 at contacts.
Its cores seed the watershed in place of the mask's distance transform, so a contact the network
paints over still lies in a valley between two seeds (after Naylor et al. 2018's distance-map
regression for touching nuclei).

All of them use only minimum/maximum filters over the label map: a few milliseconds per patch.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sagegan.errors import ConfigError

HEAD_TARGETS = ("boundary", "centre")  # the instance head's channels after the mask, in order


def _neighbour_labels(labels: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest and smallest non-zero label within ``radius`` (Chebyshev) of each pixel; the
    smallest is ``np.iinfo(int32).max`` where there is none."""
    size = 2 * radius + 1
    largest = ndimage.maximum_filter(labels, size=size, mode="constant", cval=0)
    empty = np.iinfo(np.int32).max
    smallest = ndimage.minimum_filter(
        np.where(labels > 0, labels, empty).astype(np.int32), size=size, mode="constant", cval=empty
    )
    return largest, smallest


def check_separation(gap_px: int, contact_weight: float) -> None:
    """ConfigError unless ``gap_px`` >= 0 and ``contact_weight`` >= 1."""
    if gap_px < 0:
        raise ConfigError(f"data.gap_px must be >= 0, got {gap_px}")
    if not contact_weight >= 1.0:
        raise ConfigError(f"data.contact_weight must be >= 1, got {contact_weight}")


def separation_target(
    labels: np.ndarray, gap_px: int, contact_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """(foreground mask with gaps, per-pixel loss weights) of an int instance label map."""
    check_separation(gap_px, contact_weight)
    labels = np.asarray(labels, dtype=np.int32)
    foreground = labels > 0
    if gap_px > 0:
        largest, smallest = _neighbour_labels(labels, gap_px)
        foreground &= (largest == labels) & (smallest == labels)
    weights = np.ones(labels.shape, np.float32)
    if contact_weight > 1.0:
        kept = np.where(foreground, labels, 0)
        largest, smallest = _neighbour_labels(kept, 2 * gap_px + 1)
        contact = ~foreground & (largest > 0) & (smallest < largest)
        weights[contact] = contact_weight
    return foreground, weights


def check_boundary(width_px: int) -> None:
    """ConfigError unless the boundary width is >= 0 (0: no instance head)."""
    if width_px < 0:
        raise ConfigError(f"data.boundary_px must be >= 0, got {width_px}")


def boundary_target(labels: np.ndarray, width_px: int) -> np.ndarray:
    """Boolean map of the instance pixels that have another instance within ``width_px``
    (Chebyshev): the bands where touching (or gap-separated) particles meet."""
    check_boundary(width_px)
    labels = np.asarray(labels, dtype=np.int32)
    if width_px == 0:
        return np.zeros(labels.shape, dtype=bool)
    largest, smallest = _neighbour_labels(labels, width_px)
    return (labels > 0) & ((largest != labels) | (smallest != labels))


def centre_target(labels: np.ndarray, contacts: np.ndarray | None = None) -> np.ndarray:
    """Float32 map of each instance's distance to its own border, divided by the instance's
    largest: 1 on its medial peak, 0 on background and on pixels that touch another instance.
    ``contacts``: `boundary_target(labels, 1)` when the caller has it already."""
    labels = np.asarray(labels, dtype=np.int32)
    contacts = boundary_target(labels, 1) if contacts is None else contacts
    inside = (labels > 0) & ~contacts
    distance = ndimage.distance_transform_edt(inside)
    present = np.unique(labels[labels > 0])
    if not present.size:
        return np.zeros(labels.shape, np.float32)
    peaks = np.zeros(int(present[-1]) + 1)
    peaks[present] = ndimage.maximum(distance, labels, present)
    scale = np.divide(1.0, peaks, out=np.zeros_like(peaks), where=peaks > 0)
    return (distance * scale[labels]).astype(np.float32)


def contact_shares(labels: np.ndarray, radius: int = 2) -> tuple[int, int, int]:
    """(instances, instances touching another, instances with another within ``radius`` px) of
    an instance label map."""
    labels = np.asarray(labels, dtype=np.int32)
    present = np.unique(labels[labels > 0])

    def meeting(r: int) -> int:
        largest, smallest = _neighbour_labels(labels, r)
        other = (labels > 0) & ((largest != labels) | (smallest != labels))
        return int(np.unique(labels[other]).size)

    return int(present.size), meeting(1), meeting(radius)


def training_targets(
    labels: np.ndarray,
    gap_px: int = 0,
    contact_weight: float = 1.0,
    boundary_px: int = 0,
    centre_map: bool = False,
) -> dict[str, np.ndarray]:
    """The segmenter's targets from an int instance label map, float32 each: ``mask`` (with
    gaps between touching instances, ``separation_target``), ``weights`` (per-pixel loss
    weights), and of the instances left in the mask ``boundary`` when ``boundary_px`` > 0 and
    ``centre`` with ``centre_map``."""
    labels = np.asarray(labels, dtype=np.int32)
    if gap_px > 0 or contact_weight > 1.0:
        mask, weights = separation_target(labels, gap_px, contact_weight)
    else:
        mask, weights = labels > 0, np.ones(labels.shape, np.float32)
    targets = {"mask": mask.astype(np.float32), "weights": weights}
    kept = np.where(mask, labels, 0)
    boundary = None
    if boundary_px > 0:
        boundary = boundary_target(kept, boundary_px)
        targets["boundary"] = boundary.astype(np.float32)
    if centre_map:
        contacts = boundary if boundary_px == 1 else None  # the same 1-px bands
        targets["centre"] = centre_target(kept, contacts)
    return targets
