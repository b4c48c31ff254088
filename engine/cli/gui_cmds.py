"""`enclave gui [--screenshot PATH --view VIEW]`: start the desktop app (imported lazily: the engine
itself never imports Qt; this command only hands over to the `app` package)."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from engine.errors import UserError

VIEWS = ("chat", "models", "server", "privacy", "training", "documents")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `gui` command."""
    p = subparsers.add_parser("gui", parents=[common], help="open the desktop app (the default command)")
    p.add_argument("--screenshot", type=Path, metavar="PATH", help="render a view offscreen to PNG and exit")
    p.add_argument("--view", choices=VIEWS, default="chat")
    p.set_defaults(handler=cmd_gui)


def cmd_gui(args: argparse.Namespace) -> int:
    """Check the system's libraries and fonts, then hand over to the desktop app."""
    # Before Qt is imported: its platform plugin aborts the process on a missing library, naming the wrong one.
    check = importlib.import_module("app.system_check")
    gaps = check.missing()
    if gaps:
        raise UserError(check.describe(gaps))
    app_main = importlib.import_module("app.main")
    return int(app_main.run(args))
