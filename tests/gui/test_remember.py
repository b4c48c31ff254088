"""Remember the unlock on this device: off by default, opt-in in the unlock dialog, used at start,
forgotten from Privacy (with an in-memory keyring standing in for the OS one)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from app.dialogs.unlock import UnlockDialog
from engine.vault import remember
from tests.gui.conftest import PASSPHRASE


def test_unlock_dialog_remembers_only_when_asked(qtbot, enclave_home: Path, vault, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    vault.close()
    dialog = UnlockDialog(enclave_home)
    qtbot.addWidget(dialog)
    assert dialog.remember.isEnabled() and not dialog.remember.isChecked()  # off by default
    dialog.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(dialog.unlocked, timeout=10_000):
        dialog.try_unlock()
    assert remember.recall(enclave_home) is None
    dialog.vault.close()

    dialog = UnlockDialog(enclave_home)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.passphrase.setText(PASSPHRASE)
    qtbot.keyClick(dialog.remember, Qt.Key.Key_Space)  # by keyboard, as a screen reader user would
    assert dialog.remember.isChecked()
    with qtbot.waitSignal(dialog.unlocked, timeout=10_000):
        dialog.try_unlock()
    assert remember.recall(enclave_home) == PASSPHRASE
    dialog.vault.close()


def test_wrong_passphrase_is_never_remembered(qtbot, enclave_home: Path, vault, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    vault.close()
    dialog = UnlockDialog(enclave_home)
    qtbot.addWidget(dialog)
    dialog.remember.setChecked(True)
    dialog.passphrase.setText("not it")
    with qtbot.waitSignal(dialog.attempt_failed, timeout=10_000):
        dialog.try_unlock()
    assert memory_keyring.secrets == {}


def test_without_a_keyring_the_choice_is_disabled_and_says_why(qtbot, enclave_home: Path, no_keyring) -> None:  # type: ignore[no-untyped-def]
    dialog = UnlockDialog(enclave_home)
    qtbot.addWidget(dialog)
    assert not dialog.remember.isEnabled() and "keyring" in dialog.remember.toolTip()
    dialog._busy(False)
    assert not dialog.remember.isEnabled()


def _no_dialog(*_args: object) -> int:
    raise AssertionError("the unlock dialog was shown")


def test_a_remembered_passphrase_unlocks_at_start(  # type: ignore[no-untyped-def]
    enclave_home: Path, registry, vault, memory_keyring, monkeypatch
) -> None:
    from app.main import open_vault

    vault.close()
    remember.remember(enclave_home, PASSPHRASE)
    monkeypatch.setattr(UnlockDialog, "exec", _no_dialog)
    opened = open_vault(argparse.Namespace(), enclave_home, registry)
    assert opened is not None and not opened.is_locked
    assert [e.event for e in opened.audit.entries()][-1] == "unlock"  # audited like a typed unlock
    opened.close()


def test_a_stale_remembered_passphrase_is_forgotten_and_the_dialog_asks(  # type: ignore[no-untyped-def]
    enclave_home: Path, registry, vault, memory_keyring, monkeypatch
) -> None:
    from app.main import open_vault

    vault.close()
    remember.remember(enclave_home, "the old passphrase")
    shown: list[bool] = []
    monkeypatch.setattr(UnlockDialog, "exec", lambda self: shown.append(True) or QDialog.DialogCode.Rejected)
    assert open_vault(argparse.Namespace(), enclave_home, registry) is None
    assert shown == [True] and remember.recall(enclave_home) is None


def test_forget_this_device_in_privacy(qtbot, window, session, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    privacy = window.privacy
    assert not privacy.forget_device.isEnabled()
    remember.remember(session.home, PASSPHRASE)
    privacy.show_device_state()
    assert privacy.forget_device.isEnabled()
    qtbot.mouseClick(privacy.forget_device, Qt.MouseButton.LeftButton)
    assert remember.recall(session.home) is None and not privacy.forget_device.isEnabled()


@pytest.mark.usefixtures("memory_keyring")
def test_changing_the_passphrase_updates_the_remembered_one(qtbot, session) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.passphrase import ChangePassphraseDialog

    remember.remember(session.home, PASSPHRASE)
    dialog = ChangePassphraseDialog(session.vault, kdf=session.kdf, home=session.home)
    qtbot.addWidget(dialog)
    dialog.current.setText(PASSPHRASE)
    dialog.fields.first.setText("a whole new passphrase")
    dialog.fields.second.setText("a whole new passphrase")
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog._change()
    assert remember.recall(session.home) == "a whole new passphrase"
