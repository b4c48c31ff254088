"""The offline guarantee, enforced: a process-wide hook that refuses any non-loopback network use.

Built on `sys.addaudithook`, which sees every socket connect, sendto, bind and name lookup in the
process, including those made inside libraries, before they happen. Loopback addresses and Unix
sockets stay allowed (the local endpoint, its tests, IPC). Hooks cannot be removed once added, so this
is for a whole process: the offline test installs it in a child, an appliance may install it at start.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""})
_WATCHED = frozenset(
    {
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }
)


class OutboundBlocked(PermissionError):
    """A network use that would leave the machine was refused."""


def is_local_host(host: object) -> bool:
    """True for None, loopback names and loopback or unspecified IP literals."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().strip("[]").split("%")[0].lower()
    if name in LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _target(event: str, args: tuple[Any, ...]) -> tuple[bool, str]:
    """(allowed, what) for one audited event."""
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1] if len(args) > 1 else None
        if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", object()) or address is None:
            return True, ""
        host = address[0] if isinstance(address, tuple) and address else address
        return is_local_host(host), f"{event} {address!r}"
    if event == "socket.getnameinfo":
        address = args[0]
        host = address[0] if isinstance(address, tuple) and address else address
        return is_local_host(host), f"{event} {address!r}"
    host = args[0] if args else None
    return is_local_host(host), f"{event} {host!r}"


_installed: list[Callable[[str], None]] = []
_lock = threading.Lock()


def install_guard(on_attempt: Callable[[str], None] | None = None) -> None:
    """Refuse (OutboundBlocked) every non-loopback network use in this process from now on."""

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in _WATCHED:
            return
        allowed, what = _target(event, args)
        if allowed:
            return
        for callback in list(_installed):
            callback(what)
        raise OutboundBlocked(f"outbound network use refused (Enclave works offline): {what}")

    with _lock:
        if on_attempt is not None:
            _installed.append(on_attempt)
        if getattr(sys, "_enclave_offline_guard", False):
            return
        sys.addaudithook(hook)
        sys._enclave_offline_guard = True  # type: ignore[attr-defined]
