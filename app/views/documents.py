"""The Documents view: collections, their documents, adding files and folders (buttons or drag and drop)
with progress and cancel, the import report, removing, and searching. The work is engine.documents'."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.confirm import TypedConfirmDialog
from app.dialogs.documents import NewCollectionDialog, PassageDialog
from app.operations import documents as docs_ops
from app.session import Session
from app.widgets import error_text, human_size, muted, named
from app.workers import Task

INDEX_POLL_MS = 400
PASSAGE_CHARS = 200


def _cell(text: str, data: Any = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if data is not None:
        item.setData(Qt.ItemDataRole.UserRole, data)
    return item


def _table(headers: list[str], name: str) -> QTableWidget:
    table = named(QTableWidget(0, len(headers)), name)
    table.setHorizontalHeaderLabels(headers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table


class DocumentsView(QWidget):
    """Document collections from the desktop: the same engine calls as `enclave docs`."""

    collections_changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.add_task: Task | None = None
        self.search_task: Task | None = None
        self.setAcceptDrops(True)

        splitter = QSplitter()
        splitter.addWidget(self._build_collections())
        splitter.addWidget(self._build_documents())
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([240, 900])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self._connect_signals()
        self.reload()

    def _build_collections(self) -> QWidget:
        """The left pane: the collections and the buttons that make and remove them."""
        self.collection_list = named(QListWidget(), self.tr("Collections"))
        self.new_button = named(QPushButton(self.tr("New collection…")), self.tr("New collection"))
        self.remove_collection_button = named(QPushButton(self.tr("Remove collection…")),
                                              self.tr("Remove collection"))
        left = QVBoxLayout()
        left.addWidget(QLabel(self.tr("Collections")))
        left.addWidget(self.collection_list, 1)
        left.addWidget(self.new_button)
        left.addWidget(self.remove_collection_button)
        left_pane = QWidget()
        left_pane.setLayout(left)
        return left_pane

    def _build_document_actions(self) -> tuple[QHBoxLayout, QHBoxLayout]:
        """The selected collection's heading, index state and documents; add/remove buttons, progress, report."""
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.index_note = muted("")
        self.index_note.setWordWrap(True)
        self.table = _table([self.tr("Document"), self.tr("Pages"), self.tr("Size"), self.tr("Added"),
                             self.tr("Subject")], self.tr("Documents of the collection"))
        self.add_files_button = named(QPushButton(self.tr("Add files…")), self.tr("Add files"))
        self.add_folder_button = named(QPushButton(self.tr("Add folder…")), self.tr("Add folder"))
        self.remove_button = named(QPushButton(self.tr("Remove document")), self.tr("Remove document"))
        self.progress = named(QProgressBar(), self.tr("Adding progress"))
        self.cancel_button = named(QPushButton(self.tr("Cancel")), self.tr("Cancel adding"))
        self.progress.hide()
        self.cancel_button.hide()
        actions = QHBoxLayout()
        for widget in (self.add_files_button, self.add_folder_button, self.remove_button):
            actions.addWidget(widget)
        actions.addStretch(1)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.status = muted(self.tr("Drop files or folders here to add them to the selected collection."))
        self.status.setWordWrap(True)
        self.report = named(QPlainTextEdit(), self.tr("Import report"))
        self.report.setReadOnly(True)
        self.report.setMaximumHeight(110)
        return actions, progress_row

    def _build_search(self) -> QHBoxLayout:
        """The search field and the table of passages found."""
        self.query = named(QLineEdit(), self.tr("Search the collection"))
        self.query.setPlaceholderText(self.tr("Search this collection…"))
        self.search_button = named(QPushButton(self.tr("Search")), self.tr("Search"))
        search_row = QHBoxLayout()
        search_row.addWidget(self.query, 1)
        search_row.addWidget(self.search_button)
        self.hits = _table([self.tr("Passage"), self.tr("Document"), self.tr("Page")], self.tr("Search results"))
        self.hits.setWordWrap(True)
        return search_row

    def _build_documents(self) -> QWidget:
        """The right pane: the collection's documents, adding, the import report and search."""
        actions, progress_row = self._build_document_actions()
        search_row = self._build_search()
        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addWidget(self.index_note)
        right.addWidget(self.table, 3)
        right.addLayout(actions)
        right.addLayout(progress_row)
        right.addWidget(self.status)
        right.addWidget(QLabel(self.tr("Import report")))
        right.addWidget(self.report)
        right.addLayout(search_row)
        right.addWidget(self.hits, 2)
        right_pane = QWidget()
        right_pane.setLayout(right)
        return right_pane

    def _connect_signals(self) -> None:
        """Buttons, drops and the index-state poll."""
        self.collection_list.currentItemChanged.connect(lambda *_: self._collection_picked())
        self.new_button.clicked.connect(self.ask_new_collection)
        self.remove_collection_button.clicked.connect(self.confirm_remove_collection)
        self.add_files_button.clicked.connect(self.ask_files)
        self.add_folder_button.clicked.connect(self.ask_folder)
        self.remove_button.clicked.connect(self.remove_document)
        self.cancel_button.clicked.connect(self.cancel)
        self.search_button.clicked.connect(self.search)
        self.query.returnPressed.connect(self.search)
        self.hits.cellDoubleClicked.connect(lambda row, _col: self.open_hit(row))
        self.index_timer = QTimer(self)
        self.index_timer.setInterval(INDEX_POLL_MS)
        self.index_timer.timeout.connect(self._show_index_state)

    # -- reading -------------------------------------------------------------------------------

    @property
    def library(self) -> Any:
        """The engine's document library (built on first use)."""
        return self.session.engine.documents

    def reload(self) -> None:
        """Read the collections again and (after an unlock) rebuild the search index in the background."""
        if self.session.vault.is_locked:
            return
        self.library.start_loading()
        self._show_index_state()
        self.refresh()

    def on_shown(self) -> None:
        """The view came to the front."""
        self.reload()

    def _show_index_state(self) -> None:
        if self.library.ready:
            self.index_note.setText("")
            self.index_note.hide()
            self.index_timer.stop()
            return
        done, total = self.library.loading_progress()
        self.index_note.setText(self.tr("The search index is still being built ({done} of {total} documents); "
                                        "search will work when it is done.").format(done=done, total=total))
        self.index_note.show()
        if not self.index_timer.isActive():
            self.index_timer.start()

    def refresh(self, select: str | None = None) -> None:
        """Fill the collections list, keeping (or moving to) the selected one."""
        current = select or self.selected_collection()
        self.collection_list.blockSignals(True)
        self.collection_list.clear()
        for coll in self.library.collections():
            item = QListWidgetItem(docs_ops.collection_title(coll.name))
            item.setData(Qt.ItemDataRole.UserRole, coll.name)
            item.setToolTip(docs_ops.collection_purpose(coll.name, coll.purpose or ""))
            self.collection_list.addItem(item)
            if coll.name == current:
                self.collection_list.setCurrentItem(item)
        if self.collection_list.currentItem() is None and self.collection_list.count():
            self.collection_list.setCurrentRow(0)
        self.collection_list.blockSignals(False)
        self._collection_picked()

    def selected_collection(self) -> str | None:
        """Name of the collection picked in the list."""
        item = self.collection_list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def select_collection(self, name: str) -> None:
        """Pick a collection by name."""
        self.refresh(select=name)

    def _collection_picked(self) -> None:
        name = self.selected_collection()
        has = name is not None
        # The API's uploads are filled (and indexed, when added to a vector store) by programs, not here.
        fill = has and not docs_ops.is_api_uploads(name or "")
        for widget in (self.add_files_button, self.add_folder_button, self.search_button, self.query):
            widget.setEnabled(fill)
        self.remove_collection_button.setEnabled(has and self.add_task is None)
        self.hits.setRowCount(0)
        if name is None:
            self.heading.setText(self.tr("Create a collection to add documents to it."))
            self.table.setRowCount(0)
            self.remove_button.setEnabled(False)
            return
        coll = self.library.collection(name)
        keeps = self.tr("originals kept") if coll.keep_originals else self.tr("originals not kept")
        purpose = docs_ops.collection_purpose(coll.name, coll.purpose) or self.tr("no purpose given")
        title = docs_ops.collection_title(coll.name)
        self.heading.setText(f"<b>{html.escape(title)}</b> — {html.escape(purpose)} ({keeps})")
        self._fill_documents(name)

    def _fill_documents(self, name: str) -> None:
        rows = self.library.documents(name)
        self.table.setRowCount(len(rows))
        for row, (doc, _coll) in enumerate(rows):
            added = dt.datetime.fromisoformat(doc.created_at).astimezone().strftime("%Y-%m-%d %H:%M")
            cells = (doc.name, str(doc.pages or "—"), human_size(doc.size), added, doc.subject or "")
            for column, text in enumerate(cells):
                self.table.setItem(row, column, _cell(text, doc.id if column == 0 else None))
        self.remove_button.setEnabled(bool(rows) and self.add_task is None)

    def document_names(self) -> list[str]:
        """Names of the listed documents (tests, accessibility)."""
        return [self.table.item(row, 0).text() for row in range(self.table.rowCount())]

    # -- collections ---------------------------------------------------------------------------

    def ask_new_collection(self) -> None:
        """Ask for a name, purpose and whether to keep originals, then create the collection."""
        dialog = NewCollectionDialog(self)
        if dialog.exec():
            self.create_collection(dialog.name.text(), dialog.purpose.text(), dialog.keep.isChecked())

    def create_collection(self, name: str, purpose: str = "", keep_originals: bool = True) -> Task:
        """Create a collection in the background and select it."""
        return (
            docs_ops.create_collection(self, self.session, name, purpose=purpose, keep_originals=keep_originals)
            .on_success(lambda coll: self._changed(coll.name))
            .on_failure(self._failed)
            .start()
        )

    def _changed(self, select: str | None = None) -> None:
        self.refresh(select=select)
        self.collections_changed.emit()

    def confirm_remove_collection(self) -> None:
        """Crypto-shred the selected collection once its name is typed."""
        name = self.selected_collection()
        if name is None:
            return
        count = self.table.rowCount()
        dialog = TypedConfirmDialog(
            self.tr("Remove collection"),
            self.tr("“{name}” and its {count} documents will be erased for good. This cannot be undone.").format(
                name=docs_ops.collection_title(name), count=count),
            name, self.tr("Remove"), self,
        )
        if dialog.exec():
            self.remove_collection(name)

    def remove_collection(self, name: str) -> Task:
        """Crypto-shred a collection in the background."""
        def done(count: int) -> None:
            self.status.setText(self.tr("{name} removed with {count} documents.").format(name=name, count=count))
            self._changed()

        return docs_ops.remove_collection(self, self.session, name).on_success(done).on_failure(self._failed).start()

    # -- adding --------------------------------------------------------------------------------

    def ask_files(self) -> None:
        """Pick files to add."""
        files, _ = QFileDialog.getOpenFileNames(self, self.tr("Add files"))
        if files:
            self.add_paths([Path(f) for f in files])

    def ask_folder(self) -> None:
        """Pick a folder to add, with everything under it."""
        folder = QFileDialog.getExistingDirectory(self, self.tr("Add folder"))
        if folder:
            self.add_paths([Path(folder)])

    def add_paths(self, paths: list[Path]) -> Task | None:
        """Add files and folders to the selected collection off the GUI thread, with progress and cancel."""
        name = self.selected_collection()
        if name is None:
            self.status.setText(self.tr("Create or pick a collection first."))
            return None
        if docs_ops.is_api_uploads(name):
            self.status.setText(self.tr("Programs fill this collection through the API; pick another one."))
            return None
        if self.add_task is not None:
            self.status.setText(self.tr("Wait until the files being added are done, or cancel."))
            return None
        self.report.clear()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.status.setText(self.tr("Adding to {name}…").format(name=name))
        self.add_task = (docs_ops.add(self, self.session, paths, name)
                         .on_success(self._added).on_failure(self._add_failed).on_progress(self._add_progress))
        self._collection_picked()
        return self.add_task.start()

    def cancel(self) -> None:
        """Stop after the file being read."""
        if self.add_task is not None:
            self.add_task.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText(self.tr("Cancelling after the current file…"))

    def _add_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status.setText(self.tr("Adding file {number} of {total}…").format(number=min(done + 1, total),
                                                                               total=total))

    def _add_ended(self) -> None:
        self.add_task = None
        self.progress.hide()
        self.cancel_button.hide()

    def _added(self, report: Any) -> None:
        self._add_ended()
        counts = {s: report.count(s) for s in ("added", "replaced", "unchanged", "failed", "cancelled")}
        self.status.setText(self.tr(
            "{added} added, {replaced} replaced, {unchanged} already there, {failed} unreadable, "
            "{cancelled} cancelled.").format(**counts))
        lines = [f"{Path(f.path).name}: {f.message}" for f in report.files if f.status == "failed"]
        self.report.setPlainText("\n".join(lines) if lines else self.tr("Every file was read."))
        self._changed(self.selected_collection())

    def _add_failed(self, exc: BaseException) -> None:
        self._add_ended()
        self._failed(exc)
        self._collection_picked()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if event.mimeData().hasUrls() and all(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt's name)
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # -- removing and searching ----------------------------------------------------------------

    def remove_document(self) -> Task | None:
        """Crypto-shred the selected document."""
        row = self.table.currentRow()
        if row < 0:
            self.status.setText(self.tr("Pick a document first."))
            return None
        doc_id, doc_name = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole), self.table.item(row, 0).text()

        def done(_doc: Any) -> None:
            self.status.setText(self.tr("{name} removed.").format(name=doc_name))
            self._changed(self.selected_collection())

        return docs_ops.remove_document(self, self.session, doc_id).on_success(done).on_failure(self._failed).start()

    def search(self) -> Task | None:
        """Search the selected collection for the query; hits show document, page and passage."""
        name, query = self.selected_collection(), self.query.text().strip()
        if name is None or not query:
            return None
        self.status.setText(self.tr("Searching…"))
        self.search_task = (docs_ops.search(self, self.session, query, [name])
                            .on_success(self._found).on_failure(self._search_failed))
        return self.search_task.start()

    def _found(self, hits: list[Any]) -> None:
        self.search_task = None
        self.hits.setRowCount(len(hits))
        for row, hit in enumerate(hits):
            passage = " ".join(hit.text.split())
            shown = passage if len(passage) <= PASSAGE_CHARS else passage[: PASSAGE_CHARS - 1] + "…"
            self.hits.setItem(row, 0, _cell(shown, hit))
            self.hits.setItem(row, 1, _cell(hit.document))
            self.hits.setItem(row, 2, _cell(str(hit.page) if hit.page else "—"))
        self.hits.resizeRowsToContents()
        self.status.setText(self.tr("{count} passages found.").format(count=len(hits)) if hits
                            else self.tr("Nothing in this collection matches."))

    def _search_failed(self, exc: BaseException) -> None:
        self.search_task = None
        self._failed(exc)

    def open_hit(self, row: int) -> Task | None:
        """Show a hit's passage in its document."""
        item = self.hits.item(row, 0)
        if item is None:
            return None
        hit = item.data(Qt.ItemDataRole.UserRole)
        return show_passage(self, self.session, hit.document_id, hit.text, hit.page)

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(error_text(exc))

    def busy(self) -> bool:
        """True while files are being added (the view must live until they are)."""
        return self.add_task is not None


def show_passage(owner: QWidget, session: Session, document_id: str, quote: str, page: int | None) -> Task:
    """Load a passage's section in the background, then show it in a dialog (kept on `owner.passage_dialog`)."""
    def shown(passage: Any) -> None:
        dialog = PassageDialog(passage, owner)
        owner.passage_dialog = dialog  # type: ignore[attr-defined]
        dialog.open()

    def failed(exc: BaseException) -> None:
        status = getattr(owner, "status", None)
        if status is not None:
            status.setText(error_text(exc))

    return docs_ops.passage(owner, session, document_id, quote, page).on_success(shown).on_failure(failed).start()
