"""Realism statistics of generated images against real ones, without any pretrained network.

Both sets are compared in the networks' intensity space: generated images as the generator's
[-1, 1] output, real images after ``sagegan.data.normalize.normalize_image``. Statistics are pooled
over all pixels / images of a set, so the sets may differ in count and image size.

* ``intensity_w1``: Wasserstein-1 (earth mover's) distance between the pooled intensity
  distributions, from ``HISTOGRAM_BINS`` bins on [-1, 1]: ``sum |CDF_gen - CDF_real| * bin_width``.
  0 for identical distributions; a constant shift by ``d`` gives about ``|d|``; at most 2.
* ``histogram_intersection``: ``sum min(p_gen, p_real)`` of the normalised histograms: 1 for
  identical distributions, 0 for disjoint ones.
* ``spectrum_log_l2``: distance of the radially averaged power spectra. Each image has its mean
  removed, is multiplied by a 2-D Hann window, and its power ``|FFT|^2 / (H W)`` is averaged in
  ``SPECTRUM_BINS`` rings of radial frequency between 0 and 0.5 cycles per pixel (DC excluded).
  The per-set spectrum is the mean over images; the distance is the root mean square over rings
  of ``log10(P_gen) - log10(P_real)``. 0 for identical sets; blurring one set raises it (the
  high-frequency rings lose power), and 1 means a tenfold power mismatch on average.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

HISTOGRAM_BINS = 256
SPECTRUM_BINS = 32
SPECTRUM_FLOOR = 1e-12


@dataclass
class ImageStatistics:
    """Running intensity histogram and power spectrum of a set of [-1, 1] images."""

    histogram: np.ndarray = field(default_factory=lambda: np.zeros(HISTOGRAM_BINS))
    spectrum_sum: np.ndarray = field(default_factory=lambda: np.zeros(SPECTRUM_BINS))
    images: int = 0

    def add(self, image: np.ndarray) -> None:
        """Add one 2-D image (values outside [-1, 1] are clipped)."""
        image = np.clip(np.asarray(image, dtype=np.float64), -1.0, 1.0)
        if image.ndim != 2:
            raise ValueError(f"expected a 2-D image, got shape {image.shape}")
        counts, _ = np.histogram(image, bins=HISTOGRAM_BINS, range=(-1.0, 1.0))
        self.histogram += counts
        self.spectrum_sum += radial_power_spectrum(image)
        self.images += 1

    @classmethod
    def of(cls, images: Iterable[np.ndarray]) -> ImageStatistics:
        """The statistics of ``images``, added in order."""
        statistics = cls()
        for image in images:
            statistics.add(image)
        return statistics

    @property
    def spectrum(self) -> np.ndarray:
        """Mean radially averaged power spectrum of the images added so far."""
        return self.spectrum_sum / max(self.images, 1)


def radial_power_spectrum(image: np.ndarray) -> np.ndarray:
    """Mean power in ``SPECTRUM_BINS`` rings of radial frequency in (0, 0.5] cycles per pixel."""
    height, width = image.shape
    window = np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2((image - image.mean()) * window)) ** 2 / (height * width)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    ring = np.floor(radius / 0.5 * SPECTRUM_BINS).astype(int)
    inside = (radius > 0) & (ring < SPECTRUM_BINS)
    sums = np.bincount(ring[inside], weights=power[inside], minlength=SPECTRUM_BINS)
    counts = np.bincount(ring[inside], minlength=SPECTRUM_BINS)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


def compare_statistics(generated: ImageStatistics, real: ImageStatistics) -> dict[str, float]:
    """The three realism statistics (see the module docstring) of two non-empty sets."""
    if generated.images == 0 or real.images == 0:
        raise ValueError("realism statistics need at least one image in each set")
    p_gen = generated.histogram / generated.histogram.sum()
    p_real = real.histogram / real.histogram.sum()
    bin_width = 2.0 / HISTOGRAM_BINS
    w1 = float(np.sum(np.abs(np.cumsum(p_gen) - np.cumsum(p_real))) * bin_width)
    # rings empty in both spectra (tiny images) carry no information
    used = (generated.spectrum > 0) | (real.spectrum > 0)
    log_gen = np.log10(np.maximum(generated.spectrum[used], SPECTRUM_FLOOR))
    log_real = np.log10(np.maximum(real.spectrum[used], SPECTRUM_FLOOR))
    return {
        "intensity_w1": w1,
        "histogram_intersection": float(np.minimum(p_gen, p_real).sum()),
        "spectrum_log_l2": float(np.sqrt(np.mean((log_gen - log_real) ** 2))),
        "generated_images": generated.images,
        "real_images": real.images,
    }


def realism_statistics(
    generated: Iterable[np.ndarray], real: Iterable[np.ndarray]
) -> dict[str, float]:
    """Realism statistics of two iterables of [-1, 1] images (see the module docstring)."""
    return compare_statistics(ImageStatistics.of(generated), ImageStatistics.of(real))
