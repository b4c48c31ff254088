"""Where a command gets the vault passphrase: `--passphrase-file`, `$ENCLAVE_PASSPHRASE`, or a prompt."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.handle import Engine


def read_passphrase(args: argparse.Namespace, *, confirm: bool = False, prompt: str = "Vault passphrase: ") -> str:
    """Return the passphrase for this command, never echoing or logging it."""
    file_arg = getattr(args, "passphrase_file", None)
    if file_arg:
        try:
            text = Path(file_arg).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read passphrase file: {exc.strerror}") from None
        # A trailing newline from `echo … > file` is not part of the passphrase.
        passphrase = text.rstrip("\r\n")
    elif os.environ.get("ENCLAVE_PASSPHRASE"):
        passphrase = os.environ["ENCLAVE_PASSPHRASE"]
    elif sys.stdin.isatty():
        passphrase = getpass.getpass(prompt)
        if confirm and getpass.getpass("Repeat passphrase: ") != passphrase:
            raise UserError("the two passphrases differ; nothing was changed")
    else:
        raise UserError("no passphrase: set ENCLAVE_PASSPHRASE or pass --passphrase-file PATH")
    if not passphrase:
        raise UserError("the passphrase is empty")
    return passphrase


def open_engine(args: argparse.Namespace, *, vault_required: bool = True, demo_model: bool = False) -> Engine:
    """The engine of ENCLAVE_HOME acting as the command line, its vault unlocked with the usual passphrase."""
    from engine.handle import COMMAND_LINE, Engine

    return Engine.open(
        actor=COMMAND_LINE,
        passphrase=lambda: read_passphrase(args),
        vault_required=vault_required,
        demo_model=demo_model,
    )
