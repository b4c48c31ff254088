"""Real upstreams for the tests: llama-cpp-python's bundled OpenAI server over the tiny model, on loopback.

Each upstream is a `python -m llama_cpp.server` subprocess with its own API key; Enclave is a real
ApiServer (uvicorn on a free port) with its own vault, shared by the tests of a module like tests/api.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import openai
import pytest

from engine.vault import RequestLogEntry
from engine.vault.records import PENDING_STATUS
from tests.api.conftest import Api, start_api, stop_api
from tests.conftest import module_enclave_home

if TYPE_CHECKING:
    from tests.upstreams.fake import FakeUpstream

READY_TIMEOUT_S = 60.0


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    """One llama_cpp.server subprocess serving the tiny model as `alias`."""

    model: Path
    alias: str
    api_key: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its OpenAI base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaServer:
        """Start it and wait until it lists its model."""
        self.port = self.port or free_port()
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self.port), "--api_key", self.api_key, "--n_ctx", "512",
            "--n_threads", "1", "--embedding", "true", "--verbose", "false",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT_S
        headers = {"Authorization": f"Bearer {self.api_key}"}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/models", headers=headers, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("llama_cpp.server did not start in time")

    def stop(self) -> None:
        """Stop it (and wait, so its port refuses connections afterwards)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The module's ENCLAVE_HOME (the server thread reads it too)."""
    with module_enclave_home(tmp_path_factory, "upstreams-home") as home:
        yield home


@pytest.fixture(autouse=True)
def enclave_home(module_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Overrides the root fixture: the tests of a module share its home and its server."""
    monkeypatch.setenv("ENCLAVE_HOME", str(module_home))
    return module_home


@pytest.fixture(scope="module")
def upstream_a(tiny_gguf: Path) -> Iterator[LlamaServer]:
    """A running upstream serving the tiny model as `tiny-up`, behind its own API key."""
    server = LlamaServer(tiny_gguf, "tiny-up", f"sk-upstream-a-{secrets.token_hex(16)}").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def enclave(module_home: Path, tiny_gguf: Path) -> Iterator[Api]:
    """Enclave serving the local tiny model (as `tiny`), with no upstream registered yet."""
    running = start_api(module_home, tiny_gguf)
    yield running
    stop_api(running)


def client(api: Api, key: str | None = None) -> openai.OpenAI:
    """The official OpenAI client pointed at Enclave (no retries: each request counts once)."""
    return openai.OpenAI(base_url=api.base, api_key=key or api.key, max_retries=0, timeout=60)


def log_count(api: Api, quiet_s: float = 0.2) -> int:
    """Rows in the request log once it has stopped growing. A row is written just after its reply, so
    right after another test's request a plain count can miss that row, which `logged_after` would then
    take for the next request's."""
    count = api.vault.request_log.count()
    while True:
        time.sleep(quiet_s)
        now = api.vault.request_log.count()
        if now == count:
            return count
        count = now


def logged_after(api: Api, count: int, timeout_s: float = 10.0) -> RequestLogEntry:
    """The newest request-log entry once there are more than `count` and it is complete (a row is written
    pending before the reply starts, and completed after it)."""
    deadline = time.monotonic() + timeout_s
    while api.vault.request_log.count() <= count or api.vault.request_log.recent(1)[0].status == PENDING_STATUS:
        if time.monotonic() > deadline:
            raise AssertionError("the request was not logged, or its row was never completed")
        time.sleep(0.02)
    return api.vault.request_log.recent(1)[0]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    """The scripted upstream (plain HTTP on loopback; it calls the first tool it is offered)."""
    from tests.upstreams.fake import FakeUpstream  # here: fake.py takes free_port from this module

    server = FakeUpstream(f"sk-fake-{secrets.token_hex(16)}").start()
    yield server
    server.stop()
