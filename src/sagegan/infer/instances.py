"""Instance labels from a probability map: threshold, then distance-transform watershed.

1. The mask is ``probability > threshold``; its connected components (8-connected) smaller than
   ``min_size_px`` pixels are removed as noise (they are not particles the network is sure of; the
   probability map keeps them for anyone who wants them).
2. The Euclidean distance to the background is smoothed (Gaussian, ``smoothing_px``) and its
   regional maxima whose dynamic (height above the saddle to a higher maximum) is at least
   ``min_depth_px`` are found (h-maxima). A maximum becomes a marker only when a peak of
   ``peak_local_max`` with ``min_distance_px`` lies on it, so two maxima closer than that never
   split a particle. Two touching discs have a saddle between their centres as deep as the disc
   radius minus the neck's half-width and separate; an ellipse has one maximum and stays whole.
3. Watershed of the negated distance from the markers inside the mask (``compactness`` > 0 gives
   more regular cells); a component that got no marker becomes one instance, so no foreground is
   lost. Watershed pieces smaller than ``min_size_px`` are merged into the neighbour they share the
   longest border with.
4. Labels are renumbered consecutively 1..N.
5. Optionally (``min_size_fraction`` > 0) the smallest object kept scales with the image: the
   typical particle is the piece at the area-weighted median of the pieces' inscribed radii
   (their distance-transform maxima; weighted by area, so that the many specks of a noisy
   prediction do not set it), and steps 1-4 run again with the smallest object raised to
   ``min_size_fraction`` x the area of that radius's disc, when that is larger. One setting then
   fits 10 px particles and 200 px ones (docs/accuracy.md, section 7). Likewise
   ``min_depth_fraction`` > 0 sets the seed depth of that second pass to that fraction of the
   typical radius (at least 1 px): shallow seeds where particles are small and packed, deep ones
   where a large irregular particle would otherwise split (section 10).

With the boundary probability of an instance head (`sagegan.data.separation.boundary_target`: the
bands where touching particles meet), step 2 runs on the mask with those bands cut out (boundary
probability above ``boundary_threshold``, 0.5: lower cuts scored no better on EMPS and TiO2 SEM
validation images, docs/accuracy.md section 18), so the distance transform sees separate
particles where the network saw a contact; step 3 still floods the whole mask, and the band's
pixels go to the particles on either side. With the head's centre map as well
(`sagegan.data.separation.centre_target`: each particle's distance to its border over its
largest), steps 2-3 use it, smoothed alike, in place of the distance transform: its maxima above
``centre_threshold`` (0.5) that rise at least ``CENTRE_DEPTH`` above the saddle to a higher one
are the markers, and the watershed floods the negated map, so a contact the network paints over
still lies in a valley between two markers.

Memory is bounded by ``block_px``, not by the image: steps 2-3 run window by window. Every
component belongs to the block holding its bounding box's top-left corner; a block's window is the
union of its components' boxes plus a margin wide enough for the smoothing and the peak search, and
only its own components' instances are kept. Components are separated by background, so each one's
result is that of a whole-image pass (the margin brings in the neighbours the smoothing sees). Only
a component larger than the block makes a window larger than the block.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.morphology import h_maxima
from skimage.segmentation import relabel_sequential, watershed

from sagegan.errors import ConfigError
from sagegan.infer.distance_maxima import h_maxima_by_component
from sagegan.infer.watershed_pieces import EIGHT_CONNECTED, mark_unmarked, merge_small_pieces

GAUSSIAN_TRUNCATE = 4.0  # scipy's default: the smoothing reaches 4 sigma
DEFAULT_BOUNDARY_THRESHOLD = 0.5
DEFAULT_CENTRE_THRESHOLD = 0.5
CENTRE_DEPTH = 0.1  # a centre-map maximum's least rise above its saddle (noise ripples stay below)
DEFAULT_MIN_SIZE_PX = 10
DEFAULT_MIN_DISTANCE_PX = 3
DEFAULT_MIN_DEPTH_PX = 1.0
TUNED_SPLIT_KEY = "instances_tuned"  # a checkpoint's split chosen on validation images
# the builtin model's min_size_fraction, chosen by benchmarks/scaled_min_size.py on EMPS validation
# and fresh simulated images; split tuning offers it to trained runs
SCALED_MIN_SIZE_FRACTION = 0.3
MIN_SCALED_DEPTH_PX = 1.0  # the shallowest seed depth min_depth_fraction sets
PASSES_KEPT = 2  # passes a ``passes_done`` dict keeps (split_instances)


def check_split_options(
    threshold: float,
    min_distance_px: int,
    min_size_px: int,
    min_depth_px: float = 0.0,
    min_size_fraction: float = 0.0,
    min_depth_fraction: float = 0.0,
    boundary_threshold: float = DEFAULT_BOUNDARY_THRESHOLD,
    centre_threshold: float = DEFAULT_CENTRE_THRESHOLD,
) -> None:
    """ConfigError unless the threshold is in [0, 1), min_distance_px >= 1, min_size_px >= 0,
    min_depth_px >= 0, min_size_fraction and min_depth_fraction in [0, 1] and the boundary and
    centre thresholds in (0, 1)."""
    for name, cut in (
        ("boundary_threshold", boundary_threshold),
        ("centre_threshold", centre_threshold),
    ):
        if not 0.0 < cut < 1.0:
            raise ConfigError(f"{name} must be in (0, 1), got {cut}")
    if not min_depth_px >= 0:
        raise ConfigError(f"min_depth_px must be >= 0, got {min_depth_px}")
    for name, fraction in (
        ("min_size_fraction", min_size_fraction),
        ("min_depth_fraction", min_depth_fraction),
    ):
        if not 0.0 <= fraction <= 1.0:
            raise ConfigError(f"{name} must be in [0, 1], got {fraction}")
    if not 0.0 <= threshold < 1.0:
        raise ConfigError(f"threshold must be in [0, 1), got {threshold}")
    if min_distance_px < 1:
        raise ConfigError(f"min_distance_px must be at least 1, got {min_distance_px}")
    if min_size_px < 0:
        raise ConfigError(f"min_size_px must be >= 0, got {min_size_px}")


def _check_inputs(probability: np.ndarray, heads: dict[str, Any], block_px: int) -> None:
    if probability.ndim != 2:
        raise ConfigError(f"expected a 2-D probability map, got shape {probability.shape}")
    for name, head in heads.items():
        if head is not None and head.shape != probability.shape:
            raise ConfigError(
                f"{name} map shape {head.shape} != probability shape {probability.shape}"
            )
    if block_px < 1:
        raise ConfigError(f"block_px must be at least 1, got {block_px}")


def _distance_markers(
    distance: np.ndarray, components: np.ndarray, min_distance_px: int, min_depth_px: float
) -> np.ndarray:
    """Marker labels: h-maxima regions of the distance holding a well-separated peak."""
    maxima = h_maxima_by_component(distance, components, min_depth_px)
    regions, _ = ndimage.label(maxima, structure=EIGHT_CONNECTED)
    peaks = peak_local_max(
        distance, min_distance=min_distance_px, labels=components, exclude_border=False
    )
    kept = np.unique(regions[tuple(peaks.T)]) if len(peaks) else np.array([], dtype=int)
    return np.where(np.isin(regions, kept[kept > 0]), regions, 0)


def split_instances(
    probability: np.ndarray,
    threshold: float = 0.5,
    min_distance_px: int = DEFAULT_MIN_DISTANCE_PX,
    min_size_px: int = DEFAULT_MIN_SIZE_PX,
    min_depth_px: float = DEFAULT_MIN_DEPTH_PX,
    smoothing_px: float = 1.0,
    compactness: float = 0.0,
    block_px: int = 1024,
    boundary: np.ndarray | None = None,
    min_size_fraction: float = 0.0,
    min_depth_fraction: float = 0.0,
    boundary_threshold: float = DEFAULT_BOUNDARY_THRESHOLD,
    centre: np.ndarray | None = None,
    centre_threshold: float = DEFAULT_CENTRE_THRESHOLD,
    passes_done: dict | None = None,
) -> np.ndarray:
    """Instance labels (int32, 0 background, 1..N) of a foreground probability map.

    See the module docstring for the steps; raise ``min_depth_px`` or ``min_distance_px`` when
    particles are over-split, lower them when touching particles stay merged. ``block_px`` bounds
    the working memory (windows of about that side) and does not change the result. ``boundary``
    (H x W, an instance head's boundary probability) cuts the contacts where it is above
    ``boundary_threshold`` out of the mask before the distance transform; ``centre`` (its centre
    map) replaces that distance transform, seeded by its maxima above ``centre_threshold``.
    ``min_size_fraction`` > 0 raises the smallest object to that fraction of the image's typical
    particle, ``min_depth_fraction`` > 0 sets the seed depth to that fraction of its radius
    (step 5). ``passes_done``, a dict shared by calls on the same maps (e.g. the candidate
    splits of one image), keeps the last passes' results, so that consecutive calls sharing a
    pass (same seed settings and smallest object) run it once; the labels returned may then be
    shared between calls, so do not modify them.
    """
    probability = np.asarray(probability, dtype=np.float32)
    heads = {
        name: None if head is None else np.asarray(head, dtype=np.float32)
        for name, head in (("boundary", boundary), ("centre", centre))
    }
    _check_inputs(probability, heads, block_px)
    check_split_options(
        threshold,
        min_distance_px,
        min_size_px,
        min_depth_px,
        min_size_fraction,
        min_depth_fraction,
        boundary_threshold,
        centre_threshold,
    )
    passes = SplitPass(
        threshold,
        min_distance_px,
        min_depth_px,
        smoothing_px,
        compactness,
        boundary_threshold,
        centre_threshold,
    )
    run = partial(
        _run_pass, probability=probability, heads=heads, block_px=block_px, done=passes_done
    )
    labels, radii = run(passes, min_size_px)
    if min_size_fraction > 0 or min_depth_fraction > 0:
        radius = typical_radius(labels, radii)
        size = max(min_size_px, round(min_size_fraction * np.pi * radius**2))
        depth = min_depth_px
        if min_depth_fraction > 0:
            depth = max(MIN_SCALED_DEPTH_PX, min_depth_fraction * radius)
        if (size, depth) != (min_size_px, min_depth_px):
            labels, _ = run(replace(passes, min_depth_px=depth), size)
    return labels


def _run_pass(
    passes: SplitPass,
    min_size_px: int,
    probability: np.ndarray,
    heads: dict[str, np.ndarray | None],
    block_px: int,
    done: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``passes.run``, looked up in ``done`` when given: the ``PASSES_KEPT`` passes used last
    are kept there (a first pass and a second one), so its memory stays bounded."""
    if done is None:
        return passes.run(probability, heads, min_size_px, block_px)
    key = (passes, min_size_px, block_px)
    result = done.pop(key, None)
    if result is None:
        result = passes.run(probability, heads, min_size_px, block_px)
        while len(done) >= PASSES_KEPT:
            done.pop(next(iter(done)))  # the least recently used
    done[key] = result
    return result


def typical_radius(labels: np.ndarray, radii: np.ndarray) -> float:
    """The typical piece's inscribed radius (``radii[i]`` of label i+1): the radius at the
    area-weighted median; 0 for an empty image."""
    if not len(radii):
        return 0.0
    areas = np.bincount(labels.ravel(), minlength=len(radii) + 1)[1:]
    order = np.argsort(radii, kind="stable")
    cumulative = np.cumsum(areas[order])
    return float(radii[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


@dataclass(frozen=True)
class SplitPass:
    """Steps 1-4 with fixed seed settings; `run` takes the smallest object kept."""

    threshold: float
    min_distance_px: int
    min_depth_px: float
    smoothing_px: float
    compactness: float
    boundary_threshold: float = DEFAULT_BOUNDARY_THRESHOLD
    centre_threshold: float = DEFAULT_CENTRE_THRESHOLD

    def run(
        self,
        probability: np.ndarray,
        heads: dict[str, np.ndarray | None],
        min_size_px: int,
        block_px: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The instance labels and each label's inscribed radius (px; entry i is label i+1);
        ``heads`` holds the instance head's "boundary" and "centre" maps (None without)."""
        components, count = ndimage.label(probability > self.threshold, structure=EIGHT_CONNECTED)
        labels = np.zeros(probability.shape, dtype=np.int32)
        radii: list[np.ndarray] = []
        if count == 0:
            return labels, np.zeros(0)
        keep = np.bincount(components.ravel()) >= min_size_px  # per component label
        keep[0] = False
        margin = 2 * (int(np.ceil(GAUSSIAN_TRUNCATE * self.smoothing_px)) + 1)
        margin += self.min_distance_px
        boxes = ndimage.find_objects(components)
        next_label = 1
        for members in _blocks(np.flatnonzero(keep), boxes, block_px, components.shape[1]):
            window = _window(members, boxes, margin, components.shape)
            # neighbours of other blocks stay in the window (the smoothing sees them), small
            # specks leave it as they leave the whole-image mask
            local = np.where(keep[components[window]], components[window], 0)
            local_heads = {
                name: None if head is None else head[window] for name, head in heads.items()
            }
            pieces, inscribed = self._split_components(local, local_heads, min_size_px)
            own = np.isin(local, members) & (pieces > 0)
            numbered, _, _ = relabel_sequential(np.where(own, pieces, 0), offset=next_label)
            labels[window][own] = numbered[own]
            last = int(numbered.max(initial=next_label - 1))
            if last >= next_label:
                peak = np.zeros(last + 1 - next_label)  # inscribed radii are >= 0
                np.maximum.at(peak, numbered[own] - next_label, inscribed[own])
                radii.append(peak)
            next_label = last + 1
        return labels, np.concatenate(radii) if radii else np.zeros(0)

    def _split_components(
        self, components: np.ndarray, heads: dict[str, np.ndarray | None], min_size_px: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Watershed instances (int32, not renumbered) of the labelled components of one
        window, and the distance transform of the mask (with the boundary bands cut out when
        the heads hold a boundary map)."""
        mask = components > 0
        if not mask.any():
            return np.zeros(components.shape, dtype=np.int32), np.zeros(components.shape)
        boundary = heads.get("boundary")
        inside = mask if boundary is None else mask & (boundary <= self.boundary_threshold)
        inscribed = ndimage.distance_transform_edt(inside)
        centre = heads.get("centre")
        if centre is None:
            relief, markers = self._distance_seeds(inscribed, inside, components)
        else:
            relief, markers = self._centre_seeds(centre, inside)
        markers = mark_unmarked(markers, components)
        pieces = watershed(-relief, markers, mask=mask, compactness=self.compactness)
        return merge_small_pieces(pieces.astype(np.int32), min_size_px), inscribed

    def _distance_seeds(
        self, inscribed: np.ndarray, inside: np.ndarray, components: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The smoothed distance transform and its h-maxima markers (step 2)."""
        distance = inscribed
        if self.smoothing_px > 0:
            distance = ndimage.gaussian_filter(
                inscribed, self.smoothing_px, truncate=GAUSSIAN_TRUNCATE
            )
            distance *= inside
        markers = _distance_markers(distance, components, self.min_distance_px, self.min_depth_px)
        return distance, markers

    def _centre_seeds(
        self, centre: np.ndarray, inside: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The smoothed centre map inside the mask and its markers: the maxima above the centre
        threshold that rise ``CENTRE_DEPTH`` above the saddle to a higher one."""
        relief = centre
        if self.smoothing_px > 0:
            relief = ndimage.gaussian_filter(centre, self.smoothing_px, truncate=GAUSSIAN_TRUNCATE)
        relief = np.where(inside, relief, 0.0)
        peaks = (h_maxima(relief, CENTRE_DEPTH) > 0) & (relief > self.centre_threshold)
        markers, _ = ndimage.label(peaks, structure=EIGHT_CONNECTED)
        return relief, markers


def _blocks(kept: np.ndarray, boxes: list, block_px: int, width: int) -> list[np.ndarray]:
    """The kept component labels grouped by the block holding their bounding box's top-left
    corner, blocks in raster order."""
    if not len(kept):
        return []
    rows = np.array([boxes[label - 1][0].start for label in kept]) // block_px
    cols = np.array([boxes[label - 1][1].start for label in kept]) // block_px
    block = rows * (width // block_px + 1) + cols
    order = np.argsort(block, kind="stable")
    starts = np.flatnonzero(np.diff(block[order]))
    return np.split(kept[order], starts + 1)


def _window(
    members: np.ndarray, boxes: list, margin: int, shape: tuple[int, ...]
) -> tuple[slice, slice]:
    """The union of the members' bounding boxes grown by ``margin``, clipped to the image."""
    spans = np.array(
        [(b[0].start, b[0].stop, b[1].start, b[1].stop) for b in (boxes[m - 1] for m in members)]
    )
    top, left = max(spans[:, 0].min() - margin, 0), max(spans[:, 2].min() - margin, 0)
    bottom = min(spans[:, 1].max() + margin, shape[0])
    right = min(spans[:, 3].max() + margin, shape[1])
    return slice(int(top), int(bottom)), slice(int(left), int(right))


def run_split_options(
    info: dict[str, Any],
    min_size_px: int | None = None,
    min_distance_px: int | None = None,
    min_depth_px: float | None = None,
    min_size_fraction: float | None = None,
    min_depth_fraction: float | None = None,
) -> dict[str, float]:
    """The `split_instances` options of a checkpoint: those chosen on its validation images
    (``sagegan.train.split_tuning``), else its run config's ``instances`` (defaults where its
    training info does not say); each overridden when given here."""
    run = info.get("config", {}).get("instances", {})
    run = {**run, **info.get(TUNED_SPLIT_KEY, {}).get("chosen", {})}
    options = {
        "min_distance_px": int(run.get("min_distance_px", DEFAULT_MIN_DISTANCE_PX)),
        "min_size_px": int(run.get("min_size_px", DEFAULT_MIN_SIZE_PX)),
        "min_depth_px": float(run.get("min_depth_px", DEFAULT_MIN_DEPTH_PX)),
        "min_size_fraction": float(run.get("min_size_fraction", 0.0)),
        "min_depth_fraction": float(run.get("min_depth_fraction", 0.0)),
    }
    given = {
        "min_size_px": min_size_px,
        "min_distance_px": min_distance_px,
        "min_depth_px": min_depth_px,
        "min_size_fraction": min_size_fraction,
        "min_depth_fraction": min_depth_fraction,
    }
    options.update({name: value for name, value in given.items() if value is not None})
    return options
