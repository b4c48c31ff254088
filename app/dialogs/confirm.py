"""A confirmation for what cannot be undone: the person types a word before the button enables."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from app.widgets import named


class TypedConfirmDialog(QDialog):
    """Enable the destructive button only once `word` is typed exactly."""

    def __init__(self, title: str, message: str, word: str, action: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.word = word
        self.setWindowTitle(title)
        text = QLabel(message)
        text.setWordWrap(True)
        prompt = QLabel(self.tr("Type {word} to confirm:").format(word=f"<b>{word}</b>"))
        self.field = named(QLineEdit(), self.tr("Confirmation word"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(action)
        named(self.ok, action)
        named(self.buttons.button(QDialogButtonBox.StandardButton.Cancel), self.tr("Cancel"))
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.field.textChanged.connect(lambda typed: self.ok.setEnabled(typed.strip() == self.word))
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(prompt)
        layout.addWidget(self.field)
        layout.addWidget(self.buttons)
