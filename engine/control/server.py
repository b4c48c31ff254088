"""The server's end of the admin channel: a Unix socket in the data folder, owner-only.

Each connection carries one request: `{"v": 1, "op": "pair.revoke", "args": {...}, "passphrase": "..."}`.
The peer must run as the server's own user (or root), read from the kernel (SO_PEERCRED), and know the
vault's passphrase, as the command would need to open the vault itself. The operation then runs on the
vault's own thread, between two API requests, on a view of the server's engine acting as `cli`; the
audit log names the operation, the peer's uid and pid, and the outcome. A revoked key is refused from
the very next request: keys are looked up in the vault on every request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import threading
from collections.abc import Callable
from typing import Any

from engine.control import ops, socket_path, wire
from engine.errors import EnclaveError, UserError
from engine.handle import COMMAND_LINE, Engine
from engine.vault.errors import WrongPassphrase

log = logging.getLogger("enclave.control")

READ_TIMEOUT_S = 5.0  # for the request to arrive once connected
OPERATION_TIMEOUT_S = 60.0  # waiting for the vault's thread (a long purge may be ahead of us)
MAX_CLIENTS = 4  # connections served at once; more get "busy" at once
ACCEPT_POLL_S = 0.5


class ControlServer:
    """Listens on `<data folder>/admin.sock` while `enclave serve` runs; `start()`, then `stop()`."""

    def __init__(self, engine: Engine, on_pairing: Callable[[str], None] | None = None) -> None:
        """`on_pairing(url)` hears the URL of each pairing created here (the server then answers to its host)."""
        self.engine = engine
        self._on_pairing = on_pairing
        self.path = socket_path(engine.home)
        self._cli = engine.acting_as(COMMAND_LINE)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._argon = threading.Lock()  # one passphrase check at a time: each may take 100s of MiB

    def start(self) -> bool:
        """Listen; False (and a log line) where the platform has no channel or the socket cannot be made."""
        if not wire.supported():
            return False
        try:
            self._remove_stale()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            name, folder = wire.address(self.path)
            try:
                sock.bind(name)
            finally:
                if folder is not None:
                    os.close(folder)
            os.chmod(self.path, 0o600)  # the data folder is 0700 already; the socket is owner-only too
            sock.listen(8)
            sock.settimeout(ACCEPT_POLL_S)
        except OSError as exc:
            log.warning("admin channel not started (%s): stop the server to change keys or pairings", exc.strerror)
            return False
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="enclave-control", daemon=True)
        self._thread.start()
        return True

    def _remove_stale(self) -> None:
        # We hold the vault's lock, so no other server of this folder runs: a socket left here is stale.
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISSOCK(self.path.lstat().st_mode):
                raise OSError(0, f"{self.path.name} exists and is not a socket")
            self.path.unlink()

    def stop(self) -> None:
        """Stop listening and remove the socket."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(ACCEPT_POLL_S * 4)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            with contextlib.suppress(OSError):
                self.path.unlink()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                with conn:
                    self._answer(conn, {"ok": False, "error": "the server is busy with other commands; try again",
                                        "exit": 1})
                continue
            threading.Thread(target=self._serve, args=(conn,), name="enclave-control-conn", daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError, wire.WireError):
            wire.send(conn, message)

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(READ_TIMEOUT_S)
                self._answer(conn, self._handle(conn))
        finally:
            self._slots.release()

    def _handle(self, conn: socket.socket) -> dict[str, Any]:
        pid, uid, _ = wire.peer(conn)
        if uid not in (os.getuid(), 0):
            self.engine.audit("policy_violation", {"rule": "control_peer", "uid": uid, "pid": pid})
            return {"ok": False, "error": "only the server's own user may use its admin channel", "exit": 1}
        try:
            request = wire.receive(conn)
            op, args, passphrase = request.get("op"), request.get("args", {}), request.get("passphrase")
            if request.get("v") != wire.VERSION:
                raise UserError("this command speaks another version of the admin channel: update Enclave")
            if not isinstance(op, str) or not isinstance(args, dict) or not isinstance(passphrase, str):
                raise wire.WireError("a control request needs op (text), args (object) and passphrase (text)")
            self._verify(passphrase, uid, pid)
            result = self._run(op, args, uid, pid)
            if op == "pair.create" and self._on_pairing is not None:
                self._on_pairing(str(result["pairing"]["url"]))
            return {"ok": True, "result": result}
        except EnclaveError as exc:
            return {"ok": False, "error": str(exc), "exit": exc.exit_code}
        except Exception:
            log.exception("admin channel request failed")
            return {"ok": False, "error": "the server failed to run the command; see its log", "exit": 1}

    def _verify(self, passphrase: str, uid: int, pid: int) -> None:
        vault = self.engine.require_vault()
        with self._argon:
            try:
                vault.verify_passphrase(passphrase)
            except WrongPassphrase:
                self._cli.audit("unlock_failed", {"via": "admin_channel", "uid": uid, "pid": pid})
                raise

    def _run(self, op: str, args: dict[str, Any], uid: int, pid: int) -> dict[str, Any]:
        vault = self.engine.require_vault()

        def task() -> dict[str, Any]:
            # On the vault's thread: between two requests, so the next request sees the change.
            outcome = "failed"
            try:
                result = ops.run(self._cli, op, args)
                outcome = "ok"
                return result
            finally:
                self._cli.audit("admin_channel", {"op": op[:64], "uid": uid, "pid": pid, "outcome": outcome})

        try:
            return vault.schedule(task).result(OPERATION_TIMEOUT_S)
        except TimeoutError:
            raise UserError("the server did not get to the command in time; try again") from None
