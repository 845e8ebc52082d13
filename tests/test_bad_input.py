"""Bad input through the `sagegan` command line: one error line naming the file or option and the
problem, exit status 2, no traceback and nothing left behind."""

from __future__ import annotations

import json
import logging
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from sagegan.cli import main
from sagegan.train.run_log import RunLog, read_log

# (case, argv, exit status, text of the one stderr line). In argv, {data} is the tiny run's
# dataset, {tmp} a fresh folder prepared by `_prepare`, {run} a copy of the tiny run whose
# log.jsonl has a broken second line and {clean} an intact copy of it.
CASES = [
    (
        "best.json holds a JSON list",
        ["segment", "{data}/images", "--model", "{tmp}/run_list", "--out", "{tmp}/out"],
        2,
        "best.json: not a checkpoint pointer",
    ),
    (
        "best.json points outside the run folder",
        ["export", "--onnx", "{tmp}/run_escape", "--out", "{tmp}/out.onnx"],
        2,
        "best.json: names a checkpoint outside the run folder",
    ),
    (
        "log.jsonl broken in the middle blocks resume",
        ["train", "{data}", "--out", "{run}", "--resume"],
        2,
        "log.jsonl: line 2 is not valid JSON",
    ),
    (
        "log.jsonl broken in the middle blocks report",
        ["report", "{run}", "--out", "{tmp}/report.html"],
        2,
        "log.jsonl: line 2 is not valid JSON",
    ),
    (
        "negative learning rate",
        ["train", "{data}", "--out", "{tmp}/new", "--set", "pretrain.lr=-0.1"],
        2,
        "pretrain.lr must be a positive finite number, got -0.1",
    ),
    (
        "NaN learning rate",
        ["train", "{data}", "--out", "{tmp}/new", "--set", "pretrain.lr=.nan"],
        2,
        "pretrain.lr must be a positive finite number, got nan",
    ),
    (
        "zero GAN learning rate",
        ["train", "{data}", "--out", "{tmp}/new", "--set", "gan.lr_generator=0"],
        2,
        "gan.lr_generator must be a positive finite number",
    ),
    (
        "infinite discriminator learning rate",
        ["train", "{data}", "--out", "{tmp}/new", "--set", "gan.lr_discriminator=.inf"],
        2,
        "gan.lr_discriminator must be a positive finite number, got inf",
    ),
    (
        "negative seed",
        ["train", "{data}", "--out", "{tmp}/new", "--seed", "-5"],
        2,
        "seed must be in [0, 2**32), got -5",
    ),
    (
        "seed too large",
        ["train", "{data}", "--out", "{tmp}/new", "--seed", str(2**32)],
        2,
        "seed must be in [0, 2**32)",
    ),
    (
        "--set value that is not YAML",
        ["train", "{data}", "--out", "{tmp}/new", "--set", "pretrain.lr={"],
        2,
        "--set 'pretrain.lr={': the value is not valid YAML",
    ),
    (
        "config file not UTF-8",
        ["train", "{data}", "--out", "{tmp}/new", "--config", "{tmp}/latin1.yaml"],
        2,
        "latin1.yaml: config file is not UTF-8 text",
    ),
    (
        "config file not YAML",
        ["train", "{data}", "--out", "{tmp}/new", "--config", "{tmp}/broken.yaml"],
        2,
        "broken.yaml: not valid YAML",
    ),
    (
        "no epochs in either stage",
        [
            *("train", "{data}", "--out", "{tmp}/new"),
            *("--set", "pretrain.epochs=0", "--set", "gan.epochs=0"),
        ],
        2,
        "nothing to train: pretrain.epochs and gan.epochs are both 0",
    ),
    (
        "synthetic bank folder that does not exist",
        ["train", "{data}", "--out", "{tmp}/new", "--set", "data.bank={tmp}/nobank"],
        2,
        "nobank: data.bank: bank folder not found",
    ),
    (
        "synthetic bank that is the dataset folder",
        ["train", "{data}", "--out", "{tmp}/new", "--set", "data.bank={data}"],
        2,
        "data.bank: the bank is the dataset folder",
    ),
    (
        "bank fraction of 1",
        ["train", "{data}", "--out", "{tmp}/new", "--set", "data.bank_fraction=1"],
        2,
        "data.bank_fraction must be in [0, 1), got 1.0",
    ),
    (
        "split --kfold 0",
        ["split", "{data}", "--out", "{tmp}/split.json", "--kfold", "0"],
        2,
        "--kfold must be >= 2",
    ),
    (
        "split --kfold 1",
        ["split", "{data}", "--out", "{tmp}/split.json", "--kfold", "1"],
        2,
        "--kfold must be >= 2 (the number of folds), got 1",
    ),
    (
        "split --out is a folder",
        ["split", "{data}", "--out", "{tmp}/folder"],
        2,
        "folder: is a folder",
    ),
    (
        "synth negative seed (an argument error: one line too)",
        ["synth", "--n", "2", "--out", "{tmp}/synth", "--seed", "-5"],
        2,
        "argument --seed: a seed must be in [0, 2**32), got -5",
    ),
    (
        "segment with an option that does not exist",
        ["segment", "{data}", "--out", "{tmp}/seg", "--tiles", "3"],
        2,
        "unrecognized arguments: --tiles 3 (see sagegan segment --help)",
    ),
    (
        "segment --out is a file",
        ["segment", "{data}", "--model", "{run}", "--out", "{tmp}/latin1.yaml"],
        2,
        "latin1.yaml: exists and is a file: the output must be a folder",
    ),
    (
        "analyze --out under a file",
        ["analyze", "{data}", "--labels", "{data}", "--out", "{tmp}/broken.yaml/analysis"],
        2,
        "cannot be created: ",
    ),
    (
        "evaluate --out is a file",
        ["evaluate", "{data}", "--model", "{run}", "--out", "{tmp}/broken.yaml"],
        2,
        "broken.yaml: exists and is a file",
    ),
    (
        "report --out is a folder",
        ["report", "{run}", "--out", "{tmp}/folder"],
        2,
        "folder: is a folder: give a file name",
    ),
    (
        "check --json is a folder",
        ["check", "{data}", "--json", "{tmp}/folder"],
        2,
        "folder: is a folder: give a file name",
    ),
    (
        "generator weights given as the segmenter",
        [
            *("segment", "{data}/images", "--out", "{tmp}/seg"),
            *("--model", "{run}/checkpoints/gan-e0001/generator.safetensors"),
        ],
        2,
        "generator.safetensors: holds a generator (style_unet_generator), not a segmenter",
    ),
    (
        "resume with another split",
        ["train", "{data}", "--out", "{clean}", "--resume", "--split", "{tmp}/moved.json"],
        2,
        "moved.json: not the split this run trained with (2 image(s) in another part)",
    ),
    (
        "resume with a changed setting",
        ["train", "{data}", "--out", "{clean}", "--resume", "--set", "pretrain.lr=0.5"],
        2,
        "resuming needs the run's own config, but pretrain.lr differs",
    ),
    (
        "training patch far larger than the images",
        [
            *("train", "{data}", "--out", "{tmp}/new", "--preset", "tiny"),
            *("--set", "data.patch_size=[4096, 4096]"),
        ],
        2,
        "the training patch 4096x4096 is over 4x the area of the largest training image",
    ),
    (
        "image header claims 100000 x 100000 pixels",
        ["train", "{tmp}/bomb", "--out", "{tmp}/new", "--preset", "tiny"],
        2,
        "over the limit of 268,435,456; set SAGEGAN_MAX_IMAGE_PIXELS",
    ),
    (
        "compare with a training size of 0",
        ["compare", "{data}", "--out", "{tmp}/cmp", "--train-sizes", "0"],
        2,
        "training size 0 must be 'all' or an integer from 1 to",
    ),
    (
        "segment --overlap 1.5",
        ["segment", "{data}/images", "--model", "{run}", "--out", "{tmp}/seg", "--overlap", "1.5"],
        2,
        "overlap must be in [0, 1), got 1.5",
    ),
    (
        "segment --seed-depth-fraction 2",
        [
            *("segment", "{data}/images", "--model", "{run}", "--out", "{tmp}/seg"),
            *("--seed-depth-fraction", "2"),
        ],
        2,
        "min_depth_fraction must be in [0, 1], got 2",
    ),
    (
        "segment --threshold 1",
        ["segment", "{data}/images", "--model", "{run}", "--out", "{tmp}/seg", "--threshold", "1"],
        2,
        "threshold must be in [0, 1), got 1.0",
    ),
    (
        "pixel size without a unit",
        ["segment", "{data}/images", "--model", "{run}", "--out", "{tmp}/seg", "--pixel-size", "5"],
        2,
        "pixel size '5': expected a positive number with a unit",
    ),
    (
        "onnx backend with bf16",
        [
            *("segment", "{data}/images", "--model", "{run}", "--out", "{tmp}/seg"),
            *("--backend", "onnx", "--precision", "bf16"),
        ],
        2,
        "precision bf16 needs the torch backend, not 'onnx'",
    ),
    (
        "analyze --min-area -1",
        [
            *("analyze", "{data}/images", "--labels", "{data}/labels"),
            *("--out", "{tmp}/an", "--min-area", "-1"),
        ],
        2,
        "minimum particle area must be >= 0 pixels, got -1",
    ),
    (
        "evaluate with a split file that does not exist",
        [
            *("evaluate", "{data}", "--model", "{run}", "--out", "{tmp}/ev"),
            *("--split-file", "{tmp}/none.json"),
        ],
        2,
        "none.json: split file not found",
    ),
    (
        "segment with a run folder that does not exist",
        ["segment", "{data}/images", "--model", "{tmp}/norun", "--out", "{tmp}/seg"],
        2,
        "norun: no 'best' checkpoint here (missing best.json)",
    ),
    (
        "train --budget that is not a duration",
        ["train", "{data}", "--out", "{tmp}/new", "--budget", "5x"],
        2,
        "--budget: '5x' is not a positive duration such as 45m, 1.5h or 600s",
    ),
    (
        "train --budget with a fixed preset",
        ["train", "{data}", "--out", "{tmp}/new", "--preset", "tiny", "--budget", "10m"],
        2,
        "--budget and --iterations need --preset auto",
    ),
    (
        "synth --n 0",
        ["synth", "--n", "0", "--out", "{tmp}/synth"],
        2,
        "number of images must be at least 1, got 0",
    ),
    (
        "generate --styles 0",
        [
            *("generate", "--model", "{run}", "--masks", "{data}/masks"),
            *("--out", "{tmp}/gen", "--styles", "0"),
        ],
        2,
        "styles_per_mask must be at least 1, got 0",
    ),
]


