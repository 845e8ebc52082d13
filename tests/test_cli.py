"""The `sagegan` command line: verbs call the package and errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sagegan import __version__
from sagegan.cli import main
from sagegan.models import list_models


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_synth_check_split_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "synth"
    assert main(["synth", "--n", "5", "--size", "96x128", "--out", str(data), "--seed", "3"]) == 0
    assert len(list((data / "images").glob("*.tif"))) == 5
    assert len(list((data / "masks").glob("*.png"))) == 5

    report_path = tmp_path / "report.json"
    assert main(["check", str(data), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert len(report["files"]) == 5
    assert all(f["pixel_size_nm"] is not None for f in report["files"])

    split_path = tmp_path / "split.json"
    assert main(["split", str(data), "--out", str(split_path), "--seed", "1"]) == 0
    split = json.loads(split_path.read_text())
    assert sorted(split["train"] + split["val"] + split["test"]) == [
        f"synth_{i:04d}" for i in range(5)
    ]
    assert "train" in capsys.readouterr().out
    # synth_000k: the last digit as the sample: 5 groups of one image stay in training
    grouped = ["split", str(data), "--out", str(split_path), "--group", r"(\d)$"]
    assert main(grouped) == 0
    assert "stratified by 5 groups" in capsys.readouterr().out
    assert json.loads(split_path.read_text())["test"] == []
    assert main([*grouped, "--kfold", "2"]) == 2
    assert main(["split", str(data), "--out", str(split_path), "--group", "^x"]) == 2
    assert "does not match the stem" in capsys.readouterr().err


def test_synth_refuses_to_overwrite_without_flag(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    args = ["synth", "--n", "1", "--size", "64x64", "--out", str(data)]
    assert main(args) == 0
    assert main(args) == 2
    assert main([*args, "--overwrite"]) == 0


def test_missing_folder_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert main(["check", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err
    assert "\n" not in err
    assert "Traceback" not in err


def test_corrupt_image_fails_check_and_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "synth"
    assert main(["synth", "--n", "2", "--size", "64x64", "--out", str(data)]) == 0
    corrupt = data / "images" / "synth_0001.tif"
    corrupt.write_bytes(b"not a tiff at all")
    assert main(["check", str(data)]) == 1
    assert "synth_0001.tif" in capsys.readouterr().out


def test_bad_pixel_size_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "synth"
    assert main(["synth", "--n", "1", "--size", "64x64", "--out", str(data)]) == 0
    capsys.readouterr()
    assert main(["check", str(data), "--pixel-size", "twelve"]) == 2
    err = capsys.readouterr().err.strip()
    assert "twelve" in err and "\n" not in err


def test_pixel_size_override_wins(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    assert main(["synth", "--n", "1", "--size", "64x64", "--out", str(data)]) == 0
    report_path = tmp_path / "report.json"
    assert main(["check", str(data), "--pixel-size", "0.5um", "--json", str(report_path)]) == 0
    (entry,) = json.loads(report_path.read_text())["files"]
    assert entry["pixel_size_nm"] == pytest.approx(500.0)


def test_models_lists_every_network_with_citation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for info in list_models():
        assert info.name in out
        assert info.citation in out


def test_demo_runs_end_to_end_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--n", "6", "--preset", "tiny"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "sagegan demo finished" in first
    assert "validation dice" in first
    assert "test Dice" in first
    assert (out / "evaluation" / "metrics.json").is_file()
    assert (out / "run" / "best.json").is_file()
    split = json.loads((out / "split.json").read_text())
    assert split["test"], "the demo must hold out a test split"
    for stem in split["test"]:
        assert (out / "segmented" / f"{stem}_labels.tif").is_file()
    assert "test particles counted (predicted / true)" in first
    stages = json.loads((out / "demo.json").read_text())["seconds"]
    assert list(stages) == ["simulate", "train", "segment", "evaluate", "analyze", "report"]
    assert all(seconds > 0 for seconds in stages.values()) and "wall time: simulate" in first
    assert (out / "analysis" / "particles.csv").is_file()
    report = out / "report.html"
    assert f"report: {report}" in first
    html = report.read_text()
    assert "data:image/png;base64," in html and "Analysis: " in html and "g(r)" in html
    best_before = (out / "run" / "best.json").read_text()
    assert main(args) == 0
    assert (out / "run" / "best.json").read_text() == best_before


def test_train_and_segment_verbs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    data = tmp_path / "synth"
    assert main(["synth", "--n", "6", "--size", "64x96", "--out", str(data)]) == 0
    run = tmp_path / "run"
    args = ["train", str(data), "--out", str(run), "--preset", "tiny"]
    assert main([*args, "--set", "pretrain.epochs=1", "--set", "gan.epochs=1"]) == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["pretrain"]["epochs"] == 1 and config["gan"]["epochs"] == 1
    assert "best checkpoint" in capsys.readouterr().out
    assert main(args) == 2, "a used run folder needs --resume"

    segmented = tmp_path / "segmented"
    images = sorted((data / "images").glob("*.tif"))
    assert main(["segment", str(images[0]), "--model", str(run), "--out", str(segmented)]) == 0
    assert (segmented / f"{images[0].stem}_labels.tif").is_file()
    floor = ["segment", str(images[0]), "--model", str(run), "--min-size", "100000"]
    assert main([*floor, "--out", str(tmp_path / "floor")]) == 0
    record = json.loads((tmp_path / "floor" / f"{images[0].stem}.json").read_text())
    assert record["instances"]["min_size_px"] == 100000 and record["particle_count"] == 0
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"broken")
    segment_both = ["segment", str(images[1]), str(corrupt), "--model", str(run)]
    assert main([*segment_both, "--out", str(segmented)]) == 1, "a failed image sets the status"
    assert (segmented / f"{images[1].stem}_mask.png").is_file(), "the good image is still written"

    scores = tmp_path / "scores"
    assert main(["evaluate", str(data), "--model", str(run), "--out", str(scores)]) == 0
    metrics = json.loads((scores / "metrics.json").read_text())
    split = json.loads((run / "split.json").read_text())
    assert sorted(metrics["stems"]) == sorted(split["test"])
    for which, stage in (("best-pretrain", "pretrain-"), ("best-gan", "gan-")):
        stage_scores = tmp_path / f"scores-{which}"
        evaluate_stage = ["evaluate", str(data), "--model", str(run), "--out", str(stage_scores)]
        assert main([*evaluate_stage, "--checkpoint", which]) == 0
        weights = Path(json.loads((stage_scores / "metrics.json").read_text())["model"])
        assert weights.parent.name.startswith(stage), (which, weights)

    figures = tmp_path / "figures"
    assert main(["attention", "--model", str(run), "--out", str(figures), "--data", str(data)]) == 0
    assert (figures / "attention_evolution.png").is_file()
    assert (figures / "attention_overlays.png").is_file()

    comparison = tmp_path / "comparison"
    compare_args = ["compare", str(data), "--out", str(comparison), "--preset", "tiny"]
    assert main([*compare_args, "--methods", "unet", "sage_gan", "--seeds", "1"]) == 0
    assert "sage_gan" in (comparison / "comparison.md").read_text()
    assert "Comparison" in (comparison / "report.html").read_text()

    generated = tmp_path / "generated"
    generate_args = ["generate", "--model", str(run), "--out", str(generated), "--synth", "2"]
    assert main([*generate_args, "--styles", "2", "--size", "64x64"]) == 0
    assert len(list((generated / "images").glob("*.png"))) == 4
    assert main([*args[:3], str(tmp_path / "other"), "--set", "no_equals_sign"]) == 2
    assert main([*args[:3], str(tmp_path / "other"), "--set", "gan.no_such_key=1"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 3
    assert "no_such_key" in errors[-1]


def test_checkpoint_choices_are_the_runs_pointers() -> None:
    from sagegan.cli import SEGMENTER_CHECKPOINTS
    from sagegan.models.run_folder import POINTERS

    assert set(SEGMENTER_CHECKPOINTS) == set(POINTERS)


def test_compare_help_lists_every_method(capsys: pytest.CaptureFixture[str]) -> None:
    from sagegan.compare import METHODS

    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for name in METHODS:
        assert name in help_text


def test_python_m_sagegan_compare_with_two_workers(tmp_path: Path) -> None:
    # the way a user runs it: the spawned workers start from the `python -m sagegan` process
    data, out = tmp_path / "synth", tmp_path / "comparison"
    assert main(["synth", "--n", "6", "--size", "64x64", "--out", str(data), "--seed", "0"]) == 0
    command = [sys.executable, "-m", "sagegan", "compare", str(data), "--out", str(out)]
    options = ["--preset", "tiny", "--methods", "unet", "--seeds", "2", "--workers", "2"]
    done = subprocess.run([*command, *options], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = (out / "comparison_runs.csv").read_text().splitlines()
    assert len(rows) == 1 + 2  # header, one row per seed
    assert len(list((out / "runs" / "unet").glob("n*/s*/eval-test/metrics.json"))) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--budget", "soon"], "--budget: 'soon' is not a positive duration"),
        (["--budget", "0m"], "is not a positive duration"),
        (["--preset", "cpu-small", "--iterations", "10"], "need --preset auto"),
    ],
)
def test_bad_training_length_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    code = main(["train", str(tmp_path), "--out", str(tmp_path / "run"), *options])
    err = capsys.readouterr().err.strip()
    assert code != 0 and message in err and len(err.splitlines()) == 1


def test_budget_durations_are_read_in_minutes() -> None:
    from sagegan.commands.train import minutes as _minutes

    assert [_minutes(t) for t in ("45m", "1.5h", "600s", "30")] == [45.0, 90.0, 10.0, 30.0]


@pytest.mark.parametrize("verb", ["segment", "evaluate", "analyze", "generate"])
def test_device_defaults_to_auto(verb: str) -> None:
    from sagegan.cli import build_parser

    required = {
        "segment": ["segment", "x.tif", "--model", "run"],
        "evaluate": ["evaluate", "data", "--model", "run"],
        "analyze": ["analyze", "x.tif", "--model", "run"],
        "generate": ["generate", "--model", "run"],
    }[verb]
    args = build_parser().parse_args([*required, "--out", "out"])
    assert args.device == "auto"


@pytest.mark.parametrize("device", ["tpu", "cuda"])
def test_segment_with_an_unusable_device_is_one_line_error(
    tiny_run: tuple[Path, Path], tmp_path: Path, device: str
) -> None:
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("checks the error of a machine without CUDA; this one has CUDA")
    data, run = tiny_run
    image = sorted((data / "images").glob("*.tif"))[0]
    command = [sys.executable, "-m", "sagegan", "segment", str(image), "--model", str(run)]
    command += ["--out", str(tmp_path / "out"), "--device", device]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"sagegan segment: error: --device {device}: ")
    if device == "tpu":
        assert lines[0].endswith("unknown device (choose auto, cpu, cuda or cuda:N)")
    else:
        assert lines[0].endswith("use --device cpu or auto")
    assert not (tmp_path / "out").exists(), "options are checked before any work"


def test_segment_with_device_auto(tiny_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = tiny_run
    image = sorted((data / "images").glob("*.tif"))[0]
    out = tmp_path / "out"
    command = ["segment", str(image), "--model", str(run), "--out", str(out)]
    assert main([*command, "--device", "auto"]) == 0
    assert (out / f"{image.stem}_labels.tif").is_file()
