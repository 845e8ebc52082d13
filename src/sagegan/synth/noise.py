"""Random fields for textures: spectrally shaped (fractal) Gaussian noise on a coarse grid."""

from __future__ import annotations

import math

import numpy as np
from scipy import fft


def coarse_grid(shape: tuple[int, int], cell_px: int) -> tuple[int, int]:
    """FFT-friendly coarse grid that covers ``shape`` with nodes every ``cell_px`` pixels."""
    height, width = (fft.next_fast_len(math.ceil(n / cell_px) + 1, real=False) for n in shape)
    return height, width


def fractal_noise_pair(
    rng: np.random.Generator, shape: tuple[int, int], exponent: float
) -> tuple[np.ndarray, np.ndarray]:
    """Two independent zero-mean, unit-variance float32 fields of ``shape`` with power spectrum
    ~ 1 / f**exponent (0 is white noise, 2 cloud-like, 3 a smooth landscape).

    One complex inverse FFT of a non-Hermitian random spectrum gives two independent real
    fields: its real and imaginary parts.
    """
    fy = fft.fftfreq(shape[0]).astype(np.float32)[:, None]
    fx = fft.fftfreq(shape[1]).astype(np.float32)[None, :]
    radius = np.sqrt(fy * fy + fx * fx)
    radius[0, 0] = 1.0
    amplitude = radius ** np.float32(-exponent / 2.0)
    amplitude[0, 0] = 0.0
    spectrum = np.empty(shape, dtype=np.complex64)
    spectrum.real = rng.standard_normal(shape, dtype=np.float32) * amplitude
    spectrum.imag = rng.standard_normal(shape, dtype=np.float32) * amplitude
    fields = fft.ifft2(spectrum)
    return _standardise(fields.real), _standardise(fields.imag)


def upsample_bilinear(field: np.ndarray, shape: tuple[int, int], cell_px: int) -> np.ndarray:
    """Bilinear upsampling of a coarse grid (node spacing ``cell_px``) to ``shape``.

    Written as two small matrix products (row and column interpolation matrices), which BLAS
    runs much faster than gathering pixels.
    """
    rows = _interpolation_matrix(shape[0], field.shape[0], cell_px)
    columns = _interpolation_matrix(shape[1], field.shape[1], cell_px)
    return rows @ (field @ columns.T)


def _interpolation_matrix(length: int, coarse_length: int, cell_px: int) -> np.ndarray:
    position = np.arange(length) / cell_px
    index = position.astype(np.intp)
    frac = (position - index).astype(np.float32)
    matrix = np.zeros((length, coarse_length), dtype=np.float32)
    matrix[np.arange(length), index] = 1.0 - frac
    matrix[np.arange(length), index + 1] = frac
    return matrix


def _standardise(field: np.ndarray) -> np.ndarray:
    field = field.astype(np.float32, copy=True)
    field -= field.mean()
    std = float(field.std())
    return field / np.float32(std) if std > 0 else field
