"""Shared fixtures: an isolated ENCLAVE_HOME for every test and a generated tiny GGUF model."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from tests.tiny_gguf import write_tiny_gguf

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def enclave_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data folder; the real user folder is never touched."""
    home = tmp_path / "enclave-home"
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    # The bundled demo model is 250 MB: only the test that is about it assembles it.
    monkeypatch.setenv("ENCLAVE_NO_DEMO", "1")
    monkeypatch.delenv("ENCLAVE_PASSPHRASE", raising=False)
    return home


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny llama-architecture GGUF with a chat template (a few hundred KB)."""
    return write_tiny_gguf(tmp_path_factory.mktemp("models") / "tiny-test.gguf")


@pytest.fixture(scope="session")
def tiny_gguf_no_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny model without an embedded chat template (like the demo base model)."""
    return write_tiny_gguf(tmp_path_factory.mktemp("models") / "tiny-base.gguf", chat_template=None, seed=1)


@pytest.fixture()
def registry(enclave_home: Path):  # type: ignore[no-untyped-def]
    """A registry in the test's ENCLAVE_HOME."""
    from engine.models import ModelRegistry

    return ModelRegistry()


@pytest.fixture()
def tiny_model(registry, tiny_gguf: Path):  # type: ignore[no-untyped-def]
    """The tiny model imported as 'tiny' and made the default."""
    return registry.import_file(tiny_gguf, "tiny")


@pytest.fixture()
def runtime(registry) -> Iterator:  # type: ignore[no-untyped-def]
    """A runtime over the test registry, closed after the test."""
    from engine.runtime import Runtime

    rt = Runtime(registry)
    yield rt
    rt.close()


@contextlib.contextmanager
def module_enclave_home(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Iterator[Path]:
    """An ENCLAVE_HOME shared by a whole test module (a server thread started by the module reads it too)."""
    home = tmp_path_factory.mktemp(prefix)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENCLAVE_HOME", str(home))
        mp.setenv("ENCLAVE_NO_DEMO", "1")
        mp.delenv("ENCLAVE_PASSPHRASE", raising=False)
        yield home


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps secrets in a dict (the test machine has no Secret Service)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


@pytest.fixture()
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Route the OS keyring (engine.vault.remember) to a dict for the test."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
