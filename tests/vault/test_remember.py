"""Remember-unlock through the OS keyring, with an in-memory keyring backend standing in for the OS one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from engine.errors import UserError
from engine.vault import FLOOR, Vault, remember


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
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_remembered_passphrase_unlocks_and_forget_removes_it(enclave_home: Path, memory_keyring: MemoryKeyring) -> None:
    vault, _ = Vault.init(enclave_home, "a long passphrase here", kdf=FLOOR)
    vault.close()
    assert remember.recall(enclave_home) is None  # off by default
    remember.remember(enclave_home, "a long passphrase here")
    assert "a long passphrase here" not in "".join(
        p.read_bytes().decode("latin-1") for p in enclave_home.rglob("*") if p.is_file()
    )
    with Vault.unlock(enclave_home, remember.recall(enclave_home) or "") as reopened:
        assert not reopened.is_locked
    remember.forget(enclave_home)
    assert remember.recall(enclave_home) is None and memory_keyring.secrets == {}


def test_no_os_keyring_is_a_clear_message(enclave_home: Path) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert not remember.available()
        with pytest.raises(UserError, match="no OS keyring"):
            remember.remember(enclave_home, "x")
        assert remember.recall(enclave_home) is None
    finally:
        keyring.set_keyring(previous)
