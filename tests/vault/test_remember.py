"""Remember-unlock through the OS keyring, with an in-memory keyring backend standing in for the OS one."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest

from engine.errors import UserError
from engine.vault import FLOOR, Vault, remember
from tests.conftest import MemoryKeyring


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
