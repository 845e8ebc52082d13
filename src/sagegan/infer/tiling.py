"""Sliding-window inference at native resolution with Gaussian blending of overlapping tiles.

Window placement. A segmenter of depth d pools by 2 d times, so its output is only shift-equivariant
for shifts that are multiples of its stride ``2**d``. Windows therefore start at multiples of the
stride, and the tile is rounded up to a multiple of it (the network would pad it to that size
anyway). Neighbouring windows share at least ``overlap`` of a tile; the last window along an axis
ends less than one stride beyond the image border and is reflect-padded there, exactly as the
network pads a whole image (``pad_to_multiple``: reflect, replicate when the pad is not smaller
than the image). An axis shorter than the tile is one window, so an image that fits in a tile gives
exactly the whole-image prediction, and interior windows see the pooling grid of the whole image.

Blending. Each window's output is weighted by a Gaussian centred on it (sigma = window / 8 per axis,
as in nnU-Net, floored at ``MIN_WEIGHT`` so that pixels covered only by a window's rim still count),
accumulated and divided by the summed weights; window rims, which lack context, hardly contribute
where another window covers them with its centre. Unlike nnU-Net, a window side on the image border
keeps weight 1 from the centre to that side: there the window sees the same border as a whole-image
pass, so the neighbouring window's context-starved rim must not outweigh it.

**Logits are blended, not probabilities**, and the sigmoid is applied once afterwards (as nnU-Net
v2 does): averaging log-odds combines the windows' evidence without the sigmoid's saturation,
keeps one accumulator for any number of windows and flips, and leaves the 0.5 decision boundary
at logit 0. Attention-gate coefficients
already lie in [0, 1] and are blended as they are.

Memory is bounded by the tile size: besides the input only float32 H x W accumulators are held
(blended logits, one per output channel, summed weights, blended attention when the network has
gates); the network sees ``batch_size`` windows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from sagegan.errors import ConfigError
from sagegan.infer.backends import InferenceBackend, as_backend
from sagegan.models.attention_unet import upsample_attention
from sagegan.models.output import SegmentationOutput

TTA_MODES = ("none", "flips")
TtaMode = Literal["none", "flips"]
GAUSSIAN_SIGMA_SHARE = 1 / 8
MIN_WEIGHT = 1e-3
# Flip combinations of "flips" TTA as tensor dims of a B x C x H x W batch: none, W, H, H and W.
FLIP_DIMS: tuple[tuple[int, ...], ...] = ((), (3,), (2,), (2, 3))


@dataclass
class Prediction:
    """Blended network output over a whole image: foreground probability (float32 H x W), the
    finest attention-gate map (float32 H x W in [0, 1]; None for networks without gates), the
    boundary probability of an instance head and its centre map (float32 H x W; None without
    them)."""

    probability: np.ndarray
    attention: np.ndarray | None
    boundary: np.ndarray | None = None
    centre: np.ndarray | None = None

    @classmethod
    def from_channels(cls, channels: np.ndarray, attention: np.ndarray | None) -> Prediction:
        """The prediction of C x H x W sigmoid outputs: foreground, then boundary and centre."""
        boundary = channels[1] if len(channels) > 1 else None
        centre = channels[2] if len(channels) > 2 else None
        return cls(channels[0], attention, boundary, centre)

    @property
    def instance_maps(self) -> dict[str, np.ndarray | None]:
        """The instance head's maps as `split_instances` keywords."""
        return {"boundary": self.boundary, "centre": self.centre}


