"""Messages on the control socket: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.

One request and one answer per connection. Sizes and waits are bounded on both ends, so a stuck or
hostile peer costs a thread for at most a few seconds; a malformed message gets a clear error.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
from pathlib import Path
from typing import Any

from engine.errors import UserError

MAX_MESSAGE = 64 * 1024  # an operation's arguments or answer (a key list) fit many times over
VERSION = 1
_LENGTH = struct.Struct(">I")
_SUN_PATH_MAX = 100  # sockaddr_un holds ~108 bytes; keep a margin


class WireError(UserError):
    """A control message that is too large, cut short, or not the JSON object expected."""


def supported() -> bool:
    """True where the channel works: AF_UNIX sockets and peer credentials (Linux)."""
    return hasattr(socket, "AF_UNIX") and hasattr(socket, "SO_PEERCRED") and sys.platform != "win32"


def address(path: Path) -> tuple[str, int | None]:
    """A name bind/connect accept for `path` (and a folder fd to close afterwards, if one was opened).

    A data folder deep in the file system can make the socket's path longer than sockaddr_un holds;
    then it is reached through /proc/self/fd/N of its opened folder, which is short and the same inode.
    """
    text = str(path)
    if len(text.encode()) <= _SUN_PATH_MAX:
        return text, None
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{folder}/{path.name}", folder


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    """Write one message."""
    data = json.dumps(message, separators=(",", ":")).encode()
    if len(data) > MAX_MESSAGE:
        raise WireError("the control message is too large")
    sock.sendall(_LENGTH.pack(len(data)) + data)


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        part = sock.recv(min(65536, size - len(data)))
        if not part:
            raise WireError("the control message was cut short")
        data += part
    return bytes(data)


def receive(sock: socket.socket) -> dict[str, Any]:
    """Read one message (the socket's timeout bounds the wait); WireError if it is malformed."""
    try:
        (size,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size))
        if size > MAX_MESSAGE:
            raise WireError(f"the control message is larger than {MAX_MESSAGE} bytes")
        value = json.loads(_exactly(sock, size))
    except TimeoutError:
        raise WireError("the control message did not arrive in time") from None
    except (ValueError, UnicodeDecodeError):
        raise WireError("the control message is not JSON") from None
    if not isinstance(value, dict):
        raise WireError("the control message is not a JSON object")
    return value


def peer(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, from the kernel (SO_PEERCRED)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return pid, uid, gid
