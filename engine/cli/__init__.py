"""`enclave …`: parse the command line, call the engine, print. No business logic lives here.

Each command group is a small module with `register(subparsers, common)`; `common` is a parent parser
carrying the options every command accepts (`--passphrase-file`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine import __version__
from engine.errors import EnclaveError


def build_parser() -> argparse.ArgumentParser:
    """The full `enclave` parser with every command group registered."""
    from engine.cli import chat_cmds, gui_cmds, models_cmds

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--passphrase-file",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="read the vault passphrase from this file (else $ENCLAVE_PASSPHRASE, else a prompt)",
    )
    parser = argparse.ArgumentParser(
        prog="enclave",
        description="Enclave: a private LLM workstation. Everything stays on this machine, encrypted.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"enclave {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (gui_cmds, models_cmds, chat_cmds, *_optional_groups()):
        group.register(subparsers, common)
    return parser


def _optional_groups() -> list:  # type: ignore[type-arg]
    """Command groups of the other engine layers, registered when their module is present."""
    import importlib

    groups = []
    for name in ("vault_cmds", "keys_cmds", "serve_cmds", "policy_cmds", "upstreams_cmds"):
        try:
            groups.append(importlib.import_module(f"engine.cli.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"engine.cli.{name}":
                raise
    return groups


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