def window_size(length: int, tile: int, stride: int) -> int:
    """Window length along one axis: the tile rounded up to the stride, or the whole axis rounded
    up to the stride when that is shorter."""
    return min(-(-tile // stride), -(-length // stride)) * stride


def window_starts(length: int, window: int, overlap: float, stride: int) -> list[int]:
    """Start offsets (multiples of ``stride``) of windows of size ``window`` covering ``length``
    pixels; neighbours share at least ``overlap`` of a window, the last one ends less than
    ``stride`` pixels beyond the border."""
    if window >= length:
        return [0]
    step = max(stride, int(window * (1.0 - overlap)) // stride * stride)
    last = -(-(length - window) // stride) * stride
    return [*range(0, last, step), last]


def gaussian_profile(size: int, open_start: bool = False, open_end: bool = False) -> np.ndarray:
    """1-D Gaussian importance of a window axis (peak 1, sigma = size / 8); an ``open`` side (one
    that lies on the image border) stays at 1 from the centre to that side."""
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    profile = np.exp(-0.5 * (offsets / (size * GAUSSIAN_SIGMA_SHARE)) ** 2)
    if open_start:
        profile[offsets <= 0] = 1.0
    if open_end:
        profile[offsets >= 0] = 1.0
    return profile


def window_weights(
    window: tuple[int, int], top: int, left: int, shape: tuple[int, int]
) -> np.ndarray:
    """Importance map of the window at (top, left) in an image of ``shape``: a separable Gaussian,
    flat towards the sides on the image border, floored at ``MIN_WEIGHT``."""
    rows = gaussian_profile(window[0], top == 0, top + window[0] >= shape[0])
    cols = gaussian_profile(window[1], left == 0, left + window[1] >= shape[1])
    return np.maximum(np.outer(rows, cols), MIN_WEIGHT).astype(np.float32)


def check_tiling_options(
    tile: tuple[int, int], overlap: float, batch_size: int = 1, tta: str = "none"
) -> None:
    """Raise ConfigError for a tile, overlap, batch size or TTA mode `predict_tiled` rejects."""
    if len(tile) != 2 or any(int(size) != size or size < 1 for size in tile):
        raise ConfigError(f"tile must be two positive integers (height, width), got {tile}")
    if not 0.0 <= overlap < 1.0:
        raise ConfigError(f"overlap must be in [0, 1), got {overlap}")
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    if tta not in TTA_MODES:
        raise ConfigError(f"unknown TTA mode {tta!r} (choose from {', '.join(TTA_MODES)})")


def _batches(windows: list[tuple[int, int]], batch_size: int) -> Iterator[list[tuple[int, int]]]:
    for first in range(0, len(windows), batch_size):
        yield windows[first : first + batch_size]


def _run_network(
    backend: InferenceBackend, batch: Tensor, tta: str
) -> tuple[Tensor, Tensor | None]:
    """Logits (B x C x h x w; C is 1, 2 with an instance head, 3 with its centre map) and finest
    attention map upsampled to h x w (or None), averaged over the flips of ``tta`` with each flip
    undone on the outputs."""
    flips = FLIP_DIMS if tta == "flips" else FLIP_DIMS[:1]
    size = (batch.shape[-2], batch.shape[-1])
    logits_sum: Tensor | None = None
    attention_sum: Tensor | None = None
    for dims in flips:
        output = backend(torch.flip(batch, dims) if dims else batch)
        if not isinstance(output, SegmentationOutput):
            raise ConfigError(f"model returned {type(output).__name__}, not SegmentationOutput")
        if output.logits.shape[1] not in (1, 2, 3):
            raise ConfigError(
                f"tiled inference needs a foreground logit and at most boundary and centre "
                f"logits, got {output.logits.shape[1]} channels"
            )
        logits = torch.flip(output.logits, dims) if dims else output.logits
        logits_sum = logits if logits_sum is None else logits_sum + logits
        if output.attention:
            attention = upsample_attention(output.attention[-1:], size)
            attention = torch.flip(attention, dims) if dims else attention
            attention_sum = attention if attention_sum is None else attention_sum + attention
    assert logits_sum is not None
    scale = 1.0 / len(flips)
    return logits_sum * scale, None if attention_sum is None else attention_sum * scale


def _padded_crop(image: np.ndarray, top: int, left: int, window: tuple[int, int]) -> np.ndarray:
    """The window at (top, left), reflect-padded at the bottom/right where it leaves the image."""
    crop = image[top : top + window[0], left : left + window[1]]
    pad_bottom, pad_right = window[0] - crop.shape[0], window[1] - crop.shape[1]
    if not (pad_bottom or pad_right):
        return crop
    fits = pad_bottom < crop.shape[0] and pad_right < crop.shape[1]
    return np.pad(crop, ((0, pad_bottom), (0, pad_right)), mode="reflect" if fits else "edge")


def predict_tiled(
    model: nn.Module | InferenceBackend,
    image: np.ndarray,
    tile: tuple[int, int] = (512, 512),
    overlap: float = 0.25,
    batch_size: int = 1,
    tta: TtaMode = "none",
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Prediction:
    """Predict a float32 [-1, 1] H x W image window by window at its native resolution.

    ``tile`` is the window (height, width) before rounding up to the network stride, ``overlap``
    the share of a window shared with its neighbour, ``tta="flips"`` averages the logits over the
    four horizontal/vertical flip combinations (each flip undone on the output). ``model`` is an
    inference backend (`sagegan.infer.backends`; ``device`` is then its own) or a plain module,
    which runs as the ``eager`` backend on ``device``. The network runs in eval mode under
    ``torch.inference_mode`` (a module in training mode is switched to eval for the call and back
    afterwards). See the module docstring for window placement and blending.
    """
    image = np.asarray(image, dtype=np.float32)
    check_tiling_options(tile, overlap, batch_size, tta)
    if image.ndim != 2 or image.size == 0:
        raise ConfigError(f"expected a non-empty 2-D image, got shape {image.shape}")
    height, width = image.shape
    backend = as_backend(model, device)
    stride = backend.stride
    window = (window_size(height, int(tile[0]), stride), window_size(width, int(tile[1]), stride))
    windows = [
        (top, left)
        for top in window_starts(height, window[0], overlap, stride)
        for left in window_starts(width, window[1], overlap, stride)
    ]
    logit_sum: np.ndarray | None = None  # C x H x W once the first batch tells C
    weight_sum = np.zeros((height, width), dtype=np.float32)
    attention_sum: np.ndarray | None = None
    with (
        backend.prepared(),
        torch.inference_mode(),
        tqdm(total=len(windows), desc="tiles", unit="tile", disable=not progress) as bar,
    ):
        for group in _batches(windows, batch_size):
            crops = np.stack([_padded_crop(image, top, left, window) for top, left in group])
            logits, attention = _run_network(backend, torch.from_numpy(crops)[:, None], tta)
            logits_np = logits.float().cpu().numpy()
            attention_np = None if attention is None else attention[:, 0].float().cpu().numpy()
            if logit_sum is None:
                logit_sum = np.zeros((logits_np.shape[1], height, width), dtype=np.float32)
            if attention_np is not None and attention_sum is None:
                attention_sum = np.zeros((height, width), dtype=np.float32)
            for index, (top, left) in enumerate(group):
                weights = window_weights(window, top, left, (height, width))
                rows = slice(top, min(top + window[0], height))
                cols = slice(left, min(left + window[1], width))
                inside = (slice(0, rows.stop - top), slice(0, cols.stop - left))
                window_logits = logits_np[index][:, inside[0], inside[1]]
                logit_sum[:, rows, cols] += weights[inside] * window_logits
                weight_sum[rows, cols] += weights[inside]
                if attention_sum is not None:
                    attention_sum[rows, cols] += weights[inside] * attention_np[index][inside]
            bar.update(len(group))
    assert logit_sum is not None
    logit_sum /= weight_sum
    if attention_sum is not None:
        attention_sum /= weight_sum
    del weight_sum
    torch.from_numpy(logit_sum).sigmoid_()  # in place: the logit accumulator becomes the output
    return Prediction.from_channels(logit_sum, attention_sum)
