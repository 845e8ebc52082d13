"""ImageJ / Fiji ROI sets from instance label maps: one polygon ROI per particle, in a zip that
Fiji's ROI Manager opens (`roifile` writes the ImageJ format).

Each particle's outline is the sub-pixel contour halfway between its pixels and the background
(`skimage.measure.find_contours` at level 0.5), moved to ImageJ's convention, where pixel
(row, col) covers the square [col, col + 1) x [row, row + 1): filled by ImageJ, the polygon gives
back the particle's pixels up to its boundary. A particle made of several pieces gets its largest
piece's outline; holes are not cut out. ROIs are named by their label id, as in particles.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import roifile
from scipy import ndimage
from skimage import measure


def particle_outlines(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Label id -> outline as an (n, 2) float array of ImageJ (x, y) coordinates."""
    outlines = {}
    for label, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        top, left = box[0].start - 1, box[1].start - 1
        piece = np.pad(labels[box] == label, 1)  # background all round closes every contour
        contours = measure.find_contours(piece.astype(np.uint8), 0.5)
        rows_cols = max(contours, key=len)
        outlines[label] = np.column_stack(
            (rows_cols[:, 1] + left + 0.5, rows_cols[:, 0] + top + 0.5)
        )
    return outlines


def write_roi_zip(path: str | Path, labels: np.ndarray) -> int:
    """Write one polygon ROI per particle of ``labels`` to the zip ``path`` (replaced if it
    exists); returns the number of ROIs (0 writes no file)."""
    outlines = particle_outlines(np.asarray(labels))
    path = Path(path)
    path.unlink(missing_ok=True)
    rois = []
    for label, points in outlines.items():
        roi = roifile.ImagejRoi.frompoints(points, name=f"{label:05d}")
        roi.roitype = roifile.ROI_TYPE.POLYGON
        rois.append(roi)
    if rois:
        roifile.roiwrite(path, rois, mode="w")
    return len(rois)
