"""Masks for online augmentation: batch masks, re-arranged real particles, simulator layouts.

The generator turns each mask into an image, and the segmenter trains on the pair (paper eqs.
12-13). New masks widen what the segmenter sees beyond the few annotated layouts, and come as
instance label maps, so that their pairs also train an instance head:

* ``real``: the current batch's own masks (the reference's only source);
* ``rearranged``: particle instances cut from the training label maps and pasted, randomly flipped
  and rotated by multiples of 90 degrees, at random positions that neither overlap nor share a side
  with earlier ones (corners may meet), until a foreground fraction drawn from the training maps'
  range is reached (cGAN-Seg's dense-mask idea);
* ``simulator``: particle layouts of ``sagegan.synth.sample_layout``.

Everything is drawn from the ``np.random.Generator`` passed in, so a seeded run repeats exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from sagegan.errors import ConfigError
from sagegan.synth import SimulatorConfig, sample_layout

MAX_FAILED_PLACEMENTS = 200


class MaskSources:
    """Draws a source per sample and makes the corresponding new mask.

    ``label_maps``: training instance label maps (0 background, 1..N); ``weights``: relative weight
    of each source name; ``size``: (H, W) of the masks to make.
    """

    def __init__(
        self,
        label_maps: Sequence[np.ndarray],
        weights: dict[str, float],
        size: tuple[int, int],
        simulator_config: SimulatorConfig | None = None,
    ) -> None:
        self.size = (int(size[0]), int(size[1]))
        self.instances = extract_instances(label_maps)
        self.fraction_range = foreground_fraction_range(label_maps)
        active = {name: w for name, w in weights.items() if w > 0}
        if not self.instances:
            active.pop("rearranged", None)
        if not active:
            active = {"real": 1.0}
        self.names = sorted(active)
        total = sum(active.values())
        self.probabilities = np.array([active[name] / total for name in self.names])
        self.simulator_config = simulator_config
        if self.simulator_config is None and "simulator" in active:
            self.simulator_config = matched_simulator_config(
                self.instances, self.fraction_range, self.size
            )

    def choose(self, rng: np.random.Generator, n: int) -> list[str]:
        """The source of each of ``n`` samples."""
        picks = rng.choice(len(self.names), size=n, p=self.probabilities)
        return [self.names[i] for i in picks]

    def make(self, source: str, rng: np.random.Generator) -> np.ndarray:
        """A new int32 instance label map (H x W, 0 background) from ``rearranged`` or
        ``simulator``."""
        if source == "rearranged":
            low, high = self.fraction_range
            return rearranged_labels(self.instances, self.size, rng.uniform(low, high), rng)
        if source == "simulator":
            return np.asarray(sample_layout(rng, self.simulator_config), dtype=np.int32)
        raise ValueError(f"mask source {source!r} makes no new mask (use the batch mask)")


def foreground_fraction_range(label_maps: Sequence[np.ndarray]) -> tuple[float, float]:
    """The smallest and largest foreground fraction of ``label_maps`` ((0, 0) for none)."""
    fractions = [float(np.mean(np.asarray(labels) > 0)) for labels in label_maps]
    return (min(fractions), max(fractions)) if fractions else (0.0, 0.0)


def matched_simulator_config(
    instances: Sequence[np.ndarray], fraction_range: tuple[float, float], size: tuple[int, int]
) -> SimulatorConfig:
    """Simulator settings whose particles have the training particles' median size in pixels and
    whose coverage spans the training maps' foreground fractions (defaults without instances)."""
    default = SimulatorConfig(size=size)
    if not instances:
        return default
    diameters_px = [2.0 * np.sqrt(crop.sum() / np.pi) for crop in instances]
    median_nm = float(np.mean(default.diameter_median_nm))
    pixel_size_nm = median_nm / max(float(np.median(diameters_px)), 1.0)
    low = min(max(fraction_range[0], 0.01), 0.6)
    high = min(max(fraction_range[1], low), 0.6)
    try:
        return SimulatorConfig(size=size, pixel_size_nm=pixel_size_nm, coverage=(low, high))
    except ConfigError:
        raise ConfigError(
            f"gan.mask_sources: the training particles (median diameter "
            f"{np.median(diameters_px):.1f} px) are too small for simulated masks; set "
            "gan.mask_sources.simulator=0"
        ) from None


def extract_instances(label_maps: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Boolean crops of every particle that does not touch its image border.

    Particles cut by the border are kept only from maps where no whole particle exists, so a dataset
    of large, mostly cut particles still gives something to paste.
    """
    whole: list[np.ndarray] = []
    cut: list[np.ndarray] = []
    for labels in label_maps:
        labels = np.asarray(labels)
        height, width = labels.shape
        for index, box in enumerate(ndimage.find_objects(labels), start=1):
            if box is None:
                continue
            crop = labels[box] == index
            touches = (
                box[0].start == 0
                or box[1].start == 0
                or box[0].stop == height
                or box[1].stop == width
            )
            (cut if touches else whole).append(crop)
    return whole or cut


def rearranged_labels(
    instances: Sequence[np.ndarray],
    size: tuple[int, int],
    target_fraction: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Paste randomly chosen, flipped and rotated instances at free positions up to a fraction;
    the int32 label map of the pasted instances (1, 2, ... in pasting order).

    A candidate is placed only where it and a one-pixel ring around it are background, so pasted
    particles stay separate instances. Stops at ``target_fraction`` or after
    ``MAX_FAILED_PLACEMENTS`` consecutive rejected candidates.
    """
    height, width = size
    labels = np.zeros((height, width), dtype=np.int32)
    pasted = 0
    target = target_fraction * height * width
    area = 0
    failures = 0
    while area < target and failures < MAX_FAILED_PLACEMENTS:
        crop = instances[int(rng.integers(len(instances)))]
        crop = np.rot90(crop, k=int(rng.integers(4)))
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        h, w = crop.shape
        if h > height or w > width:
            failures += 1
            continue
        top = int(rng.integers(height - h + 1))
        left = int(rng.integers(width - w + 1))
        ring = labels[max(top - 1, 0) : top + h + 1, max(left - 1, 0) : left + w + 1] > 0
        grown = ndimage.binary_dilation(
            np.pad(crop, 1), structure=ndimage.generate_binary_structure(2, 1)
        )
        grown = grown[int(top == 0) : grown.shape[0] - int(top + h == height)]
        grown = grown[:, int(left == 0) : grown.shape[1] - int(left + w == width)]
        if np.any(ring & grown):
            failures += 1
            continue
        pasted += 1
        labels[top : top + h, left : left + w][crop] = pasted
        area += int(crop.sum())
        failures = 0
    return labels
