"""``sagegan models``: the available networks with sizes and citations."""

from __future__ import annotations

import argparse

NAME = "models"
HELP = "list the available networks with sizes and citations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The verb takes no options."""


def run(args: argparse.Namespace) -> int:
    from sagegan.models import format_model_table

    print(format_model_table())
    return 0
