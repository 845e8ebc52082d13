"""The `sagegan` verbs, one module each: ``NAME``, ``HELP``, ``add_arguments(parser)`` adding the
verb's options and ``run(args) -> int`` doing its work (the exit status). `sagegan.cli` builds the
parser from `COMMANDS`, in the order ``sagegan --help`` lists them, and dispatches."""

from __future__ import annotations

from sagegan.commands import (
    analyze,
    attention,
    check,
    compare,
    demo,
    ensemble,
    evaluate,
    export,
    generate,
    models,
    report,
    segment,
    split,
    synth,
    train,
)

COMMANDS = (
    demo,
    train,
    ensemble,
    segment,
    export,
    evaluate,
    compare,
    attention,
    analyze,
    report,
    generate,
    synth,
    check,
    split,
    models,
)

__all__ = ["COMMANDS"]
