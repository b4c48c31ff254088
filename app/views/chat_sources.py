"""Document chat pieces of the Chat page: the picker of collections a conversation answers from, and the
sources listed under an answer (a click shows the passage in its document)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QMenu, QToolButton, QVBoxLayout, QWidget

from app.session import Session
from app.widgets import named
from app.workers import Task

QUOTE_CHARS = 180
MAX_PICKER_WIDTH = 360


class CollectionPicker(QToolButton):
    """A button with a menu of checkable collections: the turns of this chat answer from those checked."""

    changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setMaximumWidth(MAX_PICKER_WIDTH)  # many or long names: clipped here, all of them in the menu
        self.setToolTip(self.tr("Answer from these document collections, with sources"))
        named(self, self.tr("Document collections for this chat"))
        self.menu_ = QMenu(self)
        self.setMenu(self.menu_)
        self._chosen: list[str] = []
        self.refresh()

    def refresh(self) -> None:
        """List the vault's collections, keeping those still there checked."""
        vault = self.session.vault
        names = [] if vault.is_locked else [c.name for c in self.session.engine.documents.collections()]
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


class SourcesPanel(QWidget):
    """The sources of the last answer from documents: document, page and the quoted passage."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.title = QLabel(self.tr("Sources of the answer (click one to see it in its document)"))
        self.list = named(QListWidget(), self.tr("Sources of the answer"))
        self.list.setWordWrap(True)
        self.list.setMaximumHeight(130)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        self.status = QLabel()
        self.status.hide()
        self.task: Task | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 0, 16, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addWidget(self.status)
        self.hide()

    def show_sources(self, hits: list[Any]) -> None:
        """List an answer's sources (an empty list says that nothing matched)."""
        self.list.clear()
        for number, hit in enumerate(hits, start=1):
            quote = " ".join(hit.text.split())
            quote = quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 1] + "…"
            where = (self.tr("{document}, page {page}").format(document=hit.document, page=hit.page) if hit.page
                     else hit.document)
            item = QListWidgetItem(f"[{number}] {where}: “{quote}”")
            item.setData(256, hit)  # Qt.UserRole
            self.list.addItem(item)
        if not hits:
            self.list.addItem(self.tr("None of the documents matched the question."))
        self.setVisible(True)

    def clear(self) -> None:
        """No answer from documents on screen."""
        self.list.clear()
        self.hide()

    def _clicked(self, item: QListWidgetItem) -> None:
        self.open_source(self.list.row(item))

    def open_source(self, row: int) -> Task | None:
        """Show source `row`'s passage in its document."""
        from app.views.documents import show_passage

        item = self.list.item(row)
        hit = None if item is None else item.data(256)
        if hit is None:
            return None
        self.task = show_passage(self, self.session, hit.document_id, hit.text, hit.page)
        return self.task
