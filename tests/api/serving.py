"""A real `enclave serve` subprocess on a free loopback port, for tests that attack the served endpoint."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault
from tests.api.conftest import PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]
SERVE = "import sys; from engine.cli import main; sys.exit(main())"


@dataclass
class Served:
    """A running `enclave serve` process."""

    process: subprocess.Popen[str]
    port: int
    key: str

    @property
    def url(self) -> str:
        """Base URL (no /v1)."""
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_home(home: Path, tiny_gguf: Path) -> str:
    """A vault (floor KDF) with the tiny model as default and one API key in `home`; returns the key."""
    vault = Vault.init(home, PASSPHRASE, kdf=FLOOR)[0] if not Vault.exists(home) else Vault.unlock(home, PASSPHRASE)
    with vault:
        _, secret = vault.api_keys.create(f"k{time.monotonic_ns()}")
    registry = ModelRegistry()
    if not any(r.name == "tiny" for r in registry.list()):
        registry.import_file(tiny_gguf, "tiny")
        registry.set_default("tiny")
    return secret


def wait_until_healthy(process: subprocess.Popen[str], port: int, timeout_s: float = 60) -> None:
    """Return once `enclave serve` on `port` answers /health; its stderr if it exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read() if process.stderr else "serve exited")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


@contextlib.contextmanager
def serve(home: Path, key: str, *args: str, start_timeout: float = 60) -> Iterator[Served]:
    """Run `enclave serve --port P ARGS` over `home` until the block ends (SIGTERM, then SIGKILL)."""
    port = free_port()
    env = {**os.environ, "ENCLAVE_HOME": str(home), "ENCLAVE_PASSPHRASE": PASSPHRASE, "ENCLAVE_NO_DEMO": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--port", str(port), *args],
        env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        wait_until_healthy(process, port, start_timeout)
        yield Served(process, port, key)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()
