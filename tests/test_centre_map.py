"""The instance head's centre map: a third output channel trained on each particle's distance to its
border over its largest, whose cores seed the instance split, so touching particles stay apart
even where the network paints over the contact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import touching_discs, train_tiny
from sagegan.data.dataset import Sample, SegmentationDataset, load_sample
from sagegan.data.pairing import find_pairs
from sagegan.data.separation import boundary_target, centre_target
from sagegan.errors import ConfigError
from sagegan.infer.instances import split_instances
from sagegan.infer.segment import segment_images
from sagegan.infer.tiling import Prediction, predict_tiled
from sagegan.losses import BoundaryAwareLoss, bce_loss, build_segmentation_loss
from sagegan.models import build_model
from sagegan.models.checkpoint import load_model
from sagegan.synth import write_dataset
from sagegan.train import planning, step_timing
from sagegan.train.config import config_from_cli
from sagegan.train.initial_weights import read_initial_segmenter, with_init_head
from sagegan.train.stage_setup import segmenter_spec


def test_centre_peaks_at_one_in_every_particle_and_vanishes_at_contacts():
    labels = touching_discs()
    labels[2:8, 2:6] = 3  # a small particle of its own
    centre = centre_target(labels)
    assert centre.dtype == np.float32 and centre.min() >= 0.0 and centre.max() <= 1.0
    assert not centre[labels == 0].any()
    for label in (1, 2, 3):
        assert centre[labels == label].max() == pytest.approx(1.0)  # each its own scale
    contact = (labels[:, :-1] == 1) & (labels[:, 1:] == 2)
    assert not centre[:, :-1][contact].any() and not centre[:, 1:][contact].any()
    assert not centre_target(np.zeros((5, 5), np.int32)).any()
    sparse = np.where(labels == 2, 7, 0)  # label ids need not be consecutive
    assert centre_target(sparse)[sparse > 0].max() == pytest.approx(1.0)


def test_centre_cores_separate_touching_discs_with_no_boundary_drawn():
    labels = touching_discs()
    union = (labels > 0).astype(np.float32)
    no_contact = np.zeros_like(union)  # the head missed the contact (as on TiO2 SEM's gaps)
    assert split_instances(union, boundary=no_contact).max() == 1
    split = split_instances(union, boundary=no_contact, centre=centre_target(labels))
    assert split.max() == 2
    assert np.array_equal(split > 0, labels > 0)  # no foreground lost
    inside = labels > 0
    swapped = np.where(inside, 3 - labels, 0)  # the split may number the discs either way
    agreement = max(
        np.mean(split[inside] == labels[inside]), np.mean(split[inside] == swapped[inside])
    )
    assert agreement > 0.9
    flat = np.full_like(union, 0.2)  # no core above the threshold: one instance, nothing lost
    assert split_instances(union, centre=flat).max() == 1
    assert split_instances(union, centre=flat, centre_threshold=0.1).max() == 1
    with pytest.raises(ConfigError, match="centre map shape"):
        split_instances(union, centre=np.zeros((4, 4), np.float32))
    with pytest.raises(ConfigError, match="centre_threshold must be in"):
        split_instances(union, centre=flat, centre_threshold=1.0)


def test_loss_adds_the_centre_maps_bce_on_a_third_channel():
    base = build_segmentation_loss()
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 16, 16, generator=generator)
    target = torch.rand(2, 3, 16, 16, generator=generator)
    target[:, :2] = (target[:, :2] > 0.5).float()
    two = BoundaryAwareLoss(base, 0.5, centre_weight=2.0)(logits[:, :2], target[:, :2])
    three = BoundaryAwareLoss(base, 0.5, centre_weight=2.0)(logits, target)
    assert torch.allclose(three, two + 2.0 * bce_loss(logits[:, 2:], target[:, 2:]))
    with pytest.raises(ValueError, match="B x 3 x H x W"):
        BoundaryAwareLoss(base)(torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 8, 8))


def test_dataset_items_carry_the_centre_of_the_kept_instances():
    labels = touching_discs()
    sample = Sample("a", np.zeros(labels.shape, np.float32), labels, None, 0, None, None)
    item = SegmentationDataset([sample], None, boundary_px=1, centre_map=True)[0]
    assert np.array_equal(item["centre"][0].numpy(), centre_target(labels))
    gapped = SegmentationDataset([sample], None, gap_px=1, boundary_px=1, centre_map=True)[0]
    kept = np.where(gapped["mask"][0].numpy() > 0, labels, 0)
    assert np.array_equal(gapped["centre"][0].numpy(), centre_target(kept))
    assert "centre" not in SegmentationDataset([sample], None, boundary_px=1)[0]


def test_the_centre_map_is_a_third_channel_of_the_instance_head():
    config = config_from_cli("tiny", None, {"data.boundary_px": 1, "data.centre_map": True})
    assert segmenter_spec(config)["model_kwargs"]["out_channels"] == 3
    with pytest.raises(ConfigError, match=r"data\.centre_map needs the instance head"):
        config_from_cli("tiny", None, {"data.centre_map": True})
    channels = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    prediction = Prediction.from_channels(channels, None)
    assert np.array_equal(prediction.centre, channels[2])
    assert prediction.instance_maps["boundary"] is prediction.boundary
    assert Prediction.from_channels(channels[:2], None).centre is None


def test_trained_centre_map_separates_touching_discs_from_their_shape_alone():
    labels = touching_discs()
    image = np.where(labels > 0, 0.6, -0.6).astype(np.float32)  # no line marks the contact
    torch.manual_seed(0)
    model = build_model("attention_unet", out_channels=3, base_width=8, depth=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    criterion = BoundaryAwareLoss(build_segmentation_loss())
    target = np.stack([labels > 0, boundary_target(labels, 1), centre_target(labels)])
    x, y = torch.from_numpy(image)[None, None], torch.from_numpy(target.astype(np.float32))[None]
    for _ in range(400):  # the soft target takes longer to learn than a binary one
        optimizer.zero_grad()
        criterion(model(x).logits, y).backward()
        optimizer.step()
    prediction = predict_tiled(model.eval(), image, tile=(64, 64))
    assert prediction.centre is not None and prediction.centre.shape == image.shape
    union = (labels > 0).astype(np.float32)  # a mask that the distance transform cannot split
    assert split_instances(union).max() == 1
    assert split_instances(union, centre=prediction.centre).max() == 2


def test_run_with_a_centre_map_segments_and_fine_tunes_with_it(tmp_path):
    overrides = {"data.boundary_px": 1, "data.centre_map": True, "gan.epochs": 0}
    data, run = train_tiny(tmp_path, overrides)
    model, _ = load_model(run)
    assert model.head.out_channels == 3
    summary = segment_images([data / "images"], run, tmp_path / "out", progress=False)
    assert summary.results[0].files["centre"].name.endswith("_centre.tif")
    config = config_from_cli("tiny", None, {"model.init": str(run)})
    tuned = with_init_head(config, read_initial_segmenter(config))
    assert tuned.data.centre_map and tuned.data.boundary_px == 1


def test_a_plan_without_an_instance_head_gives_the_centre_map_one(tmp_path, monkeypatch):
    data_dir = write_dataset(tmp_path / "data", n=10, size=(64, 64), seed=1, progress=False)
    monkeypatch.setattr(step_timing, "native_bf16_cpu", lambda: False)  # nothing to time
    monkeypatch.setattr(planning, "plan_boundary", lambda fp: (0, None))
    small = {"model.segmenter_kwargs.base_width": 4, "runtime.progress": False}
    samples = [load_sample(pair) for pair in find_pairs(data_dir)]
    config = config_from_cli("auto", None, {**small, "data.centre_map": True})
    plan, overrides = planning.plan_run(config, samples[:6], samples[6:], torch.device("cpu"))
    assert plan.boundary_px == overrides["data.boundary_px"] == 1
    assert any("centre map" in reason for reason in plan.reasons)
    plain = config_from_cli("auto", None, small)
    unchanged, _ = planning.plan_run(plain, samples[:6], samples[6:], torch.device("cpu"))
    assert unchanged.boundary_px == 0
    with pytest.raises(ConfigError, match=r"data\.centre_map needs the instance head"):
        config_from_cli("auto", None, {"data.centre_map": True, "data.boundary_px": 0})
