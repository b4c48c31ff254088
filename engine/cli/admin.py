"""Key and pairing commands run where the vault is: in this process, or in the server that holds it.

A headless appliance's vault is held by its running `enclave serve`; rather than "in use by PID …",
the command then goes over the server's admin channel (engine.control), with the same passphrase.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.passphrase import read_passphrase
from engine.control import client, ops
from engine.handle import COMMAND_LINE, Engine
from engine.paths import enclave_home
from engine.vault.errors import VaultInUse


def run_admin(args: argparse.Namespace, op: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run operation `op` as the command line: on the vault here, or through the server holding it."""
    home = enclave_home()
    asked: list[str] = []

    def passphrase() -> str:  # asked once, and only when a vault exists
        if not asked:
            asked.append(read_passphrase(args))
        return asked[0]

    try:
        engine = Engine.open(home, actor=COMMAND_LINE, passphrase=passphrase, demo_model=False)
    except VaultInUse as busy:
        try:
            return client.call(home, op, payload, passphrase())
        except client.ChannelUnavailable:
            raise busy from None  # no server answers there (another command holds it, or Windows)
    with engine:
        return ops.run(engine, op, payload)
