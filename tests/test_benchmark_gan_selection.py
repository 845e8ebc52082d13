"""benchmarks/gan_selection.py: pairing SAGE-GAN runs with their Attention U-Net twins."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from conftest import benchmark_script


@pytest.fixture(scope="module")
def gan_selection() -> ModuleType:
    return benchmark_script("gan_selection")


def _scores(folder: Path, dice: float, f1: float) -> None:
    folder.mkdir(parents=True)
    summary = {"dice_mean": dice, "f1@0.50_mean": f1}
    (folder / "metrics.json").write_text(json.dumps({"summary": summary}))


def _run(root: Path, method: str, seed: int, dice: float, f1: float) -> Path:
    run = root / "tio2_sem" / "runs" / method / "n5" / f"s{seed}"
    _scores(run / "eval-test", dice, f1)
    return run


def _sage_gan(root: Path, seed: int, gan_f1: list[float], best: str, dice: float, f1: float):
    run = _run(root, "sage_gan", seed, dice, f1)
    (run / "config.yaml").write_text("gan:\n  val_metric: f1@0.5\n")
    epochs = [("pretrain", 0, 0.6), ("gan", -1, 0.6)]  # the GAN stage starts at 0.6
    epochs += [("gan", e, v) for e, v in enumerate(gan_f1)]
    rows = [{"stage": s, "epoch": e, "val": {"dice": 0.9, "f1@0.5": v}} for s, e, v in epochs]
    (run / "log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (run / "best.json").write_text(json.dumps({"checkpoint": best}))


def test_pairs_report_selection_and_paired_test_differences(gan_selection, tmp_path):
    _run(tmp_path, "attention_unet", 0, dice=0.90, f1=0.60)
    _sage_gan(tmp_path, 0, [0.5, 0.7], "checkpoints/gan-e0001", dice=0.92, f1=0.65)
    _run(tmp_path, "attention_unet", 1, dice=0.80, f1=0.50)
    _sage_gan(tmp_path, 1, [0.5, 0.55], "checkpoints/pretrain-e0000", dice=0.80, f1=0.50)
    _sage_gan(tmp_path, 2, [0.7], "checkpoints/gan-e0000", dice=0.9, f1=0.6)  # twin unfinished
    _scores(tmp_path / "tio2_sem/runs/sage_gan/n5/s1/eval-test-gan", dice=0.7, f1=0.6)

    rows = gan_selection.selection_rows([tmp_path])

    assert [(row["seed"], row["gan_taken"]) for row in rows] == [(0, True), (1, False)]
    assert rows[0]["val_pretrained"] == 0.6
    assert rows[0]["val_gan_epochs"] == [0.5, 0.7]
    assert rows[0]["test_delta"] == pytest.approx({"dice": 0.02, "f1@0.5": 0.05})
    assert rows[0]["test_best_gan"] is None, "seed 0's best GAN checkpoint was not scored"
    assert rows[1]["test_best_gan_delta"] == pytest.approx({"dice": -0.1, "f1@0.5": 0.1})
    totals = gan_selection.summary(rows)
    assert totals["pairs"] == 2 and totals["gan_taken"] == 1
    assert totals["mean_test_delta"] == pytest.approx({"dice": 0.01, "f1@0.5": 0.025})
    assert totals["best_gan_scored"] == 1
    assert totals["mean_test_best_gan_delta"] == pytest.approx({"dice": -0.1, "f1@0.5": 0.1})
    (line,) = gan_selection.best_gan_table(rows)  # only seed 1's best GAN checkpoint was scored
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[1:] == ["tio2_sem", "5", "1", "0.800", "0.800", "0.700", "0.500", "0.500", "0.600"]
