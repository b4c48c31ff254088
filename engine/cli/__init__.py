"""`enclave …`: parse the command line, call the engine, print. No business logic lives here.

Each command group is a small module with `register(subparsers, common)`; `common` is a parent parser
carrying the options every command accepts (`--passphrase-file`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from engine import __version__
from engine.errors import EnclaveError


class Parser(argparse.ArgumentParser):
    """argparse with the house exit codes: a usage error is one line on stderr and exit 1, not argparse's 2.

    Sub-command parsers are made by `add_subparsers` with the parent's class, so every level behaves alike.
    """

    def error(self, message: str) -> NoReturn:
        """Print one line naming the command and the problem, then exit 1 (2 means tampering)."""
        self.exit(1, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full `enclave` parser with every command group registered."""
    from engine.cli import (
        chat_cmds,
        docs_cmds,
        gui_cmds,
        keys_cmds,
        models_cmds,
        pair_cmds,
        policy_cmds,
        serve_cmds,
        tools_cmds,
        training_cmds,
        upstreams_cmds,
        vault_cmds,
    )

    common = Parser(add_help=False)
    common.add_argument(
        "--passphrase-file",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="read the vault passphrase from this file (else $ENCLAVE_PASSPHRASE, else a prompt)",
    )
    parser = Parser(
        prog="enclave",
        description="Enclave: a private LLM workstation. Everything stays on this machine, encrypted.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"enclave {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups = (
        gui_cmds,
        models_cmds,
        chat_cmds,
        docs_cmds,
        vault_cmds,
        keys_cmds,
        serve_cmds,
        policy_cmds,
        upstreams_cmds,
        tools_cmds,
        pair_cmds,
        training_cmds,
    )
    for group in groups:
        group.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `enclave` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        # Bare `enclave` opens the desktop app, as the brief asks.
        args = parser.parse_args([*(argv or sys.argv[1:]), "gui"])
    try:
        return int(args.handler(args) or 0)
    except EnclaveError as exc:
        print(f"enclave: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("enclave: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
