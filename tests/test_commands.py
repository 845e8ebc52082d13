"""The command modules: one per verb, the parser built from them, and the prediction options the
command line gives."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sagegan.cli import build_parser
from sagegan.commands import COMMANDS
from sagegan.commands.common import prediction_options
from sagegan.errors import ConfigError
from sagegan.infer import PredictionOptions


def _verbs(parser) -> dict:
    (action,) = [a for a in parser._actions if a.dest == "verb"]
    return action.choices


def test_every_command_module_is_a_verb_with_its_handler() -> None:
    verbs = _verbs(build_parser())
    assert list(verbs) == [command.NAME for command in COMMANDS]
    for command in COMMANDS:
        sub = verbs[command.NAME]
        assert sub.get_default("func") is command.run and sub.description == command.HELP


@pytest.mark.parametrize("verb", ["segment", "evaluate", "analyze"])
def test_the_command_line_defaults_are_the_records(verb: str) -> None:
    args = build_parser().parse_args([verb, "x", "--model", "run", "--out", "out"])
    assert prediction_options(args) == PredictionOptions()


def test_each_prediction_option_reaches_the_record() -> None:
    argv = ["segment", "x.tif", "--out", "out", "--checkpoint", "last", "--tile", "256x384"]
    argv += ["--overlap", "0.5", "--tta", "--threshold", "0.3", "--min-size", "4"]
    argv += ["--seed-depth", "2", "--device", "cpu", "--backend", "eager"]
    argv += ["--crop-bottom", "40", "--pixel-size", "2.5nm"]
    argv += ["--min-size-fraction", "0.3", "--seed-depth-fraction", "0.25"]
    options = prediction_options(build_parser().parse_args(argv))
    assert options == PredictionOptions(
        which="last",
        tile=(256, 384),
        overlap=0.5,
        tta="flips",
        threshold=0.3,
        min_size_px=4,
        min_depth_px=2.0,
        min_size_fraction=0.3,
        min_depth_fraction=0.25,
        device="cpu",
        backend="eager",
        databar=40,
        pixel_size_nm=2.5,
    )
    args = build_parser().parse_args(["segment", "x.tif", "--out", "o", "--no-databar-crop"])
    assert prediction_options(args).databar == "none"


def test_a_bad_prediction_option_is_refused_when_read() -> None:
    args = build_parser().parse_args(["segment", "x.tif", "--out", "o", "--overlap", "1.5"])
    with pytest.raises(ConfigError, match=r"overlap must be in \[0, 1\), got 1.5"):
        prediction_options(args)
    args = build_parser().parse_args(["segment", "x", "--out", "o", "--seed-depth-fraction", "2"])
    with pytest.raises(ConfigError, match=r"min_depth_fraction must be in \[0, 1\], got 2"):
        prediction_options(args)


def test_parsing_imports_no_torch() -> None:
    code = "import sys, sagegan.cli; sagegan.cli.build_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
