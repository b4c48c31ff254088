"""The window as a whole: views and shortcuts, accessible names, geometry, and `enclave gui --screenshot`."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from tests.gui.conftest import PASSPHRASE

CONTROLS = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QPlainTextEdit, QAbstractItemView)


def _unnamed_controls(root: QWidget) -> list[str]:
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS):
            continue
        parent = widget.parentWidget()
        # Parts Qt builds inside a control (a spin box's line edit, a combo's popup list, a tab bar's
        # scroll buttons, a scroll area's bars) take their name from that control.
        if parent is not None and (isinstance(parent, CONTROLS) or parent.inherits("QComboBoxPrivateContainer")
                                   or parent.inherits("QTabBar") or parent.inherits("QAbstractScrollArea")):
            continue
        if widget.inherits("QTabBar") or widget.objectName().startswith("qt_"):
            continue
        if not widget.accessibleName():
            missing.append(f"{type(widget).__name__} {widget.objectName()!r} {getattr(widget, 'text', lambda: '')()!r}")
    return missing


def test_every_control_has_an_accessible_name(window) -> None:  # type: ignore[no-untyped-def]
    for name in ("chat", "models", "server", "privacy", "documents"):
        window.show_view(name)
    window.chat.settings_button.setChecked(True)
    assert _unnamed_controls(window) == []


def test_view_shortcuts(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    window.activateWindow()
    for number, name in enumerate(("chat", "models", "server", "privacy", "training", "documents"), start=1):
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_0 + number), Qt.KeyboardModifier.ControlModifier)
        assert window.current_view() == name
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.current_view() == "chat" and window.chat.sidebar.search.hasFocus()


def test_geometry_is_remembered_in_the_vault(qtbot, session) -> None:  # type: ignore[no-untyped-def]
    from app.window import GEOMETRY_KEY, MainWindow

    first = MainWindow(session, start_background=False)
    qtbot.addWidget(first)
    first.show()
    first.resize(first.minimumSizeHint().width(), 500)
    first.close()
    assert isinstance(session.vault.settings.get(GEOMETRY_KEY), str)
    second = MainWindow(session, start_background=False)
    qtbot.addWidget(second)
    assert second.height() == 500  # (the offscreen screen is narrower than the window's minimum width)


@pytest.mark.parametrize("view", ["chat", "models", "server", "privacy", "documents"])
def test_screenshot_command(qtbot, session, tmp_path: Path, monkeypatch, view: str) -> None:  # type: ignore[no-untyped-def]
    from app.main import run

    conversation = session.vault.conversations.create("Screenshot chat", model="tiny")
    session.vault.conversations.add_message(conversation.id, "user", "Hello")
    session.vault.close()  # run() opens the vault itself, as `enclave gui` does
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    target = tmp_path / f"{view}.png"
    assert run(argparse.Namespace(screenshot=target, view=view)) == 0
    image = QImage(str(target))
    assert (image.width(), image.height()) == (1280, 800)


def test_screenshot_needs_the_passphrase(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.main import run
    from engine.errors import UserError

    session.vault.close()
    with pytest.raises(UserError):
        run(argparse.Namespace(screenshot=tmp_path / "x.png", view="chat"))
