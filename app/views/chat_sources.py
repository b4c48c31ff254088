"""Document chat pieces of the Chat page: the picker of collections a conversation answers from, and the
sources listed under an answer (a click shows the passage in its document)."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from app.operations import documents as docs_ops
from app.session import Session
from app.widgets import muted, named
from app.workers import Task

QUOTE_CHARS = 180
MAX_PICKER_WIDTH = 360


class CollectionPicker(QPushButton):
    """A button with a menu of checkable collections: the turns of this chat answer from those checked.

    A push button, not a tool button: with a menu, a tool button draws its arrow over the end of its text
    (Fusion), while a push button keeps room for the arrow beside the text."""

    changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setMaximumWidth(MAX_PICKER_WIDTH)  # many or long names: clipped here, all of them in the menu
        self.setToolTip(self.tr("Answer from these document collections, with sources"))
        named(self, self.tr("Document collections for this chat"))
        self.menu_ = QMenu(self)
        self.setMenu(self.menu_)
        self._chosen: list[str] = []
        self.refresh()

    def refresh(self) -> None:
        """List the vault's collections, keeping those still there checked."""
        names = docs_ops.chat_collections(self.session)
        self._chosen = [n for n in self._chosen if n in names]
        self.menu_.clear()
        for name in names:
            action = self.menu_.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in self._chosen)
            action.toggled.connect(lambda on, n=name: self._toggle(n, on))
        if not names:
            self.menu_.addAction(self.tr("No collections yet (Documents page)")).setEnabled(False)
        self._label()

    def _toggle(self, name: str, on: bool) -> None:
        self._chosen = [n for n in self._chosen if n != name] + ([name] if on else [])
        self._label()
        self.changed.emit()

    def _label(self) -> None:
        self.setText(self.tr("Documents: {names}").format(names=", ".join(self._chosen)) if self._chosen
                     else self.tr("Documents: none"))

    def chosen(self) -> list[str]:
        """The collections checked, in the order they were checked."""
        return list(self._chosen)

    def set_chosen(self, names: list[str]) -> None:
        """Check exactly `names` (those that exist)."""
        self._chosen = list(names)
        self.refresh()
        self.changed.emit()


class SourcesBlock(QWidget):
    """The sources under one answer from documents (document, page, the quoted passage), stored with the
    reply: they come back when the conversation is opened again. A click shows the passage in its document."""

    open_requested = Signal(object)  # the citation (a dict: document_id, document, page, quote)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sources: list[dict[str, Any]] = []
        self.title = muted(self.tr("Sources (click one to see it in its document)"))
        self.list = QLabel()
        self.list.setWordWrap(True)
        self.list.setTextFormat(Qt.TextFormat.RichText)
        self.list.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                          | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.list.linkActivated.connect(self._clicked)
        named(self.list, self.tr("Sources of the answer"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        self.hide()

    def show_sources(self, sources: list[dict[str, Any]] | None) -> None:
        """List an answer's stored citations (None: not an answer from documents; empty: nothing matched)."""
        self.sources = list(sources or [])
        if sources is None:
            self.hide()
            return
        self.list.setText("<br>".join(f'<a href="{row}">{html.escape(line)}</a>'
                                      for row, line in enumerate(self.lines()))
                          or html.escape(self.tr("None of the documents matched the question.")))
        self.show()

    def lines(self) -> list[str]:
        """Each source as one line: “[1] handbook.pdf, page 2: “quote…””."""
        lines = []
        for row, source in enumerate(self.sources, start=1):
            quote = " ".join(str(source.get("quote", "")).split())
            quote = quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 1] + "…"
            document, page = str(source.get("document", "")), source.get("page")
            where = self.tr("{document}, page {page}").format(document=document, page=page) if page else document
            lines.append(f"[{source.get('index', row)}] {where}: “{quote}”")
        return lines

    def _clicked(self, link: str) -> None:
        if link.isdigit() and int(link) < len(self.sources):
            self.open_requested.emit(self.sources[int(link)])


def open_source(owner: QWidget, session: Session, source: dict[str, Any]) -> Task | None:
    """Show a cited passage in its document (a removed document says so in `owner.status`)."""
    from app.views.documents import show_passage

    document_id = source.get("document_id")
    if not isinstance(document_id, str):
        return None
    page = source.get("page")
    return show_passage(owner, session, document_id, str(source.get("quote", "")),
                        page if isinstance(page, int) else None)
