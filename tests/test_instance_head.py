"""The instance head: a second output channel trained on instance boundaries, whose interiors seed
the instance split, so touching particles that the distance transform merges come apart."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import touching_discs, train_tiny
from sagegan.data.dataset import Sample, SegmentationDataset
from sagegan.data.separation import boundary_target
from sagegan.errors import ConfigError
from sagegan.evaluate import evaluate_run
from sagegan.infer.instances import split_instances
from sagegan.infer.options import PredictionOptions
from sagegan.infer.segment import segment_images
from sagegan.infer.tiling import predict_tiled
from sagegan.losses import BoundaryAwareLoss, build_segmentation_loss
from sagegan.models import build_model
from sagegan.models.checkpoint import load_model
from sagegan.train.config import config_from_cli


def test_boundary_marks_where_instances_meet_not_their_outlines():
    labels = touching_discs()
    boundary = boundary_target(labels, 1)
    assert not boundary[labels == 0].any()
    contact = (labels[:, :-1] > 0) & (labels[:, 1:] > 0) & (labels[:, :-1] != labels[:, 1:])
    assert boundary[:, :-1][contact].all() and boundary[:, 1:][contact].all()
    assert boundary.sum() < 0.2 * (labels > 0).sum()  # only the band across the neck
    single = np.where(labels > 0, 1, 0)  # one particle: no boundary at all
    assert not boundary_target(single, 2).any()
    gapped = labels.copy()
    gapped[contact.nonzero()[0], contact.nonzero()[1] + 1] = 0  # a 1-px annotated gap
    assert boundary_target(gapped, 2)[gapped > 0].any()  # the gap still separates two instances
    assert boundary_target(labels, 2).sum() > boundary.sum()
    with pytest.raises(ConfigError, match="boundary_px"):
        boundary_target(labels, -1)


def test_boundary_seeds_separate_touching_discs_the_distance_transform_merges():
    labels = touching_discs()
    union = (labels > 0).astype(np.float32)
    assert split_instances(union).max() == 1
    boundary = boundary_target(labels, 1).astype(np.float32)
    split = split_instances(union, boundary=boundary)
    assert split.max() == 2
    assert np.array_equal(split > 0, labels > 0)  # no foreground lost
    agreement = max(np.mean(split[labels > 0] == labels[labels > 0]), 0.0)
    assert agreement > 0.9
    # a component whose interior vanished (all boundary) stays one instance
    assert split_instances(union, boundary=np.ones_like(union)).max() == 1
    with pytest.raises(ConfigError, match="boundary map shape"):
        split_instances(union, boundary=np.zeros((4, 4), np.float32))


def test_a_faint_contact_is_cut_at_a_lower_boundary_threshold():
    labels = touching_discs()
    union = (labels > 0).astype(np.float32)
    faint = 0.3 * boundary_target(labels, 1).astype(np.float32)  # the head's contact, drawn faintly
    assert split_instances(union, boundary=faint).max() == 1  # not cut at the default 0.5
    assert split_instances(union, boundary=faint, boundary_threshold=0.2).max() == 2
    for bad in (0.0, 1.0):
        with pytest.raises(ConfigError, match="boundary_threshold must be in"):
            split_instances(union, boundary=faint, boundary_threshold=bad)


def test_trained_instance_head_separatestouching_discs():
    labels = touching_discs()
    image = np.where(labels > 0, 0.6, -0.6).astype(np.float32)
    image[boundary_target(labels, 1)] = 0.0  # the contact shows as a darker line
    torch.manual_seed(0)
    model = build_model("attention_unet", out_channels=2, base_width=8, depth=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    criterion = BoundaryAwareLoss(build_segmentation_loss())
    target = np.stack([labels > 0, boundary_target(labels, 1)]).astype(np.float32)
    x, y = torch.from_numpy(image)[None, None], torch.from_numpy(target)[None]
    for _ in range(150):
        optimizer.zero_grad()
        criterion(model(x).logits, y).backward()
        optimizer.step()
    prediction = predict_tiled(model.eval(), image, tile=(64, 64))
    assert prediction.boundary is not None and prediction.boundary.shape == image.shape
    assert split_instances(prediction.probability).max() == 1
    assert split_instances(prediction.probability, boundary=prediction.boundary).max() == 2


def test_boundary_aware_loss_adds_the_boundary_channel():
    base = build_segmentation_loss()
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 2, 16, 16, generator=generator)
    target = (torch.rand(2, 2, 16, 16, generator=generator) > 0.5).float()
    expected = base(logits[:, :1], target[:, :1]) + 0.5 * base(logits[:, 1:], target[:, 1:])
    assert torch.allclose(BoundaryAwareLoss(base, 0.5)(logits, target), expected)
    with pytest.raises(ValueError, match="B x 2 x H x W"):
        BoundaryAwareLoss(base)(logits[:, :1], target[:, :1])


def test_dataset_items_carry_the_boundary_of_the_kept_instances():
    labels = touching_discs()
    sample = Sample("a", np.zeros(labels.shape, np.float32), labels, None, 0, None, None)
    item = SegmentationDataset([sample], None, boundary_px=1)[0]
    assert np.array_equal(item["boundary"][0].numpy(), boundary_target(labels, 1))
    assert "boundary" not in SegmentationDataset([sample], None)[0]


def test_config_owns_the_output_channels():
    with pytest.raises(ConfigError, match="boundary_px"):
        config_from_cli("tiny", None, {"data.boundary_px": -1})
    with pytest.raises(ConfigError, match="out_channels"):
        config_from_cli("tiny", None, {"model.segmenter_kwargs.out_channels": 2})


def test_run_with_an_instance_head_segments_and_evaluates_with_its_instance_options(tmp_path):
    overrides = {
        "data.boundary_px": 1,
        "instances.min_size_px": 7,
        "instances.min_depth_px": 2.5,
        "gan.epochs": 1,
    }
    data, run = train_tiny(tmp_path, overrides)
    model, _ = load_model(run)
    assert model.head.out_channels == 2
    summary = segment_images([data / "images"], run, tmp_path / "out", progress=False)
    first = summary.results[0]
    assert first.files["boundary"].name.endswith("_boundary.tif")
    record = json.loads(first.files["json"].read_text())
    assert record["instances"]["min_size_px"] == 7  # the run's settings
    assert record["instances"]["min_depth_px"] == 2.5
    result = evaluate_run(run, data, out=tmp_path / "eval", split="val", progress=False)
    assert 0.0 <= result.summary["dice_mean"] <= 1.0 and len(result.rows) >= 1
    metrics = json.loads(result.files["metrics"].read_text())
    assert metrics["settings"]["instances"]["min_size_px"] == 7
    given = evaluate_run(
        run,
        data,
        out=tmp_path / "e2",
        split="val",
        progress=False,
        options=PredictionOptions(min_size_px=0),
    )
    settings = json.loads(given.files["metrics"].read_text())["settings"]
    assert settings["instances"]["min_size_px"] == 0
