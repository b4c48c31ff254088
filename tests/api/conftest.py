"""A real uvicorn server on a free loopback port, over the tiny model and a test vault (floor KDF).

One server per test module: the root conftest gives every test its own ENCLAVE_HOME, which a shared
server cannot follow, so here `enclave_home` is the module's home instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from engine.api import ApiServer, ApiSettings
from engine.handle import SERVER, Engine
from engine.models import ModelRegistry
from engine.runtime import Runtime
from engine.vault import FLOOR, Vault
from tests.conftest import module_enclave_home
from tests.tiny_gguf import write_tiny_gguf

PASSPHRASE = "correct horse battery staple"


@dataclass
class Api:
    """A running test server and what it serves."""

    server: ApiServer
    engine: Engine
    key: str  # a key without limits

    @property
    def vault(self) -> Vault:
        """The engine's vault."""
        assert self.engine.vault is not None
        return self.engine.vault

    @property
    def runtime(self) -> Runtime:
        """The engine's local runtime."""
        return self.engine.runtime

    @property
    def base(self) -> str:
        """The OpenAI base URL."""
        return f"{self.server.url}/v1"

    def client(self, key: str | None = None, **headers: str) -> httpx.Client:
        """An httpx client for this server (with the unlimited key unless told otherwise)."""
        auth = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.Client(base_url=self.server.url, headers={**auth, **headers}, timeout=30)


@pytest.fixture(scope="module")
def api_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The module's ENCLAVE_HOME, set for the whole module (the server thread reads it too)."""
    with module_enclave_home(tmp_path_factory, "api-home") as home:
        yield home


@pytest.fixture(autouse=True)
def enclave_home(api_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Overrides the root fixture: tests of a module share the module's home (and its server)."""
    monkeypatch.setenv("ENCLAVE_HOME", str(api_home))
    return api_home


@pytest.fixture(scope="module")
def slow_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A larger random model with a 4096-token context: long enough replies to interrupt."""
    path = tmp_path_factory.mktemp("models") / "slow-test.gguf"
    return write_tiny_gguf(path, context_length=4096, n_embd=256, n_layers=4, n_ff=512, n_heads=4, seed=2)


def start_api(home: Path, tiny_gguf: Path, settings: ApiSettings | None = None, *, max_queue: int = 64) -> Api:
    """Register the tiny model, create a vault with one key, start a server on a free port."""
    registry = ModelRegistry()
    if not any(r.name == "tiny" for r in registry.list()):
        registry.import_file(tiny_gguf, "tiny")
        registry.set_default("tiny")
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    _, secret = vault.api_keys.create("test")
    engine = Engine(Runtime(registry, max_queue=max_queue), vault, actor=SERVER, home=home)
    server = ApiServer(engine, host="127.0.0.1", port=0, settings=settings)
    server.start()
    return Api(server, engine, secret)


def stop_api(api: Api) -> None:
    """Stop the server, then the engine (backends, runtime, vault)."""
    api.server.stop()
    api.engine.close()


@pytest.fixture(scope="module")
def api(api_home: Path, tiny_gguf: Path) -> Iterator[Api]:
    """The module's server with default (locked-down) settings."""
    running = start_api(api_home, tiny_gguf)
    yield running
    stop_api(running)
