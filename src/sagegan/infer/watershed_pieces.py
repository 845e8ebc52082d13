"""Tidying a watershed's pieces: every component gets a marker, and pieces too small to be
particles join their neighbour (`sagegan.infer.instances` step 3)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def mark_unmarked(markers: np.ndarray, components: np.ndarray) -> np.ndarray:
    """The markers plus, for every component left without one, the whole component as its
    marker (it becomes one instance: no foreground is lost)."""
    unmarked = np.setdiff1d(np.unique(components), np.unique(components[markers > 0]))
    unmarked = unmarked[unmarked > 0]
    if unmarked.size:
        lookup = np.zeros(int(components.max()) + 1, dtype=np.int32)
        lookup[unmarked] = int(markers.max(initial=0)) + 1 + np.arange(unmarked.size)
        markers = np.where(markers > 0, markers, lookup[components])
    return markers


def merge_small_pieces(labels: np.ndarray, min_size_px: int) -> np.ndarray:
    """Merge watershed pieces below ``min_size_px`` into the neighbour sharing the most border
    pixels with them (pieces without a neighbour are whole components and stay).

    Each piece is handled inside its bounding box grown by one pixel, so the cost grows with the
    pieces' own size, not with the number of pieces times the window. Pieces are taken in label
    order and each sees the merges made before it, as a whole-window pass would.
    """
    sizes = np.bincount(labels.ravel())
    small = np.flatnonzero((sizes > 0) & (sizes < min_size_px))
    small = small[small > 0]
    if not small.size:
        return labels
    # [top, bottom, left, right] of every label, grown when a piece merges into it
    boxes = {
        label: [box[0].start, box[0].stop, box[1].start, box[1].stop]
        for label, box in enumerate(ndimage.find_objects(labels), start=1)
        if box is not None
    }
    height, width = labels.shape
    for label in small:
        top, bottom, left, right = boxes[label]
        window = (
            slice(max(top - 1, 0), min(bottom + 1, height)),
            slice(max(left - 1, 0), min(right + 1, width)),
        )
        local = labels[window]
        piece = local == label
        ring = ndimage.binary_dilation(piece, structure=EIGHT_CONNECTED) & ~piece
        neighbours = local[ring]
        neighbours = neighbours[neighbours > 0]
        if neighbours.size:
            target = int(np.bincount(neighbours).argmax())
            local[piece] = target
            grown = boxes[target]
            boxes[target] = [
                min(grown[0], top),
                max(grown[1], bottom),
                min(grown[2], left),
                max(grown[3], right),
            ]
    return labels
