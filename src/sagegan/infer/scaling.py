"""Prediction at a run's working resolution (``data.scale``, `sagegan.data.resample`).

The image is resampled by the run's scale, predicted there, and every map (foreground and
boundary probability, centre map, attention) is taken back to the image's native grid
(bilinear), so that the instance split, the scores and the written maps are native.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sagegan.data.resample import resample_map, scaled_shape
from sagegan.infer.tiling import Prediction


def predict_at_scale(
    predict: Callable[[np.ndarray], Prediction], image: np.ndarray, scale: float
) -> Prediction:
    """``predict(image)`` run on ``image`` resampled by ``scale``, its maps on ``image``'s grid
    (``predict(image)`` itself at scale 1)."""
    if scale == 1.0:
        return predict(image)
    native = image.shape
    prediction = predict(resample_map(image, scaled_shape(native, scale)))

    def back(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else resample_map(values, native)

    return Prediction(
        back(prediction.probability),
        back(prediction.attention),
        back(prediction.boundary),
        back(prediction.centre),
    )
