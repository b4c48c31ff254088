"""A real appliance (`enclave serve --tls auto` in a subprocess, its own data folder, the tiny model)
and a desktop data folder beside it, each with its own vault; the CLI runs in-process against either.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.cli import main
from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault

PASSPHRASE = "correct horse battery staple"
SERVE = "import sys; from engine.cli import main; sys.exit(main())"
ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def at(home: Path) -> Iterator[None]:
    """Run in-process CLI calls against `home` (ENCLAVE_HOME), the passphrase in the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENCLAVE_HOME", str(home))
        mp.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
        mp.setenv("ENCLAVE_NO_DEMO", "1")
        yield


def cli(home: Path, *argv: str, capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, str, str]:
    """`enclave ARGV` in-process against `home`: (exit code, stdout, stderr)."""
    with at(home):
        code = main(list(argv))
    if capsys is None:
        return code, "", ""
    out, err = capsys.readouterr()
    return code, out, err


def make_home(home: Path, model: Path | None) -> Path:
    """A data folder with a vault (floor KDF) and, if given, `model` imported as 'tiny'."""
    Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
    if model is not None:
        with at(home):
            ModelRegistry().import_file(model, "tiny")
    return home


@dataclass
class Appliance:
    """`enclave serve --tls auto` over its own data folder, started and stopped by the tests."""

    home: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    log: str = ""
    codes: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The base URL its pairing codes name."""
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> Appliance:
        """Start serving and wait until the port takes TLS connections."""
        env = {**os.environ, "ENCLAVE_HOME": str(self.home), "ENCLAVE_PASSPHRASE": PASSPHRASE,
               "ENCLAVE_NO_DEMO": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--tls", "auto", "--port", str(self.port)],
            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.process.stderr.read() if self.process.stderr else ''}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM and wait (the port refuses connections afterwards, the vault is free)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
            self.log += self.process.stderr.read() if self.process.stderr else ""
        self.process = None

    def pair_ahead(self, *names: str) -> None:
        """Pair these devices now (before `start`: saves a restart per test); `pair(name)` returns their codes."""
        for name in names:
            self.codes[name] = self.pair(name, None)

    def pair(self, name: str, capsys: pytest.CaptureFixture[str] | None, *extra: str) -> str:
        """`enclave pair create` on the appliance (while it serves: over its admin channel); the code."""
        if name in self.codes and not extra:
            return self.codes.pop(name)  # one-time: a second call pairs again
        argv = ["pair", "create", "--name", name, "--url", self.url, "--no-qr", *extra]
        if capsys is None:
            out_buffer = io.StringIO()
            with contextlib.redirect_stdout(out_buffer):
                code, _, err = cli(self.home, *argv)
            out = out_buffer.getvalue()
        else:
            code, out, err = cli(self.home, *argv, capsys=capsys)
        assert code == 0, err
        return out.strip()

    def swap_certificate(self) -> None:
        """Replace the TLS certificate (as an impostor, or a careless reinstall, would); `restore` undoes it."""
        tls = self.home / "tls"
        shutil.move(tls, self.home / "tls.original")

    def restore_certificate(self) -> None:
        """Put the original certificate back."""
        shutil.rmtree(self.home / "tls", ignore_errors=True)
        shutil.move(self.home / "tls.original", self.home / "tls")


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> Iterator[Appliance]:
    """A running appliance for the module (its own data folder, the tiny model)."""
    home = make_home(tmp_path_factory.mktemp("appliance"), tiny_gguf)
    server = Appliance(home)
    server.pair_ahead("alice-laptop", "bob-laptop", "carol-laptop", "dave-laptop", "erin-laptop", "frank-laptop")
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def desktop(tmp_path: Path) -> Path:
    """A desktop data folder with its own vault and no model of its own (add one where a test needs it)."""
    return make_home(tmp_path / "desktop", None)
