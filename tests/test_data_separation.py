"""Separation targets: gaps between touching instances and weights on the background between
close ones, so the network, not the watershed, keeps touching particles apart."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import touching_discs
from sagegan.data.dataset import Sample, SegmentationDataset
from sagegan.data.separation import contact_shares, separation_target
from sagegan.errors import ConfigError
from sagegan.infer.instances import split_instances


def test_touching_instances_get_a_gap_that_the_watershed_alone_would_not_find():
    labels = touching_discs()
    union = (labels > 0).astype(np.float32)
    assert split_instances(union).max() == 1  # the neck is too wide for the distance transform
    mask, _ = separation_target(labels, gap_px=1, contact_weight=1.0)
    assert split_instances(mask.astype(np.float32)).max() == 2
    lost = (labels > 0) & ~mask
    assert lost.sum() < 0.1 * (labels > 0).sum()  # only the shared border goes


def test_gap_pixels_weigh_more_and_isolated_particles_keep_their_mask():
    labels = touching_discs()
    mask, weights = separation_target(labels, gap_px=1, contact_weight=5.0)
    gap = (labels > 0) & ~mask
    assert np.all(weights[gap] == 5.0)
    far = np.zeros_like(labels)
    far[10:20, 10:20] = 1
    far_mask, far_weights = separation_target(far, gap_px=1, contact_weight=5.0)
    assert np.array_equal(far_mask, far > 0) and np.all(far_weights == 1.0)


def test_gap_annotated_binary_masks_keep_their_gaps_and_weigh_them():
    labels = np.zeros((20, 30), np.int32)
    labels[5:15, 3:14], labels[5:15, 15:26] = 1, 2  # a 1-px annotated gap at column 14
    mask, weights = separation_target(labels, gap_px=1, contact_weight=4.0)
    assert np.array_equal(mask, labels > 0)
    assert np.all(weights[5:15, 14] == 4.0) and weights[0, 0] == 1.0


def test_contact_shares_count_touching_and_near_instances():
    labels = np.zeros((12, 30), np.int32)
    labels[2:8, 1:7], labels[2:8, 7:12], labels[2:8, 14:18], labels[2:8, 25:29] = 1, 2, 3, 4
    assert contact_shares(labels) == (4, 2, 2)
    labels[2:8, 12:14] = 0  # label 3 is 3 px from label 2
    assert contact_shares(labels, radius=3) == (4, 2, 3)


def test_dataset_items_carry_gaps_and_weights():
    labels = touching_discs()
    sample = Sample("a", np.zeros(labels.shape, np.float32), labels, None, 0, None, None)
    item = SegmentationDataset([sample], None, gap_px=1, contact_weight=3.0)[0]
    mask, weights = separation_target(labels, 1, 3.0)
    assert np.array_equal(item["mask"][0].numpy(), mask.astype(np.float32))
    assert np.array_equal(item["valid"][0].numpy(), weights)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="gap_px"):
        separation_target(np.zeros((4, 4), np.int32), -1, 1.0)
    with pytest.raises(ConfigError, match="contact_weight"):
        separation_target(np.zeros((4, 4), np.int32), 0, 0.5)
