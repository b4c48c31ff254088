"""Parts the dialogs share, so they look and behave alike: a secret shown once (an API key, a pairing code:
monospaced, selectable, wrapped, with a Copy button), the models checklist of a key or a paired device, the
OK/Cancel row and the in-place error line."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets import CopyButton, named


class SecretBox(QWidget):
    """`label` shows the secret, `copy` copies exactly what it shows."""

    def __init__(self, text: str, name: str, copy_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = named(QLabel(text), name)
        self.label.setObjectName("secretBox")
        self.label.setFont(QFont("monospace"))
        self.label.setWordWrap(True)  # a long code wraps: the dialog never scrolls sideways
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy = CopyButton(self.label.text, copy_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.copy, 0, Qt.AlignmentFlag.AlignLeft)

    def set_text(self, text: str) -> None:
        """Show `text` (the Copy button copies it from then on)."""
        self.label.setText(text)


class ModelChecklist(QListWidget):
    """The models a key (or a paired device) may use, each with a check box; none checked means all."""

    def __init__(self, model_names: list[str], name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, name)
        for model in model_names:
            item = QListWidgetItem(model)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.addItem(item)
        self.setMaximumHeight(110)

    def chosen(self) -> list[str] | None:
        """The checked models, or None for all."""
        names = [self.item(i).text() for i in range(self.count())
                 if self.item(i).checkState() == Qt.CheckState.Checked]
        return names or None


def ok_cancel(
    dialog: QDialog, ok_text: str, cancel_text: str, accept: Callable[[], None], required: QLineEdit | None = None
) -> tuple[QDialogButtonBox, QPushButton]:
    """OK (named `ok_text`, calling `accept`) and Cancel (`cancel_text`: the strings come translated from the
    dialog); with `required`, OK is enabled only once that field holds text."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    named(ok, ok_text)
    named(buttons.button(QDialogButtonBox.StandardButton.Cancel), cancel_text)
    buttons.accepted.connect(accept)
    buttons.rejected.connect(dialog.reject)
    if required is not None:
        required.textChanged.connect(lambda text: ok.setEnabled(bool(text.strip())))
        ok.setEnabled(False)
    return buttons, ok


def error_label() -> QLabel:
    """Where a dialog explains a refused entry, in place."""
    label = QLabel()
    label.setObjectName("errorLabel")
    label.setWordWrap(True)
    return label
