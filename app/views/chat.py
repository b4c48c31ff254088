"""The chat view: sidebar, the open conversation, the composer, and the streaming reply."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent, QFont, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.models.messages import MessageItem, MessageListModel
from app.operations import chat as chat_ops
from app.operations import documents as docs_ops
from app.session import Session
from app.views.chat_settings import SETTINGS_KEY, ChatSettingsSheet
from app.views.chat_sources import CollectionPicker, open_source
from app.views.messages_view import MessageListView
from app.views.sidebar import ConversationSidebar
from app.views.tool_approval import ToolApproval
from app.widgets import ElidedLabel, error_text, muted, named
from app.workers import StreamTask, Task

MAX_TOOL_ROUNDS = 4  # replies of tool calls in a row, per message sent


class Composer(QPlainTextEdit):
    """The message field; reports Esc itself (a text edit swallows it before any shortcut sees it)."""

    escape_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class ChatView(QWidget):
    """Conversations on the left, the open one in the middle, settings in a side sheet."""

    streaming_changed = Signal(bool)
    reply_finished = Signal(object)  # engine.chat.TurnResult
    reply_failed = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.conversation_id: str | None = None
        self.stream: StreamTask | None = None
        # The reply streaming in, kept here so that it survives switching to another conversation and back.
        self._stream_row = -1  # its row while its conversation is shown, else -1
        self._stream_item: MessageItem | None = None
        self._stream_conversation: str | None = None  # None until a new chat's first turn has stored it
        self._stream_replaces: str | None = None  # regenerate: the reply's stored version, hidden meanwhile
        self._editing: MessageItem | None = None
        self.messages = MessageListModel(self)

        self.sidebar = ConversationSidebar(session)
        self.sheet = ChatSettingsSheet()
        self.sheet.hide()
        self.sheet.load_settings(self._stored_params())

        # Tool calls waiting for the person (engine.tools): one approval at a time, above the composer.
        self.approval: ToolApproval | None = None
        self.tool_choice = "auto"  # "required": the first reply of a send must call an allowed tool
        self._pending_calls: list[Any] = []
        self._tool_task: Task | None = None
        self._tool_rounds = 0
        self._tool_model: str | None = None
        self._tool_conversation: str | None = None  # the conversation whose calls these are

        self.splitter = QSplitter()
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self._build_pane())
        self.splitter.addWidget(self.sheet)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([250, 700, 280])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self._connect_signals()
        self.refresh_models()
        self.reload()

    def _build_pane(self) -> QWidget:
        """The middle: header, the messages (or a placeholder) and everything under them."""
        self.view = MessageListView(self.messages)
        self.placeholder = muted("")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        pane = QWidget()
        pane_layout = QVBoxLayout(pane)
        pane_layout.setContentsMargins(0, 0, 0, 0)
        pane_layout.setSpacing(0)
        pane_layout.addLayout(self._build_header())
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        pane_layout.addWidget(line)
        pane_layout.addWidget(self.view, 1)
        pane_layout.addWidget(self.placeholder, 1)
        pane_layout.addLayout(self._build_bottom())
        return pane

    def _build_header(self) -> QHBoxLayout:
        """The conversation's title, the model picker and the settings button."""
        self.title = ElidedLabel()
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.title.setFont(font)
        self.model_picker = named(QComboBox(), self.tr("Model for this chat"))
        self.model_picker.setMinimumContentsLength(14)
        self.model_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.settings_button = QToolButton()
        self.settings_button.setIcon(theme.icon("settings"))
        self.settings_button.setCheckable(True)
        self.settings_button.setToolTip(self.tr("System prompt and sampling"))
        named(self.settings_button, self.tr("Chat settings"))
        header = QHBoxLayout()
        header.setContentsMargins(16, 8, 8, 4)
        header.addWidget(self.title, 1)
        header.addWidget(QLabel(self.tr("Model:")))
        header.addWidget(self.model_picker)
        header.addWidget(self.settings_button)
        return header

    def _build_bottom(self) -> QVBoxLayout:
        """Under the messages: tool approvals, the edit banner, the collection picker, the composer, status."""
        self.edit_banner = muted("")
        self.cancel_edit = named(QPushButton(self.tr("Cancel edit")), self.tr("Cancel edit"))
        self.cancel_edit.setFlat(True)
        banner = QHBoxLayout()
        banner.addWidget(self.edit_banner, 1)
        banner.addWidget(self.cancel_edit)
        self.banner = QWidget()
        self.banner.setLayout(banner)
        self.banner.hide()
        self.composer = named(Composer(), self.tr("Message"))
        self.composer.setPlaceholderText(self.tr("Message Enclave…  (Ctrl+Enter to send)"))
        self.composer.setFixedHeight(self.composer.fontMetrics().lineSpacing() * 4 + 14)
        self.composer.setTabChangesFocus(True)
        self.send_button = named(QPushButton(self.tr("Send")), self.tr("Send"))
        self.send_button.setIcon(theme.icon("send"))
        self.send_button.setToolTip(self.tr("Send (Ctrl+Enter)"))
        self.stop_button = named(QPushButton(self.tr("Stop")), self.tr("Stop generating"))
        self.stop_button.setIcon(theme.icon("stop"))
        self.stop_button.setToolTip(self.tr("Stop (Esc)"))
        self.stop_button.hide()
        self.status = muted("")
        self.status.setWordWrap(True)
        named(self.status, self.tr("Chat status"))
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        composer_row = QHBoxLayout()
        composer_row.addWidget(self.composer, 1)
        composer_row.addLayout(buttons)
        # Tool calls waiting for the person (engine.tools): one approval at a time, above the composer.
        self.tool_area = QVBoxLayout()
        bottom = QVBoxLayout()
        bottom.setContentsMargins(16, 4, 16, 10)
        bottom.addLayout(self.tool_area)
        bottom.addWidget(self.banner)
        # Under the messages, beside what it changes: the header has no room left at narrow widths.
        self.collections = CollectionPicker(self.session)
        picker_row = QHBoxLayout()
        picker_row.addWidget(self.collections)
        picker_row.addStretch(1)
        bottom.addLayout(picker_row)
        bottom.addLayout(composer_row)
        bottom.addWidget(self.status)
        return bottom

    def _connect_signals(self) -> None:
        """Wire the parts together, and the send/stop shortcuts."""
        self.sidebar.conversation_selected.connect(self.open_conversation)
        self.sidebar.new_requested.connect(self.new_chat)
        self.sidebar.conversation_erased.connect(self._erased)
        self.settings_button.toggled.connect(self.sheet.setVisible)
        self.sheet.system_prompt_edited.connect(self._save_system_prompt)
        self.sheet.params_changed.connect(self._save_params)
        self.model_picker.activated.connect(self._model_picked)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.cancel_edit.clicked.connect(self._end_edit)
        self.view.edit_requested.connect(self.begin_edit)
        self.view.regenerate_requested.connect(self.regenerate)
        self.view.version_requested.connect(self._choose_version)
        self.view.source_requested.connect(self.open_source)
        self.collections.changed.connect(self._collections_picked)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.send)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self._escape)
        self.composer.escape_pressed.connect(self._escape)


    # -- loading -----------------------------------------------------------------------------------

    def reload(self) -> None:
        """Reload conversations and open the newest one (or an empty new chat)."""
        self.collections.refresh()
        self.sidebar.refresh()
        first = self.sidebar.model.conversation(0)
        if first is not None:
            self.open_conversation(first.id)
        else:
            self.new_chat()

    def refresh_models(self) -> None:
        """Fill the model picker with every model the engine offers (local ones first, then those of
        upstreams and servers, marked with where they run), keeping the choice when it still exists."""
        current = self.model_picker.currentData()
        self.model_picker.clear()
        default = self.session.registry.default_name()
        for model in self.session.engine.models():
            if model.served_by == "remote":  # a paired server's: `SERVER/MODEL`, shown as “MODEL — on SERVER”
                short = model.name.partition("/")[2]
                label = self.tr("{model} — on {server}").format(model=short, server=model.origin)
            elif not model.is_local:
                label = self.tr("{model} (on {server})").format(model=model.name, server=model.origin)
            else:
                label = model.name + (self.tr(" (default)") if model.name == default else "")
            self.model_picker.addItem(label, model.name)
        self._pick_model(current or default)
        self.model_picker.setEnabled(self.model_picker.count() > 0)

    def _pick_model(self, name: str | None) -> None:
        index = self.model_picker.findData(name) if name else -1
        if index < 0:
            index = self.model_picker.findData(self.session.registry.default_name())
        if index >= 0:
            self.model_picker.setCurrentIndex(index)

    def open_conversation(self, conversation_id: str | None) -> None:
        """Show a stored conversation (None: a new, empty chat); a reply streaming elsewhere goes on."""
        if conversation_id is None:
            self.new_chat()
            return
        vault = self.session.vault
        conversation = vault.conversations.get(conversation_id)
        self.conversation_id = conversation_id
        self._end_edit()
        stored = vault.conversations.messages(conversation_id)
        streaming_here = self.stream is not None and conversation_id == self._stream_conversation
        if streaming_here:
            stored = [m for m in stored if m.id != self._stream_replaces]
        self.messages.set_messages(stored)
        self._stream_row = -1
        if streaming_here and self._stream_item is not None:
            self._stream_row = self.messages.append(self._stream_item)
        self._update_streaming_controls()
        self._set_title(conversation.title)
        self._pick_model(conversation.model)
        self.sheet.set_system_prompt(conversation.system_prompt)
        self.collections.set_chosen(docs_ops.stored_collections(self.session, conversation_id))
        self.sidebar.select(conversation_id)
        self._show_placeholder()
        self.view.scroll_to_end()

    def _set_title(self, title: str) -> None:
        # A long title is elided to the header's width (the whole of it in the tooltip), never a scroll bar.
        self.title.set_full_text(title)

    def new_chat(self) -> None:
        """Start an empty chat; it is stored when the first message is sent (a reply streaming elsewhere goes on)."""
        self.conversation_id = None
        self._end_edit()
        self.messages.clear()
        self.collections.set_chosen([])  # a new chat answers from documents once some are picked for it
        self._stream_row = -1
        self._update_streaming_controls()
        self._set_title(self.tr("New chat"))
        self._pick_model(self.session.registry.default_name())
        self.sheet.set_system_prompt(None)
        self.sidebar.select(None)
        self._show_placeholder()
        self.composer.setFocus()

    def _show_placeholder(self) -> None:
        empty = self.messages.rowCount() == 0
        if not self.model_picker.count():
            text = self.tr("No model yet. Import a GGUF file on the Models page to start chatting.")
        else:
            text = self.tr("Ask anything. Your messages and the replies stay on this computer, encrypted.")
            record = self._picked_record()
            if record is not None and record.is_base_model:
                text += "\n\n" + self.tr(
                    "{name} is a base model: it continues your text rather than following instructions."
                ).format(name=record.name)
        self.placeholder.setText(text)
        self.placeholder.setVisible(empty)
        self.view.setVisible(not empty)

    def _picked_record(self) -> Any:
        name = self.model_picker.currentData()
        try:
            return self.session.registry.get(name) if name else None
        except Exception:  # noqa: BLE001 (removed meanwhile: no hint)
            return None

    def _erased(self, conversation_id: str) -> None:
        if conversation_id == self.conversation_id:
            self.conversation_id = None

    # -- settings --------------------------------------------------------------------------------

    def _stored_params(self) -> dict[str, Any] | None:
        value = self.session.vault.settings.get(SETTINGS_KEY)
        return value if isinstance(value, dict) else None

    def _save_params(self) -> None:
        self.session.vault.settings.set(SETTINGS_KEY, self.sheet.to_settings())

    def _save_system_prompt(self, text: str) -> None:
        if self.conversation_id is not None:
            self.session.vault.conversations.set_system_prompt(self.conversation_id, text.strip() or None)

    def _collections_picked(self) -> None:
        docs_ops.choose_collections(self.session, self.conversation_id, self.collections.chosen())

    def open_source(self, source: dict[str, Any]) -> Task | None:
        """Show a source cited under an answer in its document (`self.passage_dialog`)."""
        self.passage_task = open_source(self, self.session, source)
        return self.passage_task

    def _model_picked(self) -> None:
        name = self.model_picker.currentData()
        if self.conversation_id is not None and name:
            self.session.vault.conversations.set_model(self.conversation_id, name)
        self._show_placeholder()

    # -- sending ---------------------------------------------------------------------------------

    def send(self) -> None:
        """Send the composer's text (Ctrl+Enter); replaces the message being edited, if any."""
        text = self.composer.toPlainText().strip()
        if not text:
            return
        if self.stream is not None:
            self.status.setText(self.tr("Wait until the reply being written has finished, or stop it."))
            return
        if self._tools_busy():
            self.status.setText(self.tr("Approve or deny the tool call first."))
            return
        if not self.model_picker.count():
            self.status.setText(self.tr("Import a model first (Models page)."))
            return
        params, model = self.sheet.params(), self.model_picker.currentData()
        conversation_id = self.conversation_id
        if self._editing is not None and conversation_id is not None and self._editing.id:
            message_id = self._editing.id
            row = next((i for i, m in enumerate(self.messages.items()) if m.id == message_id), -1)
            self.messages.remove_from(row)
            stream = chat_ops.edit_and_resend(self, self.session, conversation_id, message_id, text, params)
        else:
            system = self.sheet.system_prompt_text() if conversation_id is None else None
            if self.collections.chosen():  # answered from the documents, with sources
                stream = docs_ops.ask(self, self.session, text, self.collections.chosen(),
                                      conversation_id=conversation_id, model=model, params=params,
                                      system_prompt=system)
            else:
                stream = chat_ops.send(self, self.session, text, conversation_id=conversation_id, model=model,
                                       params=params, system_prompt=system, tool_choice=self.tool_choice)
        self._tool_rounds = 0
        self._end_edit()
        self.composer.clear()
        self.messages.append(MessageItem("user", text))
        self._start_stream(stream, model)

    def regenerate(self) -> None:
        """Replace the last reply with a new one."""
        if self.stream is not None or self.conversation_id is None:
            return
        items = self.messages.items()
        if not items or items[-1].role != "assistant":
            return
        params, model = self.sheet.params(), self.model_picker.currentData()
        self.messages.remove_from(len(items) - 1)
        if self.collections.chosen():  # answered from the documents again, with its own sources
            stream = docs_ops.regenerate(self, self.session, self.conversation_id, self.collections.chosen(),
                                         model, params)
        else:
            stream = chat_ops.regenerate(self, self.session, self.conversation_id, model, params)
        self._start_stream(stream, model, replaces=items[-1].id)

    def _choose_version(self, item: MessageItem, index: int) -> None:
        """Show another version of a regenerated reply; the next turn sends the one shown."""
        if self.conversation_id is None or item.id is None or self.stream is not None:
            return
        try:
            self.session.vault.conversations.choose_alternative(self.conversation_id, item.id, index)
        except Exception as exc:  # noqa: BLE001 (shown to the person)
            self.status.setText(error_text(exc))
            return
        self.open_conversation(self.conversation_id)

    def _start_stream(self, stream: StreamTask, model: str | None, *, replaces: str | None = None) -> None:
        self._stream_item = MessageItem("assistant", "", metadata={"model": model} if model else None, streaming=True)
        self._stream_row = self.messages.append(self._stream_item)
        self._stream_conversation = self.conversation_id
        self._stream_replaces = replaces
        self._show_placeholder()
        self.status.setText("")
        stream.chunk.connect(self._chunk)
        stream.loading.connect(self._loading)
        stream.started.connect(self._started)
        stream.succeeded.connect(self._finished)
        stream.failed.connect(self._failed)
        self.stream = stream
        self._set_streaming(True)
        stream.start()

    def _set_stream_item(self, item: MessageItem) -> None:
        self._stream_item = item
        if 0 <= self._stream_row < self.messages.rowCount():
            self.messages.set_item(self._stream_row, item)

    def _loading(self, model: str, fraction: float) -> None:
        if self._stream_item is not None:
            self._set_stream_item(replace(self._stream_item, loading=model, load_fraction=fraction))

    def _started(self, turn: Any) -> None:
        if self._stream_item is not None:
            self._set_stream_item(replace(self._stream_item, loading=None, started=True, thinks=bool(turn.thinks)))
        if self._stream_conversation is None and turn.conversation_id is not None:
            # A new chat's first turn: it is stored now, and listed; shown as itself if still on screen.
            self._stream_conversation = turn.conversation_id
            if self._stream_row >= 0:
                self.conversation_id = turn.conversation_id
            self.sidebar.refresh(self.conversation_id)
        self.sidebar.streaming_id = self._stream_conversation

    def stop(self) -> None:
        """Stop the reply (Esc): the engine cancels within one token and keeps what was written."""
        if self.stream is not None:
            self.stream.stop()
            self.status.setText(self.tr("Stopping…"))

    def _escape(self) -> None:
        if self.stream is not None:
            self.stop()
        elif self._editing is not None:
            self._end_edit()

    def _chunk(self, text: str) -> None:
        if self._stream_item is None:
            return
        self._stream_item = replace(self._stream_item, content=self._stream_item.content + text, loading=None)
        if 0 <= self._stream_row < self.messages.rowCount():
            self.messages.append_text(self._stream_row, text)

    def _end_stream(self) -> bool:
        """Forget the finished stream; True when its conversation is the one on screen."""
        shown = self._stream_row >= 0
        self.stream = None
        self._stream_item = None
        self._stream_row = -1
        self._stream_replaces = None
        self.sidebar.streaming_id = None
        self._set_streaming(False)
        return shown

    def refresh_collections(self) -> None:
        """The Documents page changed the collections: list them again in the picker."""
        self.collections.refresh()

    def _finished(self, result: Any) -> None:
        row, regenerated = self._stream_row, self._stream_replaces is not None
        shown = self._end_stream()
        if shown:
            self.conversation_id = result.conversation_id
        if self.session.vault.is_locked:
            return  # locked (or quitting) while the reply finished: it is stored, show it after unlock
        self.status.setText("")
        self.sidebar.refresh(self.conversation_id)  # the list's order (the conversation moves to the top)
        if not shown:  # the person is reading another conversation: the reply is stored, the list says so
            self.reply_finished.emit(result)
            return
        if regenerated:
            self.open_conversation(self.conversation_id)  # the reply now shows its versions, ‹ n/n ›
        elif 0 <= row < self.messages.rowCount():
            # The rows get the ids the engine stored them under (edit, regenerate need them): no reload
            # and decryption of the whole conversation.
            self.messages.finish(row, result.label, result.message_id)
            if result.user_message_id is not None:
                self.messages.set_id(row - 1, result.user_message_id)
        if self.conversation_id is not None:
            self._set_title(self.session.vault.conversations.get(self.conversation_id).title)
            self.sidebar.select(self.conversation_id)
        if QAccessible.isActive():  # a screen reader user hears that the reply is there to read
            QAccessible.updateAccessibility(QAccessibleAnnouncementEvent(self, self.tr("The reply is complete.")))
        self.reply_finished.emit(result)
        if result.calls and result.conversation_id is not None:
            self._tool_model = self.model_picker.currentData()
            self._tool_conversation = result.conversation_id
            self._pending_calls = list(result.calls)
            self._next_call()

    # -- tool calls ------------------------------------------------------------------------------

    def _tools_busy(self) -> bool:
        return bool(self._pending_calls) or self.approval is not None or self._tool_task is not None

    def _next_call(self) -> None:
        """Ask about the next call of the reply (or run it, if always allowed); then let the model go on."""
        if not self._pending_calls:
            self._continue_after_tools()
            return
        call = self._pending_calls.pop(0)
        tools = self.session.engine.tools
        if not tools.needs_approval(call):
            self._run_call(call, True)
            return
        server, tool = tools.describe(call)
        self.approval = ToolApproval(call, server, tool)
        self.approval.decided.connect(self._run_call)
        self.tool_area.addWidget(self.approval)
        self.approval.show()
        self.approval.approve.setFocus()
        self._update_streaming_controls()

    def _run_call(self, call: Any, approved: bool) -> None:
        if self.approval is not None:
            self.approval.hide()
            self.approval.deleteLater()
            self.approval = None
        self.status.setText(self.tr("Running the tool…") if approved else "")
        self._tool_task = (
            chat_ops.run_tool(self, self.session, self._tool_conversation, call, approved=approved)
            .on_success(self._tool_done)
            .on_failure(self._tool_failed)
        )
        self._tool_task.start()

    def _tool_done(self, outcome: Any) -> None:
        self._tool_task = None
        self.status.setText("")
        metadata = {"tool": outcome.call.name, "decision": outcome.decision, "is_error": outcome.is_error}
        if self.conversation_id == self._tool_conversation:  # stored either way; shown if on screen
            self.messages.append(MessageItem("tool", outcome.text, outcome.message_id, metadata))
        self._next_call()

    def _tool_failed(self, exc: BaseException) -> None:
        self._tool_task = None
        self._pending_calls = []
        self.status.setText(self.tr("The tool call failed: {error}").format(error=error_text(exc)))
        self._update_streaming_controls()

    def _continue_after_tools(self) -> None:
        """The model reads the results and goes on (a bounded number of rounds per message)."""
        self._update_streaming_controls()
        if self._tool_conversation is None or self.conversation_id != self._tool_conversation:
            return  # the person went to another conversation: that one's model goes on when asked again
        self._tool_rounds += 1
        if self._tool_rounds > MAX_TOOL_ROUNDS:
            self.status.setText(self.tr("Stopped after {count} rounds of tool calls.").format(count=MAX_TOOL_ROUNDS))
            return
        params = self.sheet.params()
        self._start_stream(chat_ops.resume(self, self.session, self.conversation_id, self._tool_model, params),
                           self._tool_model)

    def _failed(self, exc: BaseException) -> None:
        row = self._stream_row
        shown = self._end_stream()
        if self.session.vault.is_locked:
            return
        text = error_text(exc)
        self.status.setText(self.tr("The reply failed: {error}").format(error=text))
        if not shown:
            self.sidebar.refresh(self.conversation_id)
        elif self.conversation_id is not None:
            self.sidebar.refresh(self.conversation_id)
            self.open_conversation(self.conversation_id)
        else:
            self.messages.remove_from(row)
            self._show_placeholder()
        self.reply_failed.emit(text)

    def _set_streaming(self, streaming: bool) -> None:
        self._update_streaming_controls()
        self.streaming_changed.emit(streaming)

    def _update_streaming_controls(self) -> None:
        # Stop belongs to the conversation whose reply streams; elsewhere Send waits for it to finish.
        streaming = self.stream is not None
        here = streaming and self._stream_row >= 0
        self.send_button.setVisible(not here)
        self.send_button.setEnabled(not streaming)
        self.send_button.setToolTip(
            self.tr("A reply is being written in another chat; send when it has finished.")
            if streaming
            else self.tr("Send (Ctrl+Enter)")
        )
        self.stop_button.setVisible(here)
        self.model_picker.setEnabled(not here and self.model_picker.count() > 0)

    # -- editing ---------------------------------------------------------------------------------

    def begin_edit(self, item: MessageItem) -> None:
        """Put a sent message back in the composer; sending replaces it and everything after."""
        if self.stream is not None or item.id is None:
            return
        self._editing = item
        self.composer.setPlainText(item.content)
        self.edit_banner.setText(self.tr("Editing a message: sending replaces it and the replies after it."))
        self.banner.show()
        self.composer.setFocus()

    def _end_edit(self) -> None:
        if self._editing is not None:
            self.composer.clear()
        self._editing = None
        self.banner.hide()

    # -- focus helpers for window shortcuts -----------------------------------------------------

    def focus_search(self) -> None:
        """Ctrl+K."""
        self.sidebar.focus_search()

    def busy(self) -> bool:
        """True while a reply is streaming or a tool call is waiting or running."""
        return self.stream is not None or self._tools_busy()

    def apply_icons(self) -> None:
        """Re-tint icons after a light/dark switch."""
        self.send_button.setIcon(theme.icon("send"))
        self.stop_button.setIcon(theme.icon("stop"))
        self.settings_button.setIcon(theme.icon("settings"))
        self.sidebar.new_button.setIcon(theme.icon("new"))