def _png_header_bomb(path: Path) -> None:
    """A PNG whose header claims 100000 x 100000 pixels (and has no data)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def _moved_split(run: Path, target: Path) -> None:
    """The run's split with its first training and first test image swapped."""
    split = json.loads((run / "split.json").read_text(encoding="utf-8"))
    split["train"][0], split["test"][0] = split["test"][0], split["train"][0]
    target.write_text(json.dumps(split), encoding="utf-8")


def _prepare(tmp: Path, tiny_run: tuple[Path, Path]) -> None:
    """The bad files the cases name."""
    _moved_split(tiny_run[1], tmp / "moved.json")
    for part in ("images", "masks"):  # a header bomb among readable pairs
        shutil.copytree(tiny_run[0] / part, tmp / "bomb" / part)
        _png_header_bomb(tmp / "bomb" / part / "a.png")
    (tmp / "folder").mkdir()
    (tmp / "latin1.yaml").write_bytes("seed: 1 # caf\xe9\n".encode("latin-1"))
    (tmp / "broken.yaml").write_text("gan: [1, 2\n", encoding="utf-8")
    for name, pointer in (("run_list", [1, 2]), ("run_escape", {"checkpoint": "../../../../etc"})):
        (tmp / name).mkdir()
        (tmp / name / "best.json").write_text(json.dumps(pointer), encoding="utf-8")


