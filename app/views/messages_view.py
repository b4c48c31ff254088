"""The message list of a conversation: one bubble widget per row of a MessageListModel."""

from __future__ import annotations

from PySide6.QtCore import QLocale, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAccessible, QAccessibleInterface
from PySide6.QtWidgets import (
    QAccessibleWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.models.messages import MessageItem, MessageListModel
from app.operations.documents import stored_sources
from app.views.chat_sources import SourcesBlock
from app.views.markdown import MarkdownView
from app.widgets import CopyButton, ElidedLabel, human_number, human_time_of_day, muted, named

# While a long thinking streams in, only its latest part is shown: a label of tens of thousands of characters
# takes over 100 ms to lay out on every chunk (measured at 40k).
STREAMING_THINKING_CHARS = 4000

RENDER_INTERVAL_MS = 60  # re-render a streaming reply at most this often: smooth, and cheap


class MessageColumn(QWidget):
    """The widget holding the bubbles; a screen reader meets it as a list."""


def _accessible(key: str, obj: QObject) -> QAccessibleInterface | None:
    # Screen readers announce "list, 4 items" and step message by message only when the roles say
    # so: a plain QFrame would be read as an unnamed grouping, and its text as loose labels.
    if isinstance(obj, MessageWidget):
        return QAccessibleWidget(obj, QAccessible.Role.ListItem)
    if isinstance(obj, MessageColumn):
        return QAccessibleWidget(obj, QAccessible.Role.List)
    return None


_factory_installed = False


def install_accessibility() -> None:
    """Register the list / list-item roles of the message column with Qt's accessibility (once)."""
    global _factory_installed
    if not _factory_installed:
        QAccessible.installFactory(_accessible)
        _factory_installed = True


class MessageWidget(QFrame):
    """One message: author, time, AI marker, rendered body, actions and the reply's statistics."""

    edit_requested = Signal(object)  # MessageItem
    regenerate_requested = Signal()
    version_requested = Signal(object, int)  # MessageItem, the version to show (0-based)
    source_requested = Signal(object)  # a cited source of an answer from documents (dict)

    def __init__(self, item: MessageItem, author: str, accessible: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item = item
        self.setObjectName("userBubble" if item.role == "user" else "assistantBubble")
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.setAccessibleName(accessible[:300])
        self._thinking_seen = False
        self._thinking_text = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addLayout(self._build_header(author))
        self._build_thinking()
        self._build_body()
        layout.addWidget(self.thinking_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.thinking)
        layout.addWidget(self.result_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.body)
        layout.addWidget(self.load_bar)
        layout.addWidget(self.sources)
        layout.addWidget(self.stats)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.update_item(item)
        self._show_result(False)

    def _build_header(self, author: str) -> QHBoxLayout:
        """Author, AI label, time, version arrows, edit/regenerate/copy."""
        # A long model name is elided (whole in the tooltip): the bubble never outgrows the message column.
        self.author = ElidedLabel(author)
        author_font = self.author.font()
        author_font.setBold(True)
        self.author.setFont(author_font)
        self.time = muted(human_time_of_day(self.item.created_at))
        self.badge = QLabel(self.tr("AI-generated"))
        self.badge.setObjectName("aiBadge")
        self.badge.setToolTip(self.tr("This text was produced by an AI model and may be wrong."))
        named(self.badge, self.tr("AI-generated content"))
        self.badge.setVisible(self.item.ai_generated)
        self.copy = CopyButton(lambda: self.item.thinking_and_answer()[1], self.tr("Copy"))
        self.copy.setAutoRaise(True)
        named(self.copy, self.tr("Copy message"))
        self.edit = self._tool("edit", self.tr("Edit and resend"))
        self.edit.clicked.connect(lambda: self.edit_requested.emit(self.item))
        self.regenerate = self._tool("regenerate", self.tr("Regenerate"))
        self.regenerate.clicked.connect(self.regenerate_requested)
        self.edit.setVisible(self.item.role == "user" and self.item.id is not None)
        self.regenerate.hide()
        # A regenerated reply keeps its earlier versions: ‹ 1/2 › steps through them.
        self.previous_version = self._arrow("‹", self.tr("Previous version of this reply"))
        self.next_version = self._arrow("›", self.tr("Next version of this reply"))
        self.version_label = muted("")
        self.previous_version.clicked.connect(lambda: self._step_version(-1))
        self.next_version.clicked.connect(lambda: self._step_version(1))
        header = QHBoxLayout()
        header.setSpacing(8)
        header.addWidget(self.author)
        header.addWidget(self.badge)
        header.addWidget(self.time)
        header.addStretch(1)
        header.addWidget(self.previous_version)
        header.addWidget(self.version_label)
        header.addWidget(self.next_version)
        header.addWidget(self.edit)
        header.addWidget(self.regenerate)
        header.addWidget(self.copy)
        return header

    def _build_thinking(self) -> None:
        """A reasoning model's thinking and its toggle."""
        # A reasoning model's thinking: dimmed, above the answer; open while it streams in, folded when a
        # finished reply is shown again.
        self.thinking_toggle = QToolButton()
        self.thinking_toggle.setText(self.tr("Thinking"))
        self.thinking_toggle.setToolTip(self.tr("Show or hide the model's thinking"))
        self.thinking_toggle.setCheckable(True)
        self.thinking_toggle.setAutoRaise(True)
        self.thinking_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        named(self.thinking_toggle, self.tr("Show or hide the model's thinking"))
        self.thinking = muted("")
        self.thinking.setTextFormat(Qt.TextFormat.PlainText)
        self.thinking.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.thinking_toggle.toggled.connect(self._show_thinking)

    def _build_body(self) -> None:
        """The text, a tool result's toggle, the load bar, the sources and the figures under a reply."""
        self.body = MarkdownView()
        # A tool's result: folded under a toggle (it can be long, and is the tool's text, not the model's).
        self.result_toggle = QToolButton()
        self.result_toggle.setText(self.tr("Show the result"))
        self.result_toggle.setCheckable(True)
        self.result_toggle.setAutoRaise(True)
        self.result_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.result_toggle.setArrowType(Qt.ArrowType.RightArrow)
        named(self.result_toggle, self.tr("Show or hide the tool's result"))
        self.result_toggle.setVisible(self.item.role == "tool")
        self.result_toggle.toggled.connect(self._show_result)
        self.load_bar = QProgressBar()
        self.load_bar.setRange(0, 100)
        self.load_bar.setMaximumWidth(320)
        named(self.load_bar, self.tr("Model loading progress"))
        self.load_bar.hide()
        self.stats = muted("")
        # An answer from documents: its sources, stored with it, under it (again when the chat is reopened).
        self.sources = SourcesBlock()
        self.sources.open_requested.connect(self.source_requested)

    def _show_result(self, shown: bool) -> None:
        """A tool's result is folded until the person opens it."""
        if self.item.role != "tool":
            return
        self.body.setVisible(shown)
        self.result_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.result_toggle.setText(self.tr("Hide the result") if shown else self.tr("Show the result"))

    def _tool(self, icon: str, text: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(theme.icon(icon))
        button.setToolTip(text)
        button.setAutoRaise(True)
        return named(button, text)

    def _arrow(self, glyph: str, text: str) -> QToolButton:
        button = QToolButton()
        button.setText(glyph)
        button.setToolTip(text)
        button.setAutoRaise(True)
        return named(button, text)

    def _step_version(self, step: int) -> None:
        target = self.item.active + step
        if 0 <= target < self.item.versions:
            self.version_requested.emit(self.item, target)

    def _waiting_text(self, item: MessageItem) -> str:
        """What an empty streaming reply says: loading the model, thinking (reasoning models), or writing."""
        if item.loading:
            return self.tr("Loading {model}…").format(model=item.loading)
        if item.thinks:
            return self.tr("_Thinking…_")
        return self.tr("_Writing…_") if item.started else "…"

    def update_item(self, item: MessageItem) -> None:
        """Show the row's current content and state."""
        self.item = item
        thinking, answer = item.thinking_and_answer()
        if item.streaming and not answer and not thinking:
            answer = self._waiting_text(item)
        loading = bool(item.streaming and item.loading)
        self.load_bar.setVisible(loading)
        if loading:
            self.load_bar.setValue(round(item.load_fraction * 100))
        versions = item.versions > 1 and not item.streaming
        for widget in (self.previous_version, self.version_label, self.next_version):
            widget.setVisible(versions)
        if versions:
            self.version_label.setText(
                self.tr("{current}/{count}").format(current=item.active + 1, count=item.versions)
            )
            self.version_label.setToolTip(self.tr("Version {current} of {count} of this reply").format(
                current=item.active + 1, count=item.versions))
            self.previous_version.setEnabled(item.active > 0)
            self.next_version.setEnabled(item.active < item.versions - 1)
        if self.body.text != answer:
            self.body.set_text(answer)
        if thinking and not self._thinking_seen:
            self._thinking_seen = True
            self.thinking_toggle.setChecked(item.streaming)
        self._thinking_text = thinking
        self.thinking_toggle.setVisible(bool(thinking))
        self._show_thinking(self.thinking_toggle.isChecked())
        self.edit.setVisible(item.role == "user" and item.id is not None and not item.streaming)
        self.copy.setEnabled(not item.streaming)
        self.stats.setText(self._stats(item))
        self.stats.setVisible(bool(self.stats.text()))
        self.sources.show_sources(
            None if item.streaming or item.role != "assistant" else stored_sources(item.metadata)
        )

    def _show_thinking(self, shown: bool) -> None:
        text = self._thinking_text if shown else ""  # folded: no label work at all (long thinking is slow)
        if self.item.streaming and len(text) > STREAMING_THINKING_CHARS:
            text = "…" + text[-STREAMING_THINKING_CHARS:]  # while it streams, its latest part
        if self.thinking.text() != text:
            self.thinking.setText(text)
        self.thinking.setVisible(bool(text))
        self.thinking_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _stats(self, item: MessageItem) -> str:
        if item.role != "assistant":
            return ""
        if item.streaming:
            if item.loading:
                return self.tr("Loading the model into memory… (Esc to stop)")
            return self.tr("Generating… (Esc to stop)")
        meta = item.metadata or {}
        usage = meta.get("usage") or {}
        parts = []
        if meta.get("tokens_per_s"):
            rate = QLocale().toString(float(meta["tokens_per_s"]), "f", 1)
            parts.append(self.tr("{rate} tokens/s").format(rate=rate))
        if usage:
            counts = {
                "prompt": human_number(int(usage.get("prompt_tokens", 0))),
                "completion": human_number(int(usage.get("completion_tokens", 0))),
            }
            cached = int(usage.get("cached_prompt_tokens") or 0)  # evaluated earlier, not for this reply
            if cached:
                text = self.tr("{prompt} prompt ({cached} cached) + {completion} reply tokens")
                parts.append(text.format(cached=human_number(cached), **counts))
            else:
                parts.append(self.tr("{prompt} prompt + {completion} reply tokens").format(**counts))
        if meta.get("finish_reason") == "cancelled":
            parts.append(self.tr("stopped"))
        elif meta.get("finish_reason") == "length":
            parts.append(self.tr("cut at the token limit"))
        return " · ".join(parts)


class MessageListView(QScrollArea):
    """A scrolling column of MessageWidgets kept in step with a MessageListModel."""

    edit_requested = Signal(object)
    regenerate_requested = Signal()
    version_requested = Signal(object, int)
    source_requested = Signal(object)

    def __init__(self, model: MessageListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        named(self, self.tr("Messages"))
        install_accessibility()
        self._column = named(MessageColumn(), self.tr("Messages"))
        self._layout = QVBoxLayout(self._column)
        self._layout.setContentsMargins(16, 12, 16, 12)
        self._layout.setSpacing(10)
        self._layout.addStretch(1)
        self.setWidget(self._column)
        self._widgets: list[MessageWidget] = []
        self._dirty: set[int] = set()
        self._follow = True
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render_dirty)
        model.modelReset.connect(self._rebuild)
        model.rowsInserted.connect(self._inserted)
        model.rowsRemoved.connect(self._removed)
        model.dataChanged.connect(self._changed)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(lambda _: self._remember_follow())
        bar.rangeChanged.connect(lambda _lo, _hi: self._keep_following())
        self._rebuild()

    def widgets(self) -> list[MessageWidget]:
        """The bubbles, in order (tests and accessibility)."""
        return list(self._widgets)

    def _make(self, row: int) -> MessageWidget:
        item = self.model.item(row)
        assert item is not None
        index = self.model.index(row, 0)
        widget = MessageWidget(
            item, self.model.author(item), str(self.model.data(index, Qt.ItemDataRole.AccessibleTextRole))
        )
        widget.edit_requested.connect(self.edit_requested)
        widget.regenerate_requested.connect(self.regenerate_requested)
        widget.version_requested.connect(self.version_requested)
        widget.source_requested.connect(self.source_requested)
        return widget

    def _drop(self, widget: MessageWidget) -> None:
        # Out of the layout now: deleted later, it would still count for the rows inserted meanwhile.
        self._layout.removeWidget(widget)
        widget.hide()
        widget.deleteLater()

    def _rebuild(self) -> None:
        for widget in self._widgets:
            self._drop(widget)
        self._widgets = []
        for row in range(self.model.rowCount()):
            widget = self._make(row)
            self._layout.insertWidget(self._layout.count() - 1, widget)
            self._widgets.append(widget)
        self._mark_last()
        self._follow = True

    def _inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        for row in range(first, last + 1):
            widget = self._make(row)
            self._layout.insertWidget(row, widget)
            self._widgets.insert(row, widget)
        self._mark_last()
        self._follow = True

    def _removed(self, _parent: QModelIndex, first: int, last: int) -> None:
        for widget in self._widgets[first : last + 1]:
            self._drop(widget)
        del self._widgets[first : last + 1]
        self._mark_last()

    def _changed(self, top: QModelIndex, bottom: QModelIndex, _roles: object = None) -> None:
        self._dirty.update(range(top.row(), bottom.row() + 1))
        item = self.model.item(bottom.row())
        if item is not None and not item.streaming:
            self._render_dirty()  # a finished reply shows its final state at once
        elif not self._render_timer.isActive():
            self._render_timer.start()

    def _render_dirty(self) -> None:
        for row in sorted(self._dirty):
            item = self.model.item(row)
            if item is not None and row < len(self._widgets):
                self._widgets[row].update_item(item)
                accessible = self.model.data(self.model.index(row, 0), Qt.ItemDataRole.AccessibleTextRole)
                self._widgets[row].setAccessibleName(str(accessible)[:300])
        self._dirty.clear()
        self._mark_last()

    def _mark_last(self) -> None:
        # Regenerate is offered on the last reply only: the engine regenerates the latest turn.
        for row, widget in enumerate(self._widgets):
            item = widget.item
            widget.regenerate.setVisible(
                row == len(self._widgets) - 1 and item.role == "assistant" and not item.streaming
            )

    def _remember_follow(self) -> None:
        bar = self.verticalScrollBar()
        self._follow = bar.value() >= bar.maximum() - 24

    def _keep_following(self) -> None:
        # Stay pinned to the newest text while it streams, unless the person scrolled up to read.
        if self._follow:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())

    def scroll_to_end(self) -> None:
        """Show the newest message."""
        self._follow = True
        self._keep_following()
