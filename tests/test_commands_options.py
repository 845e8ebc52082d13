"""The options several verbs declare, each defined once in sagegan.commands.common."""

from __future__ import annotations

import pytest

from sagegan.cli import build_parser
from sagegan.commands.common import (
    DEVICE_HELP,
    PRESET_CHOICES,
    SEED_HELP,
    OneLineErrors,
    add_checkpoint_option,
    add_device_option,
    add_preset_option,
    add_seed_option,
    add_set_option,
    add_split_file_option,
)
from sagegan.train.config_presets import PRESETS


def _parser(*adders) -> OneLineErrors:
    parser = OneLineErrors(prog="verb")
    for add in adders:
        add(parser)
    return parser


def _option(verb: str, flag: str):
    (action,) = [a for a in _verbs()[verb]._actions if flag in a.option_strings]
    return action


def _verbs() -> dict:
    (action,) = [a for a in build_parser()._actions if a.dest == "verb"]
    return action.choices


def test_preset_choices_are_the_training_presets() -> None:
    assert sorted(PRESET_CHOICES) == sorted(PRESETS)
    assert _option("train", "--preset").choices == list(PRESET_CHOICES)
    assert _option("compare", "--preset").choices == list(PRESET_CHOICES)
    assert set(_option("demo", "--preset").choices) < set(PRESET_CHOICES)


def test_seed_option_parses_defaults_and_refuses_in_one_line(capsys) -> None:
    parser = _parser(add_seed_option)
    assert parser.parse_args([]).seed == 0
    assert parser.parse_args(["--seed", "7"]).seed == 7
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--seed", "-1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "verb: error: argument --seed: a seed must be in [0, 2**32), got -1 (see verb --help)"
    ]
    assert _parser(lambda p: add_seed_option(p, default=None)).parse_args([]).seed is None


@pytest.mark.parametrize("verb", ["demo", "generate", "split", "synth"])
def test_the_verbs_plain_seed_is_one_definition(verb: str) -> None:
    action = _option(verb, "--seed")
    assert (action.default, action.help) == (0, SEED_HELP)


def test_set_option_collects_every_override_in_order() -> None:
    parser = _parser(lambda p: add_set_option(p, help="override"))
    assert parser.parse_args([]).set == []
    assert parser.parse_args(["--set", "a=1", "--set", "b=2"]).set == ["a=1", "b=2"]


def test_preset_option_refuses_a_choice_outside_its_own(capsys) -> None:
    parser = _parser(lambda p: add_preset_option(p, help="h", choices=("cpu-small", "tiny")))
    assert parser.parse_args(["--preset", "tiny"]).preset == "tiny"
    with pytest.raises(SystemExit):
        parser.parse_args(["--preset", "paper"])
    assert "invalid choice: 'paper'" in capsys.readouterr().err


def test_device_checkpoint_and_split_options_keep_their_defaults() -> None:
    parser = _parser(
        add_device_option, add_checkpoint_option, lambda p: add_split_file_option(p, "s")
    )
    args = parser.parse_args([])
    assert (args.device, args.checkpoint, args.split) == ("auto", "best", None)
    assert _option("train", "--device").default is None
    for verb in ("train", "segment", "generate"):
        assert _option(verb, "--device").help == DEVICE_HELP
    assert _option("export", "--checkpoint").choices == _option("segment", "--checkpoint").choices
