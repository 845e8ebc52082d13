"""ImageJ ROI zips: read back with roifile, each ROI reproduces its particle's pixels up to one
pixel at the boundary."""

from __future__ import annotations

import numpy as np
import roifile
from scipy import ndimage
from skimage import draw

from sagegan.data.rois import write_roi_zip


def _particles() -> np.ndarray:
    """Touching discs, an ellipse, a one-pixel particle and a particle on the image border."""
    labels = np.zeros((80, 90), np.int32)
    for label, (row, col, radius) in enumerate([(20, 20, 9), (20, 37, 9), (55, 60, 12)], start=1):
        rr, cc = draw.disk((row, col), radius, shape=labels.shape)
        labels[rr, cc] = label
    rr, cc = draw.ellipse(60, 20, 6, 14, shape=labels.shape, rotation=0.5)
    labels[rr, cc] = 7
    labels[5, 70] = 9
    labels[:10, 85:] = 12
    return labels


def _filled(roi: roifile.ImagejRoi, shape: tuple[int, int]) -> np.ndarray:
    """The pixels whose centres lie inside the ROI polygon, as ImageJ fills it."""
    x, y = roi.coordinates().T
    return draw.polygon2mask(shape, np.column_stack((y - 0.5, x - 0.5)))


def test_roi_zip_reproduces_each_particle_within_one_pixel(tmp_path):
    labels = _particles()
    path = tmp_path / "a_rois.zip"
    assert write_roi_zip(path, labels) == 6
    rois = roifile.roiread(path)
    assert [roi.name for roi in rois] == ["00001", "00002", "00003", "00007", "00009", "00012"]
    for roi in rois:
        particle = labels == int(roi.name)
        filled = _filled(roi, labels.shape)
        boundary = ndimage.binary_dilation(particle) & ~ndimage.binary_erosion(particle)
        near = ndimage.binary_dilation(boundary)
        assert not np.any((filled ^ particle) & ~near), roi.name
        assert abs(int(filled.sum()) - int(particle.sum())) <= max(2, 0.1 * particle.sum())


def test_empty_labels_write_no_zip(tmp_path):
    assert write_roi_zip(tmp_path / "none.zip", np.zeros((5, 5), np.int32)) == 0
    assert not (tmp_path / "none.zip").exists()
