"""How real the generator's images look, measured at the end of GAN epochs (issue 17).

The probe takes fixed crops of the validation images and of their masks once, then after an
epoch asks G itself (online augmentation draws its pairs from G, not from its moving average) for
images of those masks with fixed latents and noise, and compares them with the real crops: KID
on the builtin model's encoder features and the network-free intensity and spectrum distances
(`sagegan.metrics.kid.realism_scores`; the real crops' side is drawn once, as a
`sagegan.metrics.kid.RealismReference`). The
validation images are never trained on, so G cannot score well by copying its training images;
fixed crops, latents and seeds make the scores of two epochs comparable and a resumed run repeat
them (exactly on the CPU or with deterministic kernels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from sagegan.data.dataset import Sample
from sagegan.metrics.kid import (
    KID_PATCHES,
    RealismFeatures,
    crop_windows,
    realism_reference,
    reflect_padded,
    scores_against,
)
from sagegan.models.checkpoint import unwrap
from sagegan.train.gan_random import generator_inputs
from sagegan.train.runtime import evaluating

CROP_PX = 128
CROPS = KID_PATCHES  # each crop is one of KID's patches
GENERATOR_BATCH = 8


def validation_crops(
    samples: Sequence[Sample], crop_px: int, count: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` aligned crops of the validation images and their binary masks, spread evenly
    over the images (images smaller than a crop are reflect-padded) -> two [count, c, c] arrays."""
    usable = [s for s in samples if s.labels is not None]
    shapes = [sample.image.shape for sample in usable]
    images, masks = [], []
    for which, top, left in crop_windows(shapes, crop_px, count, np.random.default_rng(seed)):
        window = (slice(top, top + crop_px), slice(left, left + crop_px))
        images.append(reflect_padded(usable[which].image, crop_px)[window])
        masks.append(reflect_padded(usable[which].labels > 0, crop_px)[window])
    return np.stack(images).astype(np.float32), np.stack(masks).astype(np.float32)


class RealismProbe:
    """Realism of a generator's images of the validation masks against the validation images."""

    def __init__(self, samples: Sequence[Sample], device: torch.device, seed: int) -> None:
        if not any(s.labels is not None for s in samples):
            raise ValueError("the realism probe needs validation images with masks")
        real, self.masks = validation_crops(samples, CROP_PX, CROPS, seed)
        self.device, self.seed = device, seed
        self.reference = realism_reference(
            list(real), RealismFeatures(device), patch_px=CROP_PX, patches=CROPS, seed=seed
        )

    @torch.no_grad()
    def measure(self, generator: nn.Module) -> dict[str, float]:
        """The realism scores of ``generator``'s images (run in eval mode, fixed latents)."""
        generator = unwrap(generator)
        source = torch.Generator().manual_seed(self.seed)
        fakes = []
        with evaluating(generator):
            for start in range(0, len(self.masks), GENERATOR_BATCH):
                masks = torch.from_numpy(self.masks[start : start + GENERATOR_BATCH])[:, None]
                masks = masks.to(self.device)
                z, noise = generator_inputs(generator, masks, source)
                fakes.append(generator(masks, z=z, noise=noise)[:, 0].float().cpu().numpy())
        fake = np.clip(np.concatenate(fakes), -1.0, 1.0)
        return scores_against(self.reference, list(fake))
