"""Remember the unlock on this device through the OS keyring (desktop only, off by default).

The passphrase goes into the operating system's credential store (Keychain, Windows Credential Manager,
Secret Service), which the OS protects with the user's login. Whoever can log in as this user can then
open the vault without typing the passphrase: that is the trade-off a person opts into, so it is off
unless they switch it on, and `forget()` undoes it. The appliance never uses this: it unlocks from a
passphrase file or a systemd credential.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from engine.errors import UserError

SERVICE = "enclave-vault"


def _keyring() -> Any:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        raise UserError("remembering the unlock needs the `keyring` package (pip install 'enclave[keyring]')") from None
    if isinstance(keyring.get_keyring(), fail.Keyring):
        raise UserError("this system has no OS keyring to remember the unlock in")
    return keyring


def available() -> bool:
    """Whether an OS keyring can be used here."""
    try:
        _keyring()
    except UserError:
        return False
    return True


def remember(home: Path, passphrase: str) -> None:
    """Store the passphrase for the vault in `home` in the OS keyring."""
    _keyring().set_password(SERVICE, str(home.resolve()), passphrase)


def recall(home: Path) -> str | None:
    """The remembered passphrase for the vault in `home`, or None."""
    try:
        keyring = _keyring()
    except UserError:
        return None
    value = keyring.get_password(SERVICE, str(home.resolve()))
    return value if isinstance(value, str) and value else None


def forget(home: Path) -> None:
    """Remove the remembered passphrase (nothing happens if there was none)."""
    with contextlib.suppress(UserError, Exception):
        _keyring().delete_password(SERVICE, str(home.resolve()))
