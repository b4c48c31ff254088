"""Dialogs of the Documents page and document chat: a new collection, and a quoted passage in its document."""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.widgets import muted, named
from engine.documents.library import Passage


class NewCollectionDialog(QDialog):
    """Name, purpose (the processing record shows it) and whether the original files are kept."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("New collection"))
        self.name = named(QLineEdit(), self.tr("Collection name"))
        self.name.setMaxLength(120)
        self.purpose = named(QLineEdit(), self.tr("Purpose"))
        self.purpose.setPlaceholderText(self.tr("Why these documents are kept (shown in the processing record)"))
        self.keep = named(QCheckBox(self.tr("Keep the original files (encrypted)")), self.tr("Keep originals"))
        self.keep.setChecked(True)
        form = QFormLayout()
        form.addRow(self.tr("Name:"), self.name)
        form.addRow(self.tr("Purpose:"), self.purpose)
        form.addRow("", self.keep)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(self.tr("Create"))
        self.ok.setEnabled(False)
        self.name.textChanged.connect(lambda text: self.ok.setEnabled(bool(text.strip())))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(muted(self.tr("Without the originals, only the extracted text is kept.")))
        layout.addWidget(buttons)


class PassageDialog(QDialog):
    """A source of an answer or a search hit: its section of the document, the passage highlighted."""

    def __init__(self, passage: Passage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        document, page = passage.document, passage.page
        where = (self.tr("{document}, page {page}").format(document=document, page=page) if page
                 else str(document))
        self.setWindowTitle(where)
        self.resize(640, 480)
        heading = passage.heading
        self.text = named(QTextBrowser(), self.tr("The passage in its document"))
        text, start, end = passage.text, passage.start, passage.end
        self.text.setHtml(
            (f"<h3>{html.escape(heading)}</h3>" if heading else "")
            + "<p style='white-space: pre-wrap'>"
            + html.escape(text[:start])
            + "<a name='passage'></a><span style='background-color: #ffe066; color: black'>"
            + html.escape(text[start:end])
            + "</span>"
            + html.escape(text[end:])
            + "</p>"
        )
        self.highlighted = text[start:end]
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(where))
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.text.scrollToAnchor("passage")
