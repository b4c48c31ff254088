"""The command line's end of the admin channel: send one operation to the running server, read its answer."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from engine.control import socket_path, wire
from engine.errors import EnclaveError, UserError

CONNECT_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 120.0  # the passphrase check (Argon2) and a wait for the vault's thread


class ChannelUnavailable(Exception):
    """No server listens on this data folder's admin socket (or the platform has none)."""


class ServerRefused(EnclaveError):
    """The server ran the command and it failed; the message and exit code are the server's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code if exit_code in (1, 2, 3) else 1


def call(home: Path, op: str, args: dict[str, Any], passphrase: str) -> dict[str, Any]:
    """Run `op` in the server of data folder `home`; its answer, or ServerRefused, or ChannelUnavailable."""
    path = socket_path(home)
    if not wire.supported() or not path.exists():
        raise ChannelUnavailable
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONNECT_TIMEOUT_S)
        name, folder = wire.address(path)
        try:
            sock.connect(name)
        except OSError:
            raise ChannelUnavailable from None  # a socket left by a server that crashed
        finally:
            if folder is not None:
                os.close(folder)
        _, uid, _ = wire.peer(sock)
        if uid not in (os.getuid(), 0):  # the passphrase goes only to a server run by this user (or root)
            raise UserError(f"the admin socket {path} is held by another user's process; nothing was sent")
        wire.send(sock, {"v": wire.VERSION, "op": op, "args": args, "passphrase": passphrase})
        sock.settimeout(ANSWER_TIMEOUT_S)
        answer = wire.receive(sock)
    if answer.get("ok") is True and isinstance(answer.get("result"), dict):
        result: dict[str, Any] = answer["result"]
        return result
    exit_code = answer.get("exit")
    raise ServerRefused(str(answer.get("error") or "the server refused the command")[:1000],
                        exit_code if isinstance(exit_code, int) else 1)
