"""The chat sidebar: conversations newest first, new/rename/delete, and search across all history."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPersistentModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.models.conversations import ConversationListModel
from app.session import ACTOR, Session
from app.widgets import ElidedLabel, error_text, muted, named, show_error
from app.workers import run_task
from engine.vault.records import SearchHit

SEARCH_DELAY_MS = 250


class _FitWidthDelegate(QStyledItemDelegate):
    """Rows as wide as the list, not as their text: a long title is then elided ("…") where the list ends
    (its tooltip has all of it) instead of widening the rows behind a horizontal scroll bar."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(min(hint.width(), max(1, self._view.viewport().width() - 2 * self._view.spacing())), hint.height())


class ConversationSidebar(QWidget):
    """Lists conversations and search hits; says which conversation to open."""

    conversation_selected = Signal(object)  # str id, or None for "no conversation"
    new_requested = Signal()
    conversation_erased = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = ConversationListModel(self)
        self.setMinimumWidth(200)
        self.streaming_id: str | None = None  # the conversation a reply is being written in (not deletable)
        self.search = named(QLineEdit(), self.tr("Search all chats"))
        self.search.setPlaceholderText(self.tr("Search all chats (Ctrl+K)"))
        self.search.setClearButtonEnabled(True)
        self.search.addAction(theme.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.new_button = named(QPushButton(self.tr("New chat")), self.tr("New chat"))
        self.new_button.setIcon(theme.icon("new"))
        self.new_button.setToolTip(self.tr("New chat (Ctrl+N)"))
        self._build_lists()
        tools = self._build_tools()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.hits, 1)
        layout.addWidget(self.empty)
        layout.addLayout(tools)
        self._connect_signals()

    def _build_lists(self) -> None:
        """The conversations (titles elided to the width, never a sideways scroll bar) and the search hits."""
        self.list = named(QListView(), self.tr("Conversations"))
        self.list.setModel(self.model)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setUniformItemSizes(True)
        self.list.setSpacing(1)
        # Long titles are elided to the list's width (whole in the tooltip); never a horizontal scroll bar.
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setItemDelegate(_FitWidthDelegate(self.list))
        self.hits = named(QListWidget(), self.tr("Search results"))
        self.hits.setWordWrap(True)
        self.hits.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.hits.setResizeMode(QListView.ResizeMode.Adjust)
        self.hits.hide()

    def _build_tools(self) -> QHBoxLayout:
        """Rename and delete under the list; an empty-list note."""
        self.empty = muted(self.tr("No conversations yet."))
        self.rename_button = self._tool("edit", self.tr("Rename chat"))
        self.delete_button = self._tool("trash", self.tr("Delete chat"))
        tools = QHBoxLayout()
        tools.addWidget(self.rename_button)
        tools.addWidget(self.delete_button)
        tools.addStretch(1)
        return tools

    def _connect_signals(self) -> None:
        """Search as one types (debounced), selection, context menu, F2 and Delete on the list."""
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._run_search)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.new_button.clicked.connect(self.new_requested)
        self.list.selectionModel().currentChanged.connect(self._current_changed)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.hits.itemActivated.connect(self._open_hit)
        self.hits.itemClicked.connect(self._open_hit)
        self.rename_button.clicked.connect(self.rename_current)
        self.delete_button.clicked.connect(self.delete_current)
        for shortcut, slot in ((QKeySequence(Qt.Key.Key_F2), self.rename_current),
                               (QKeySequence(QKeySequence.StandardKey.Delete), self.delete_current)):
            action = QAction(self.list)
            action.setShortcut(shortcut)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            action.triggered.connect(slot)
            self.list.addAction(action)

    def _tool(self, icon: str, text: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(theme.icon(icon))
        button.setToolTip(text)
        return named(button, text)

    # -- listing ---------------------------------------------------------------------------------

    def refresh(self, select_id: str | None = None) -> None:
        """Reload the list from the vault (newest first) and select `select_id` quietly."""
        self.model.set_conversations(self.session.vault.conversations.list())
        self.empty.setVisible(self.model.rowCount() == 0)
        self.select(select_id)

    def select(self, conversation_id: str | None) -> None:
        """Highlight a conversation without asking to open it."""
        row = self.model.row_of(conversation_id) if conversation_id else -1
        selection = self.list.selectionModel()
        selection.blockSignals(True)
        if row >= 0:
            index = self.model.index(row, 0)
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.list.scrollTo(index)
        else:
            selection.clear()
        selection.blockSignals(False)
        self.list.viewport().update()

    def current_id(self) -> str | None:
        """The highlighted conversation's id."""
        index = self.list.currentIndex()
        return str(index.data(ConversationListModel.IdRole)) if index.isValid() else None

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.conversation_selected.emit(str(current.data(ConversationListModel.IdRole)))

    def _context_menu(self, pos: QPoint) -> None:
        if not self.list.indexAt(pos).isValid():
            return
        menu = QMenu(self)
        menu.addAction(theme.icon("edit"), self.tr("Rename…"), self.rename_current)
        menu.addAction(theme.icon("trash"), self.tr("Delete…"), self.delete_current)
        menu.exec(self.list.viewport().mapToGlobal(pos))

    # -- rename / delete -------------------------------------------------------------------------

    def rename_current(self) -> None:
        """Ask for a new title for the highlighted conversation."""
        conversation_id = self.current_id()
        if conversation_id is None:
            return
        current = self.model.conversation(self.model.row_of(conversation_id))
        title, ok = QInputDialog.getText(
            self, self.tr("Rename chat"), self.tr("Title:"), QLineEdit.EchoMode.Normal,
            current.title if current else "",
        )
        if ok and title.strip():
            try:
                self.session.vault.conversations.rename(conversation_id, title.strip())
            except Exception as exc:  # noqa: BLE001 (shown to the person)
                show_error(self, exc)
            self.refresh(conversation_id)

    def delete_current(self) -> None:
        """Erase the highlighted conversation after a confirmation."""
        conversation_id = self.current_id()
        if conversation_id is None:
            return
        if conversation_id == self.streaming_id:
            QMessageBox.information(
                self, self.tr("Delete chat"), self.tr("A reply is being written in this chat. Stop it first.")
            )
            return
        current = self.model.conversation(self.model.row_of(conversation_id))
        answer = QMessageBox.question(
            self,
            self.tr("Delete chat"),
            self.tr("Delete “{title}”? Its messages are erased for good and cannot be recovered.").format(
                title=current.title if current else ""
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.erase(conversation_id)

    def erase(self, conversation_id: str) -> None:
        """Crypto-shred a conversation and open the next one."""
        row = self.model.row_of(conversation_id)
        try:
            self.session.vault.conversations.erase(conversation_id, actor=ACTOR)
        except Exception as exc:  # noqa: BLE001 (shown to the person)
            show_error(self, exc)
            return
        self.refresh()
        self.conversation_erased.emit(conversation_id)
        following = self.model.conversation(min(row, self.model.rowCount() - 1))
        self.select(following.id if following else None)
        self.conversation_selected.emit(following.id if following else None)

    # -- search ----------------------------------------------------------------------------------

    def focus_search(self) -> None:
        """Put the cursor in the search field (Ctrl+K)."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _run_search(self) -> None:
        query = self.search.text().strip()
        if not query:
            self.hits.hide()
            self.list.show()
            return
        conversations = self.session.vault.conversations
        # The first search decrypts all history into memory: never on the GUI thread.
        run_task(self, lambda ctx: (query, conversations.search(query)), self._show_hits,
                 lambda exc: self._show_hits((query, []), error_text(exc)))

    def _show_hits(self, result: tuple[str, list[SearchHit]], error: str | None = None) -> None:
        query, hits = result
        if query != self.search.text().strip():
            return  # a newer search is on its way
        self.hits.clear()
        self.list.hide()
        self.hits.show()
        for hit in hits:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, hit.conversation_id)
            card = self._hit_card(hit)
            item.setToolTip(hit.snippet)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, card.accessibleName())
            self.hits.addItem(item)
            self.hits.setItemWidget(item, card)
            item.setSizeHint(card.sizeHint())
        if not hits:
            item = QListWidgetItem(error or self.tr("Nothing found for “{query}”.").format(query=query))
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.hits.addItem(item)

    def _hit_card(self, hit: SearchHit) -> QFrame:
        """One search result: the conversation, where the match is, and the text around it, match in bold."""
        if hit.message_id is None:
            where = self.tr("in the title")
        elif hit.role == "user":
            where = self.tr("in your message")
        else:
            where = self.tr("in a reply")
        snippet = hit.snippet
        if hit.match_at >= 0:
            end = hit.match_at + hit.match_length
            parts = (snippet[: hit.match_at], snippet[hit.match_at : end], snippet[end:])
        else:
            parts = (snippet, "", "")
        before, match, after = (html.escape(re.sub(r"\s+", " ", p)) for p in parts)  # spaces kept around the match
        colors = self.palette()
        mark = (
            f"<span style='background-color:{colors.color(QPalette.ColorRole.Highlight).name()};"
            f" color:{colors.color(QPalette.ColorRole.HighlightedText).name()}; font-weight:600'>"
        )
        marked = f"{before}{mark}{match}</span>{after}" if match else before
        card = QFrame()
        card.setObjectName("searchHit")
        title = ElidedLabel(hit.title)
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        place = muted(where)
        text = QLabel(marked)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setWordWrap(True)
        text.setObjectName("searchSnippet")
        layout = QVBoxLayout(card)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(1)
        layout.addWidget(title)
        layout.addWidget(place)
        layout.addWidget(text)
        card.setToolTip(hit.snippet)
        named(card, self.tr("{title}, {where}: {text}").format(title=hit.title, where=where, text=hit.snippet))
        return card

    def _open_hit(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        if conversation_id:
            self.select(str(conversation_id))
            self.conversation_selected.emit(str(conversation_id))