def _run_copy(tiny_run: tuple[Path, Path], target: Path, broken_line: int | None = 2) -> Path:
    """A copy of the tiny run, with line ``broken_line`` of its log.jsonl cut in half."""
    shutil.copytree(tiny_run[1], target)
    if broken_line is not None:
        log = target / "log.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines()
        lines[broken_line - 1] = lines[broken_line - 1][:20]
        log.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return target


def _place(arg: str, places: dict[str, str]) -> str:
    for name, value in places.items():
        arg = arg.replace(f"{{{name}}}", value)
    return arg


def _exit_status(argv: list[str]) -> int:
    """main's return value, or the status of the SystemExit of an argument error."""
    try:
        return main(argv)
    except SystemExit as exit:
        return int(exit.code)


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "status", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line_error(
    argv: list[str],
    status: int,
    expected: str,
    tiny_run: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _prepare(tmp_path, tiny_run)
    if any("{run}" in arg for arg in argv):
        _run_copy(tiny_run, tmp_path / "run")
    if any("{clean}" in arg for arg in argv):
        _run_copy(tiny_run, tmp_path / "clean", broken_line=None)
    before = sorted(tmp_path.rglob("*"))
    places = {
        "data": str(tiny_run[0]),
        "tmp": str(tmp_path),
        "run": str(tmp_path / "run"),
        "clean": str(tmp_path / "clean"),
    }
    assert _exit_status([_place(arg, places) for arg in argv]) == status
    line = _one_line(capsys.readouterr().err)
    assert expected in line
    assert line.startswith(f"sagegan {argv[0]}: error: ")
    assert sorted(tmp_path.rglob("*")) == before, "partial output left behind"


def test_one_line_from_the_real_process(tiny_run: tuple[Path, Path], tmp_path: Path) -> None:
    """The console script's own stderr (its logging included) holds the error line only."""
    command = [sys.executable, "-m", "sagegan", "train", str(tiny_run[0])]
    command += ["--out", str(tmp_path / "new"), "--set", "pretrain.lr=-0.1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "pretrain.lr must be a positive finite number, got -0.1" in _one_line(done.stderr)
    assert not (tmp_path / "new").exists()


def _tear_last_line(log: Path) -> int:
    """Append half a record to ``log`` as a run killed mid-append leaves it; its line number."""
    lines = log.read_text(encoding="utf-8").splitlines()
    with open(log, "a", encoding="utf-8") as handle:
        handle.write('{"epoch": 2, "losses": {"se')
    return len(lines) + 1


def test_torn_last_line_is_dropped_on_resume_and_report(
    tiny_run: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = _run_copy(tiny_run, tmp_path / "run", broken_line=None)
    log = run / "log.jsonl"
    expected = read_log(log)
    torn = _tear_last_line(log)
    with caplog.at_level(logging.WARNING, logger="sagegan"):
        assert main(["report", str(run), "--out", str(tmp_path / "report.html")]) == 0
    assert f"{log}: dropped the torn last line {torn}" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sagegan"):
        assert main(["train", str(tiny_run[0]), "--out", str(run), "--resume"]) == 0
    assert f"{log}: dropped the torn last line {torn}" in caplog.text
    text = log.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert [json.loads(line) for line in text.splitlines()] == expected


def test_run_log_appends_on_a_fresh_line_after_a_torn_tail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = {"stage": "pretrain", "epoch": 0, "val": {"dice": 0.5}}
    (tmp_path / "log.jsonl").write_text(json.dumps(first) + "\n" + '{"stage": "pre')
    with caplog.at_level(logging.WARNING, logger="sagegan"):
        log = RunLog(tmp_path)
    assert "line 2" in caplog.text
    second = {"stage": "pretrain", "epoch": 1, "val": {"dice": 0.6}}
    log.write(second)
    caplog.clear()
    assert read_log(log.path) == [first, second]
    assert "torn" not in caplog.text
    # a complete last record without its newline is kept, and the next one goes on a new line
    log.path.write_text(json.dumps(first))
    RunLog(tmp_path).write(second)
    assert read_log(log.path) == [first, second]


def test_split_leaves_no_temporary_file_when_writing_fails(
    tiny_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = tmp_path / "not_a_folder"
    parent.write_text("a file where the split's folder should be")
    out = parent / "split.json"
    assert main(["split", str(tiny_run[0]), "--out", str(out)]) == 2
    assert str(out) in _one_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


def test_resume_with_other_data_is_refused(tiny_run: tuple[Path, Path], tmp_path: Path, capsys):
    data, _ = tiny_run
    run = _run_copy(tiny_run, tmp_path / "run", broken_line=None)
    other = tmp_path / "other"
    shutil.copytree(data, other)
    assert main(["train", str(other), "--out", str(run), "--resume"]) == 0  # same files, moved
    victim = sorted((other / "masks").iterdir())[0]
    victim.write_bytes(victim.read_bytes() + b"\0")  # one mask changed
    capsys.readouterr()
    assert main(["train", str(other), "--out", str(run), "--resume"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "not the data this run trained on" in line and str(other) in line


def test_resume_of_an_empty_folder_names_it(tiny_run: tuple[Path, Path], tmp_path: Path, capsys):
    (tmp_path / "empty").mkdir()
    argv = ["train", str(tiny_run[0]), "--out", str(tmp_path / "empty"), "--resume"]
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert "empty: nothing to resume (no config.yaml)" in line
    assert "config_from_cli" not in line


def test_the_reliability_table_lists_every_case() -> None:
    table = (Path(__file__).parents[1] / "docs" / "reliability.md").read_text(encoding="utf-8")
    missing = [name for name, *_ in CASES if f"| {name} |" not in table]
    assert not missing, f"docs/reliability.md lacks {missing}"


def _crash(args):
    raise KeyError("stride")


def test_unexpected_error_is_one_line_unless_debugging(
    tiny_run: tuple[Path, Path], tmp_path: Path, capsys, monkeypatch
) -> None:
    """The top-level guard: a bug ends in one line naming the verb, the exception and --debug;
    with --debug (or SAGEGAN_DEBUG=1, as this suite runs) the traceback comes through."""
    import sagegan.commands.check as check_command

    monkeypatch.setattr(check_command, "run", _crash)
    monkeypatch.delenv("SAGEGAN_DEBUG", raising=False)
    assert main(["check", str(tiny_run[0])]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("sagegan check: error: unexpected KeyError: 'stride'")
    assert "--debug" in line
    with pytest.raises(KeyError):
        main(["check", str(tiny_run[0]), "--debug"])
    monkeypatch.setenv("SAGEGAN_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["check", str(tiny_run[0])])


def test_system_errors_name_the_file_and_reason(monkeypatch, capsys, tiny_run) -> None:
    import sagegan.commands.check as check_command

    def full_disk(args):
        raise OSError(28, "No space left on device", "/data/out/mask.png")

    monkeypatch.setattr(check_command, "run", full_disk)
    monkeypatch.delenv("SAGEGAN_DEBUG", raising=False)
    assert main(["check", str(tiny_run[0])]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == "sagegan check: error: /data/out/mask.png: No space left on device"


def _data_with_one_corrupt_image(tiny_run: tuple[Path, Path], target: Path, part: str) -> Path:
    """A copy of the tiny run's data whose first ``part`` image (of the run's split) is garbage."""
    data = shutil.copytree(tiny_run[0], target)
    split = json.loads((tiny_run[1] / "split.json").read_text(encoding="utf-8"))
    victim = next((data / "images").glob(f"{sorted(split[part])[0]}.*"))
    victim.write_bytes(b"not an image at all")
    return victim


def test_evaluate_skips_an_unreadable_image_and_says_so(tiny_run, tmp_path, capsys) -> None:
    victim = _data_with_one_corrupt_image(tiny_run, tmp_path / "data", "test")
    out = tmp_path / "scores"
    argv = ["evaluate", str(tmp_path / "data"), "--model", str(tiny_run[1]), "--out", str(out)]
    assert main(argv) == 1  # some images failed
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and str(victim) in failed[0] and "Traceback" not in err
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    split = json.loads((tiny_run[1] / "split.json").read_text(encoding="utf-8"))
    assert [entry["image"] for entry in record["failed"]] == [str(victim)]
    assert sorted(record["stems"]) == sorted(split["test"])[1:]  # the others are all scored
    assert f"could not be evaluated and are not in these numbers: {victim.name}" in (
        out / "summary.md"
    ).read_text(encoding="utf-8")


def test_analyze_skips_an_unreadable_image_and_goes_on(tiny_run, tmp_path, capsys) -> None:
    victim = _data_with_one_corrupt_image(tiny_run, tmp_path / "data", "train")
    data = tmp_path / "data"
    argv = ["analyze", str(data / "images"), "--labels", str(data / "labels")]
    assert main([*argv, "--out", str(tmp_path / "analysis"), "--no-report"]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("failed: ")] == [
        f"failed: {victim}: cannot read metadata (not a TIFF file: header=b'not ')"
    ]
    images = (tmp_path / "analysis" / "images.csv").read_text(encoding="utf-8").splitlines()
    assert len(images) == 1 + 8 - 1  # header, every other image
