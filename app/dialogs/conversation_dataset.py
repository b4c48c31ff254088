"""New dataset from conversations: tick conversations, name the dataset, and the engine builds it (one row
per conversation, validated like an import, stored encrypted) off the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.session import Session
from app.widgets import error_text, muted, named
from app.workers import Task, TaskContext
from engine.training.library import DatasetInfo

ID_ROLE = Qt.ItemDataRole.UserRole


class ConversationDatasetDialog(QDialog):
    """Pick conversations (title, date, subject) and a name; `created` holds the new dataset once accepted."""

    def __init__(self, session: Session, base_model: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.base_model = base_model  # token lengths are checked against its context when one is picked
        self.created: DatasetInfo | None = None
        self.task: Task | None = None
        self.setWindowTitle(self.tr("New dataset from conversations"))
        self.resize(640, 480)
        self._build_list()
        self._build_fields()
        self._build_layout()
        self._fill()
        self._enable()

    def _build_list(self) -> None:
        self.list = named(QTreeWidget(), self.tr("Conversations"))
        self.list.setHeaderLabels([self.tr("Title"), self.tr("Date"), self.tr("Subject")])
        self.list.setRootIsDecorated(False)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.list.itemChanged.connect(self._enable)

    def _build_fields(self) -> None:
        self.name = named(QLineEdit(), self.tr("Dataset name"))
        self.name.setPlaceholderText(self.tr("letters, digits, '.', '-' or '_'"))
        self.name.textChanged.connect(self._enable)
        self.subject = named(QLineEdit(), self.tr("Subject for unlabelled conversations"))
        self.subject.setPlaceholderText(self.tr("optional: whose personal data they hold"))
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText(self.tr("Create dataset"))
        named(self.create_button, self.tr("Create dataset"))
        named(self.buttons.button(QDialogButtonBox.StandardButton.Cancel), self.tr("Cancel"))
        self.buttons.accepted.connect(self.create)
        self.buttons.rejected.connect(self.reject)

    def _build_layout(self) -> None:
        form = QFormLayout()
        form.addRow(self.tr("Name:"), self.name)
        form.addRow(self.tr("Subject:"), self.subject)
        layout = QVBoxLayout(self)
        layout.addWidget(muted(self.tr(
            "Each ticked conversation becomes one training example: its system prompt, questions and replies "
            "(tool calls and empty replies are left out). A conversation's subject label goes with its row."
        )))
        layout.addWidget(self.list, 1)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    def _fill(self) -> None:
        for conversation in self.session.vault.conversations.list():
            date = conversation.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
            item = QTreeWidgetItem([conversation.title, date, conversation.subject or "—"])
            item.setData(0, ID_ROLE, conversation.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Unchecked)
            self.list.addTopLevelItem(item)
        if not self.list.topLevelItemCount():
            self.status.setText(self.tr("There are no conversations yet."))

    def checked_ids(self) -> list[str]:
        """The ticked conversations' ids, in the list's order."""
        items = (self.list.topLevelItem(i) for i in range(self.list.topLevelItemCount()))
        return [item.data(0, ID_ROLE) for item in items if item.checkState(0) == Qt.CheckState.Checked]

    def set_checked(self, conversation_id: str, checked: bool = True) -> None:
        """Tick (or untick) one conversation."""
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            if item.data(0, ID_ROLE) == conversation_id:
                item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def _enable(self) -> None:
        self.create_button.setEnabled(self.task is None and bool(self.name.text().strip()) and bool(self.checked_ids()))

    def create(self) -> Task | None:
        """Build the dataset in the background; the dialog closes when it is stored."""
        ids, name = self.checked_ids(), self.name.text().strip()
        if not ids or not name:
            return None
        subject = self.subject.text().strip() or None
        training, model = self.session.engine.training, self.base_model

        def work(ctx: TaskContext) -> DatasetInfo:
            return training.dataset_from_conversations(ids, name, subject=subject, model=model)

        self.status.setText(self.tr("Building the dataset…"))
        self.task = Task(work, self).on_success(self._created).on_failure(self._failed)
        self._enable()
        return self.task.start()

    def _created(self, info: DatasetInfo) -> None:
        self.task = None
        self.created = info
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.task = None
        self.status.setText(error_text(exc))
        self._enable()
