"""Tiled inference: equals whole-image inference, has no seams, TTA undoes its flips."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from sagegan.errors import ConfigError
from sagegan.infer.tiling import predict_tiled, window_starts
from sagegan.models import build_model
from sagegan.models.attention_unet import upsample_attention


def _model(depth: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("attention_unet", base_width=4, depth=depth).eval()


def _image(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Smooth random texture with blobs, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    noise = torch.from_numpy(rng.standard_normal((1, 1, *shape)).astype(np.float32))
    smooth = torch.nn.functional.avg_pool2d(noise, 5, stride=1, padding=2)[0, 0].numpy()
    return np.tanh(3 * smooth).astype(np.float32)


def _whole(model: torch.nn.Module, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        output = model(torch.from_numpy(image)[None, None])
    attention = upsample_attention(output.attention[-1:], image.shape)
    return torch.sigmoid(output.logits)[0, 0].numpy(), attention[0, 0].numpy()


def _naive_tiles(model: torch.nn.Module, image: np.ndarray, tile: int) -> np.ndarray:
    """Non-overlapping tiles, each predicted on its own and pasted side by side."""
    result = np.zeros(image.shape, dtype=np.float32)
    for top in range(0, image.shape[0], tile):
        for left in range(0, image.shape[1], tile):
            crop = np.ascontiguousarray(image[top : top + tile, left : left + tile])
            result[top : top + tile, left : left + tile] = _whole(model, crop)[0]
    return result


@pytest.mark.parametrize("shape", [(64, 64), (90, 123)])
def test_image_within_one_tile_equals_whole_image_inference(shape: tuple[int, int]) -> None:
    model, image = _model(depth=3), _image(shape)
    probability, attention = _whole(model, image)
    prediction = predict_tiled(model, image, tile=(128, 128))
    assert prediction.probability.shape == shape and prediction.probability.dtype == np.float32
    np.testing.assert_allclose(prediction.probability, probability, atol=1e-4)
    assert prediction.attention is not None
    np.testing.assert_allclose(prediction.attention, attention, atol=1e-4)


def test_overlapping_tiles_have_no_seams_unlike_naive_tiling() -> None:
    model, image = _model(depth=2), _image((200, 232), seed=1)
    whole, _ = _whole(model, image)
    blended = predict_tiled(model, image, tile=(96, 96), overlap=0.5, batch_size=3)
    naive = _naive_tiles(model, image, 96)
    blended_error = np.abs(blended.probability - whole)
    naive_error = np.abs(naive - whole)
    # Naive tiles go wrong at their borders (rows/columns 96 and 192) ...
    seams = np.zeros(image.shape, dtype=bool)
    seams[[95, 96, 191, 192], :] = True
    seams[:, [95, 96, 191, 192]] = True
    assert naive_error[seams].max() > 10 * max(blended_error.max(), 1e-3)
    # ... while the blended prediction matches the whole image everywhere.
    assert blended_error.max() < 0.1 * naive_error.max()
    assert blended_error.mean() < 1e-3


def test_flip_tta_equals_mean_of_manually_flipped_logits() -> None:
    model, image = _model(depth=2), _image((72, 88), seed=2)
    logits = []
    with torch.no_grad():
        for dims in ((), (1,), (0,), (0, 1)):
            flipped = np.ascontiguousarray(np.flip(image, dims) if dims else image)
            output = model(torch.from_numpy(flipped)[None, None]).logits[0, 0].numpy()
            logits.append(np.flip(output, dims) if dims else output)
    expected = 1.0 / (1.0 + np.exp(-np.mean(logits, axis=0)))
    plain = predict_tiled(model, image, tile=(128, 128)).probability
    tta = predict_tiled(model, image, tile=(128, 128), tta="flips").probability
    np.testing.assert_allclose(tta, expected, atol=1e-5)
    assert np.abs(tta - plain).max() > 1e-3  # the flips did change something


def test_model_in_training_mode_is_restored_and_network_without_gates_has_no_attention() -> None:
    torch.manual_seed(0)
    model = build_model("unet", base_width=4, depth=2).train()
    prediction = predict_tiled(model, _image((40, 40)), tile=(32, 32), overlap=0.25)
    assert model.training
    assert prediction.attention is None
    assert np.all((prediction.probability > 0) & (prediction.probability < 1))


def test_windows_cover_the_axis_on_stride_multiples() -> None:
    starts = window_starts(200, 96, 0.5, 4)
    assert starts[0] == 0 and all(start % 4 == 0 for start in starts)
    assert 200 <= starts[-1] + 96 < 200 + 4
    assert all(later - earlier <= 48 for earlier, later in itertools.pairwise(starts))
    assert window_starts(50, 64, 0.25, 8) == [0]


@pytest.mark.parametrize(
    "options",
    [{"tile": (0, 64)}, {"overlap": 1.0}, {"tta": "rotations"}, {"batch_size": 0}],
)
def test_bad_options_are_config_errors(options: dict) -> None:
    with pytest.raises(ConfigError):
        predict_tiled(_model(), _image((32, 32)), **options)
