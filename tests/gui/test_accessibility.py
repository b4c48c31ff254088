"""Accessibility: named controls in every dialog, a chat a screen reader reads as a list of messages,
keyboard navigation with a visible focus ring."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QWidget

from tests.gui.test_main import _unnamed_controls

# Qt's accessibility cache owns the interfaces it hands out: the Python wrappers must never be the
# last reference, or collecting them deletes an interface the cache still uses.
_KEEP: list[object] = []


def _interface(widget: QWidget):  # type: ignore[no-untyped-def]
    interface = QAccessible.queryAccessibleInterface(widget)
    _KEEP.append(interface)
    return interface


def test_every_dialog_control_has_an_accessible_name(qtbot, session, enclave_home: Path, registry) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.api_key import CreateKeyDialog, SecretDialog
    from app.dialogs.confirm import TypedConfirmDialog
    from app.dialogs.model_settings import ModelSettingsDialog
    from app.dialogs.passphrase import ChangePassphraseDialog
    from app.dialogs.unlock import RecoveryDialog, UnlockDialog
    from app.dialogs.wizard import FirstRunWizard

    dialogs: list[QWidget] = [
        UnlockDialog(enclave_home),
        RecoveryDialog(enclave_home),
        ChangePassphraseDialog(session.vault),
        CreateKeyDialog(session.engine.keys, ["tiny"]),
        SecretDialog("reports", "enc-secret"),
        TypedConfirmDialog("Erase", "Gone.", "ERASE", "Erase"),
        ModelSettingsDialog(registry, registry.get("tiny")),
        FirstRunWizard(enclave_home / "other", registry, prepare_demo=False),
    ]
    for dialog in dialogs:
        qtbot.addWidget(dialog)
        assert _unnamed_controls(dialog) == [], type(dialog).__name__


def test_chat_reads_as_a_list_of_messages_with_author_and_time(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    conversation = session.vault.conversations.create("Plans", model="tiny")
    session.vault.conversations.add_message(conversation.id, "user", "When is the meeting?")
    session.vault.conversations.add_message(conversation.id, "assistant", "On Thursday.",
                                            metadata={"ai_generated": True, "model": "tiny"})
    window.chat.reload()
    bubbles = window.chat.view.widgets()
    assert len(bubbles) == 2
    column = _interface(bubbles[0].parentWidget())
    assert column.role() == QAccessible.Role.List
    question, answer = (_interface(b) for b in bubbles)
    assert question.role() == answer.role() == QAccessible.Role.ListItem
    name = question.text(QAccessible.Text.Name)
    assert name.startswith("You, ") and name.endswith(": When is the meeting?")
    assert bubbles[0].time.text() in name.replace(",", "")  or bubbles[0].time.text()[:2] in name
    assert answer.text(QAccessible.Text.Name).startswith("tiny, AI-generated, ")
    # Each message can be reached with Tab, so a screen reader user can step through them.
    assert all(b.focusPolicy() & Qt.FocusPolicy.TabFocus for b in bubbles)


def test_tab_moves_through_the_chat_with_a_visible_ring(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from app import focus

    window.activateWindow()
    chat = window.chat
    chat.sidebar.new_button.setFocus(Qt.FocusReason.TabFocusReason)
    ring = focus.install(QApplication.instance())
    reached = []
    for _ in range(40):
        widget = QApplication.focusWidget()
        reached.append(widget)
        assert ring.widget() is widget  # the ring is drawn around whatever has the focus
        qtbot.keyClick(widget, Qt.Key.Key_Tab)
    for wanted in (chat.sidebar.search, chat.sidebar.list, chat.model_picker, chat.settings_button, chat.composer,
                   chat.send_button):
        assert wanted in reached, wanted.accessibleName()
