"""How `enclave … list` commands print: JSON for scripts, a hint on stderr when there is nothing, else an
aligned table (one place for what keys, pair, upstreams and tools each wrote again)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    """A table column: its title, its width (0: the last column, not padded) and its alignment."""

    title: str
    width: int = 0
    right: bool = False

    def cell(self, value: object) -> str:
        """`value` padded to the column's width."""
        text = str(value)
        if not self.width:
            return text
        return text.rjust(self.width) if self.right else text.ljust(self.width)


def add_list_command(
    actions: Any, common: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int], help_text: str
) -> argparse.ArgumentParser:
    """The `list` action of a command group, with its `--json` flag."""
    listing: argparse.ArgumentParser = actions.add_parser("list", parents=[common], help=help_text)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=handler)
    return listing


def listed(args: argparse.Namespace, items: Callable[[], list[Any]], count: int, empty: str) -> bool:
    """Print the JSON of `items()` when `--json`, or the `empty` hint (stderr) when `count` is 0; True when
    that was all there was to print (the caller prints its table otherwise)."""
    if getattr(args, "json", False):
        print(json.dumps(items(), indent=2))
        return True
    if not count:
        print(empty, file=sys.stderr)
        return True
    return False


def print_table(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    """A header line of the columns' titles, then one line a row, cells one space apart."""
    print(" ".join(column.cell(column.title) for column in columns).rstrip())
    for row in rows:
        print(" ".join(column.cell(value) for column, value in zip(columns, row, strict=True)).rstrip())
