"""The Privacy view: telemetry statement, where data lives, passphrase, auto-lock, retention, export,
erase, and the audit log with its verification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import i18n, theme
from app.audit_names import actor_label, describe_details, event_label
from app.dialogs.confirm import TypedConfirmDialog
from app.dialogs.passphrase import ChangePassphraseDialog
from app.models.records import Column, RecordTableModel
from app.operations import documents as docs_ops
from app.operations import privacy as privacy_ops
from app.session import Session
from app.views.backup import BackupPanel
from app.views.compliance import CompliancePanel
from app.widgets import Banner, DeliberateComboBox, ElidedLabel, error_text, human_time, muted, named, shrinkable
from app.workers import Task
from engine.policy import subjects
from engine.vault.core import BACKUP_DIR, db_path

RETENTION_CHOICES = (0, 7, 30, 90, 365)


def _details(details: dict[str, object]) -> str:
    """An audit entry's details as stored, `name: value` pairs (the tooltip, to match `enclave audit show`)."""
    parts = []
    for key, value in details.items():
        if value in (None, "", [], {}):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        parts.append(f"{key}: {json.dumps(shown, ensure_ascii=False) if isinstance(shown, dict) else shown}")
    return " · ".join(parts)


class PrivacyView(QWidget):
    """Everything about what Enclave keeps, and for how long."""

    history_changed = Signal()
    autolock_changed = Signal(int)
    audit_verified = Signal(bool)
    export_finished = Signal(object)  # Path, or the exception
    language_chosen = Signal(str)  # "", "en" or "zh_CN"

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        boxes = [self._build_statement(), self._build_language(), self._build_places()]
        self.backup = BackupPanel(session)
        boxes += [self.backup, self._build_security(), self._build_history()]
        # -- data protection (legal hold, data subjects, processing record, model allowlist)
        self.compliance = CompliancePanel(session)
        boxes.append(self.compliance)
        self._build_layout(boxes, self._build_audit())
        self._connect()
        self.reload()

    def _build_statement(self) -> QGroupBox:
        """What leaves this computer: nothing."""
        # -- statement
        statement = QGroupBox(self.tr("What leaves this computer"))
        telemetry = QLabel(self.tr("Telemetry: none."))
        telemetry.setObjectName("bigStatement")
        statement_layout = QVBoxLayout(statement)
        statement_layout.addWidget(telemetry)
        statement_layout.addWidget(muted(self.tr(
            "Enclave sends nothing anywhere: no usage statistics, no crash reports, no update checks. "
            "Models run here; conversations, settings and logs are stored encrypted with your passphrase."
        )))
        return statement

    def _build_places(self) -> QGroupBox:
        """Where the data folder, vault, models and backups are."""
        # -- where data lives
        home = self.session.home
        places = QGroupBox(self.tr("Where your data lives"))
        places_form = QFormLayout(places)
        for label, path in (
            (self.tr("Data folder:"), home),
            (self.tr("Encrypted vault:"), db_path(home)),
            (self.tr("Models:"), self.session.registry.folder),
            (self.tr("Backups:"), home / BACKUP_DIR),
        ):
            # A path has no spaces to wrap at: it is elided in the middle (whole in the tooltip) instead.
            value = ElidedLabel(str(path), mode=Qt.TextElideMode.ElideMiddle)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            places_form.addRow(label, value)
        self.open_folder = named(QPushButton(theme.icon("folder"), self.tr("Open data folder")),
                                 self.tr("Open data folder"))
        places_form.addRow("", self.open_folder)
        return places

    def _build_security(self) -> QGroupBox:
        """Passphrase, this device, auto-lock and retention."""
        # -- security and retention
        security = QGroupBox(self.tr("Passphrase and retention"))
        self.change_passphrase = named(QPushButton(theme.icon("lock"), self.tr("Change passphrase…")),
                                       self.tr("Change passphrase"))
        self.autolock = named(QSpinBox(), self.tr("Lock after minutes without activity"))
        self.autolock.setRange(0, 24 * 60)
        self.autolock.setSpecialValueText(self.tr("never"))
        self.autolock.setSuffix(self.tr(" min"))
        # Changes only by a choice from its open list: a wheel or an arrow key passing over it must not
        # set a rule that erases data.
        self.retention = named(DeliberateComboBox(), self.tr("Keep conversations and request logs for"))
        for days in RETENTION_CHOICES:
            self.retention.addItem(self.tr("Forever") if not days else self.tr("%n day(s)", "", days), days)
        security_form = QFormLayout(security)
        security_form.addRow(self.tr("Passphrase:"), self.change_passphrase)
        security_form.addRow(self.tr("Auto-lock after:"), self.autolock)
        security_form.addRow(self.tr("Keep history for:"), self.retention)
        security_form.addRow("", muted(self.tr(
            "Conversations untouched for longer are erased for good, and older API request records deleted."
        )))

        self.device_state = muted("")
        named(self.device_state, self.tr("Whether this device remembers the passphrase"))
        self.forget_device = named(QPushButton(theme.icon("trash"), self.tr("Forget this device")),
                                   self.tr("Forget the passphrase remembered on this device"))
        device_row = QVBoxLayout()
        device_row.addWidget(self.device_state)
        device_row.addWidget(self.forget_device, 0, Qt.AlignmentFlag.AlignLeft)
        security_form.insertRow(1, self.tr("This device:"), device_row)
        return security

    def _build_language(self) -> QGroupBox:
        """The display language."""
        # -- language
        language_box = QGroupBox(self.tr("Language"))
        self.language = named(QComboBox(), self.tr("Display language"))
        self.language.addItem(
            self.tr("Same as the system ({language})").format(
                language=i18n.LANGUAGE_NAMES[i18n.system_language()]), "")
        for code in i18n.LANGUAGES:
            self.language.addItem(i18n.LANGUAGE_NAMES[code], code)
        language_form = QFormLayout(language_box)
        language_form.addRow(self.tr("Display language:"), self.language)
        language_form.addRow("", muted(self.tr("Dates, numbers and file sizes follow the language. "
                                               "The change applies at once.")))
        return language_box

    def _build_history(self) -> QGroupBox:
        """Export and erase conversations."""
        # -- export and erase
        history = QGroupBox(self.tr("Export and erase"))
        self.conversation = shrinkable(named(QComboBox(), self.tr("Conversation")))
        self.export_one = named(QPushButton(theme.icon("export"), self.tr("Export…")),
                                self.tr("Export this conversation"))
        self.erase_one = named(QPushButton(theme.icon("trash"), self.tr("Erase…")), self.tr("Erase this conversation"))
        self.export_all = named(QPushButton(theme.icon("export"), self.tr("Export all…")),
                                self.tr("Export all conversations"))
        self.erase_all = named(QPushButton(theme.icon("trash"), self.tr("Erase everything…")),
                               self.tr("Erase all conversations"))
        self.history_status = muted("")
        named(self.history_status, self.tr("Export and erase status"))
        one = QHBoxLayout()
        one.addWidget(self.conversation, 1)
        one.addWidget(self.export_one)
        one.addWidget(self.erase_one)
        everything = QHBoxLayout()
        everything.addWidget(self.export_all)
        everything.addWidget(self.erase_all)
        everything.addStretch(1)
        history_layout = QVBoxLayout(history)
        history_layout.addLayout(one)
        history_layout.addLayout(everything)
        history_layout.addWidget(muted(self.tr(
            "Exports are plain, unencrypted JSON: keep them somewhere safe. Erasing destroys the "
            "conversation's key, so its text can never be decrypted again."
        )))
        history_layout.addWidget(self.history_status)
        return history

    def _build_audit(self) -> QGroupBox:
        """The audit log table and its verification."""
        # -- audit
        audit = QGroupBox(self.tr("Audit log"))
        self.collection_names: dict[str, str] = {}
        self.audit = RecordTableModel([
            Column(self.tr("#"), lambda e: str(e.seq), True),
            Column(self.tr("Time"), lambda e: human_time(e.time)),
            Column(self.tr("Event"), lambda e: event_label(e.event), tooltip=lambda e: e.event),
            Column(self.tr("By"), lambda e: actor_label(e.actor), tooltip=lambda e: e.actor),
            Column(self.tr("Details"), lambda e: describe_details(e.event, e.details, self.collection_names),
                   tooltip=lambda e: describe_details(e.event, e.details, self.collection_names) + "\n\n"
                   + _details(e.details)),
        ], self)
        self.audit_table = named(QTableView(), self.tr("Audit log entries"))
        self.audit_table.setModel(self.audit)
        self.audit_table.verticalHeader().hide()
        self.audit_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # Short columns fit their contents; the details take the rest and wrap, so the table never
        # scrolls sideways (the full text, and the stored names an auditor matches with
        # `enclave audit show`, are in the tooltip).
        audit_header = self.audit_table.horizontalHeader()
        audit_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        audit_header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.audit_table.setWordWrap(True)
        self.audit_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Two lines a row, elided past that: measuring every row of a long log would slow each refresh.
        self.audit_table.verticalHeader().setDefaultSectionSize(self.audit_table.fontMetrics().lineSpacing() * 2 + 10)
        self.audit_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verify = named(QPushButton(theme.icon("check"), self.tr("Verify chain")), self.tr("Verify the audit log"))
        self.audit_status = QLabel("")
        named(self.audit_status, self.tr("Audit verification result"))
        audit_top = QHBoxLayout()
        audit_top.addWidget(muted(self.tr("Every unlock, key change, export and erase, chained so edits show.")), 1)
        audit_top.addWidget(self.verify)
        audit_layout = QVBoxLayout(audit)
        audit_layout.addLayout(audit_top)
        audit_layout.addWidget(self.audit_status)
        audit_layout.addWidget(self.audit_table, 1)
        return audit

    def _build_layout(self, boxes: list[QWidget], audit: QGroupBox) -> None:
        """The scrolling left column of boxes beside the audit log, under the title and banner."""
        title = QLabel(self.tr("Privacy"))
        title.setObjectName("bigStatement")
        left_widget = QWidget()
        left = QVBoxLayout(left_widget)
        left.setContentsMargins(0, 0, 0, 0)
        for box in boxes:
            left.addWidget(box)
        left.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(left_widget)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # its content wraps or elides
        columns = QHBoxLayout()
        columns.addWidget(scroll, 1)
        columns.addWidget(audit, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(title)
        # Results of export, backup, restore, a passphrase change: up here, not below the fold.
        self.banner = Banner()
        layout.addWidget(self.banner)
        layout.addLayout(columns, 1)

    def _connect(self) -> None:
        """Wire the controls to their slots."""
        self.open_folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.session.home))))
        self.change_passphrase.clicked.connect(self._change_passphrase)
        self.autolock.valueChanged.connect(self._autolock_set)
        self.retention.activated.connect(lambda _: self._retention_set())
        self.export_one.clicked.connect(lambda: self.choose_export(self.conversation.currentData()))
        self.export_all.clicked.connect(lambda: self.choose_export(None))
        self.erase_one.clicked.connect(self.confirm_erase_one)
        self.erase_all.clicked.connect(self.confirm_erase_all)
        self.verify.clicked.connect(self.verify_audit)
        self.language.activated.connect(lambda _: self.language_chosen.emit(str(self.language.currentData())))
        self.forget_device.clicked.connect(self.forget_this_device)
        self.backup.notice.connect(lambda text, error: self.banner.show_message(text, error=error))
        self.compliance.history_changed.connect(self.refresh)
        self.compliance.history_changed.connect(self.history_changed)

    # -- loading -----------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read settings, conversations and the audit log (also after unlock)."""
        vault = self.session.vault
        self.autolock.blockSignals(True)
        self.autolock.setValue(privacy_ops.autolock_minutes(self.session))
        self.autolock.blockSignals(False)
        self._show_retention(privacy_ops.retention_days(self.session))
        language = i18n.chosen(vault.settings.get(i18n.LANGUAGE_KEY))
        self.language.setCurrentIndex(max(self.language.findData(language), 0))
        self.show_device_state()
        self.refresh()

    def on_shown(self) -> None:
        """Refresh when the view comes to the front."""
        self.refresh()

    def refresh(self) -> None:
        """Reload the conversation picker and the audit log."""
        vault = self.session.vault
        current = self.conversation.currentData()
        self.conversation.clear()
        for conversation in vault.conversations.list():
            self.conversation.addItem(conversation.title, conversation.id)
        if current is not None and self.conversation.findData(current) >= 0:
            self.conversation.setCurrentIndex(self.conversation.findData(current))
        has_any = self.conversation.count() > 0
        for button in (self.export_one, self.erase_one, self.export_all, self.erase_all):
            button.setEnabled(has_any)
        # Newest first: what happened last is what a person looks for.
        self.collection_names = docs_ops.collection_names(self.session)  # the chain keeps ids only
        self.audit.set_records(list(reversed(vault.audit.entries())))
        self.compliance.refresh()

    # -- settings ----------------------------------------------------------------------------------

    def _change_passphrase(self) -> None:
        dialog = ChangePassphraseDialog(self.session.vault, self, kdf=self.session.kdf, home=self.session.home)
        if dialog.exec():
            self.banner.show_message(self.tr(
                "✔ Passphrase changed. Use the new one from now on; your recovery key stays the same."))
            self.refresh()

    def show_device_state(self) -> None:
        """Say whether this device's keyring holds the passphrase, and offer to forget it."""
        remembered = privacy_ops.device_remembers(self.session)
        if remembered:
            text = self.tr("Remembers the passphrase in the system keyring: Enclave opens without asking.")
        elif privacy_ops.keyring_available():
            text = self.tr("Asks for the passphrase at every start.")
        else:
            text = self.tr("Asks for the passphrase at every start (this system has no keyring).")
        self.device_state.setText(text)
        self.forget_device.setEnabled(remembered)

    def forget_this_device(self) -> None:
        """Remove the passphrase from the system keyring: the next start asks for it again."""
        privacy_ops.forget_device(self.session)
        self.show_device_state()
        self.history_status.setText(self.tr("This device no longer remembers the passphrase."))

    def _autolock_set(self, minutes: int) -> None:
        privacy_ops.set_autolock_minutes(self.session, minutes)
        self.autolock_changed.emit(minutes)

    def retention_days(self) -> int | None:
        """The rule in force for the categories this view sets (None: forever)."""
        return privacy_ops.retention_days(self.session)

    def _show_retention(self, days: int | None) -> None:
        index = self.retention.findData(days or 0)
        if index < 0:  # set from the CLI to a value this list does not offer: show it as it is
            self.retention.addItem(self.tr("%n day(s)", "", days or 0), days or 0)
            index = self.retention.count() - 1
        self.retention.setCurrentIndex(index)

    def _retention_set(self) -> Task | None:
        """A new choice: count what it would erase now (a dry run); ask when that is anything; then apply."""
        days = int(self.retention.currentData()) or None
        if days == self.retention_days():
            return None
        self.retention.setEnabled(False)
        return privacy_ops.preview_retention(self, self.session, days).on_success(
            lambda counts: self._retention_previewed(days, counts)).on_failure(self._retention_failed).start()

    def _retention_previewed(self, days: int | None, counts: dict[str, int]) -> None:
        if privacy_ops.erases_anything(counts) and not self.confirm_retention(days, counts):
            self.retention.setEnabled(True)
            self._show_retention(self.retention_days())
            self.history_status.setText(self.tr("Retention unchanged; nothing was erased."))
            return
        privacy_ops.apply_retention(self, self.session, days).on_success(self._retention_done).on_failure(
            self._retention_failed).start()

    def _erased_items(self, counts: dict[str, int]) -> str:
        """Counts per category in words: "3 conversations; 12 API request records"."""
        parts = []
        if counts.get("conversations"):
            parts.append(self.tr("%n conversation(s)", "", counts["conversations"]))
        if counts.get("api_metadata"):
            parts.append(self.tr("%n API request record(s)", "", counts["api_metadata"]))
        if counts.get("api_content"):
            parts.append(self.tr("the prompt and reply texts of %n API request(s)", "", counts["api_content"]))
        return self.tr("; ").join(parts)

    def retention_question(self, days: int | None, counts: dict[str, int]) -> str:
        """What a retention change will erase now, in words."""
        period = self.tr("%n day(s)", "", days) if days else self.tr("forever")
        return self.tr(
            "Keeping history for {period} erases now, for good: {items}. This cannot be undone."
        ).format(period=period, items=self._erased_items(counts))

    def confirm_retention(self, days: int | None, counts: dict[str, int]) -> bool:
        """Ask before a retention change that erases data; True to go ahead."""
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Erase old data?"),
                          self.retention_question(days, counts), QMessageBox.StandardButton.Cancel, self)
        erase = box.addButton(self.tr("Erase and apply"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is erase

    def _retention_done(self, counts: dict[str, int]) -> None:
        self.retention.setEnabled(True)
        if privacy_ops.erases_anything(counts):
            self.history_status.setText(self.tr("Old data erased: {items}.").format(items=self._erased_items(counts)))
            self.history_changed.emit()
        else:
            self.history_status.setText(self.tr("Retention changed; nothing needed erasing yet."))
        self.refresh()

    def _retention_failed(self, exc: BaseException) -> None:
        self.retention.setEnabled(True)
        self._show_retention(self.retention_days())
        self.history_status.setText(error_text(exc))

    # -- export ------------------------------------------------------------------------------------

    def choose_export(self, conversation_id: str | None) -> None:
        """Ask where to write the export, then write it in the background."""
        name, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export conversations"), str(Path.home() / "enclave-export.json"),
            self.tr("JSON files (*.json)"),
        )
        if name:
            self.export(Path(name), conversation_id)

    def export(self, path: Path, conversation_id: str | None) -> Task:
        """Write plaintext JSON of one or every conversation."""
        self.history_status.setText(self.tr("Exporting…"))
        return privacy_ops.export(self, self.session, path, conversation_id).on_success(self._exported).on_failure(
            self._export_failed).start()

    def _exported(self, path: Path) -> None:
        text = self.tr("Exported to {path}. The file is not encrypted: keep it somewhere safe.").format(path=path)
        self.history_status.setText(text)
        self.banner.show_message(text)
        self.refresh()
        self.export_finished.emit(path)

    def _export_failed(self, exc: BaseException) -> None:
        text = self.tr("Export failed: {error}").format(error=error_text(exc))
        self.history_status.setText(text)
        self.banner.show_message(text, error=True)
        self.export_finished.emit(exc)

    # -- erase -------------------------------------------------------------------------------------

    def confirm_erase_one(self) -> None:
        """Erase the picked conversation once its confirmation word is typed."""
        conversation_id = self.conversation.currentData()
        if conversation_id is None:
            return
        dialog = TypedConfirmDialog(
            self.tr("Erase conversation"),
            self.tr("“{title}” will be erased for good. This cannot be undone.").format(
                title=self.conversation.currentText()
            ),
            self.tr("ERASE"), self.tr("Erase"), self,
        )
        if dialog.exec():
            self.erase(conversation_id)

    def confirm_erase_all(self) -> None:
        """Erase every conversation once its confirmation words are typed."""
        dialog = TypedConfirmDialog(
            self.tr("Erase everything"),
            self.tr(
                "All {count} conversations, and the texts of the API request log, will be erased for good. "
                "This cannot be undone."
            ).format(
                count=self.conversation.count()
            ),
            self.tr("ERASE ALL"), self.tr("Erase everything"), self,
        )
        if dialog.exec():
            self.erase(None)

    def erase(self, conversation_id: str | None) -> Task:
        """Crypto-shred one conversation, or all of them and the API request log's texts (in the background)."""
        if conversation_id is None:
            self.history_status.setText(self.tr("Erasing…"))
            return privacy_ops.erase_everything(self, self.session).on_success(self._erased_all).on_failure(
                self._erase_failed).start()
        return privacy_ops.erase_conversation(self, self.session, conversation_id).on_success(
            self._erased_one).on_failure(self._erase_failed).start()

    def _erased_one(self, _result: object) -> None:
        self.history_status.setText(self.tr("Conversation erased."))
        self.refresh()
        self.history_changed.emit()

    def _erased_all(self, erased: subjects.Erased) -> None:
        self.history_status.setText(self.tr("%n conversation(s) erased.", "", erased.conversations))
        self.refresh()
        self.history_changed.emit()

    def _erase_failed(self, exc: BaseException) -> None:
        self.history_status.setText("")
        QMessageBox.warning(self, self.tr("Erase failed"), error_text(exc))
        self.refresh()
        self.history_changed.emit()

    # -- audit -------------------------------------------------------------------------------------

    def verify_audit(self) -> Task:
        """Check every link of the audit chain in the background; the table then shows exactly what was checked."""
        self.audit_status.setObjectName("mutedLabel")
        self.audit_status.setText(self.tr("Verifying…"))
        return privacy_ops.verify_audit(self, self.session).on_success(self._verified_entries).on_failure(
            self._verified).start()

    def _verified_entries(self, entries: list[Any]) -> None:
        # The count and the table come from one read of the chain, so they agree.
        self.collection_names = docs_ops.collection_names(self.session)
        self.audit.set_records(list(reversed(entries)))
        self._verified(None, entries)

    def _verified(self, exc: BaseException | None, entries: list[Any] | None = None) -> None:
        if exc is None:
            entries = entries or []
            self.audit_status.setObjectName("okLabel")
            text = self.tr("✔ The audit chain is intact: all %n entries shown are linked and unaltered.", "",
                           len(entries))
            if entries and entries[0].seq > 1:
                text += " " + self.tr("Entries #1 to #{last} were removed by the retention rule; the chain "
                                      "records where it now starts.").format(last=entries[0].seq - 1)
            self.audit_status.setText(text)
        else:
            self.audit_status.setObjectName("errorLabel")
            self.audit_status.setText(self.tr("✘ {error}").format(error=error_text(exc)))
        self.audit_status.style().polish(self.audit_status)
        self.audit_status.setWordWrap(True)
        self.audit_verified.emit(exc is None)

    def apply_icons(self) -> None:
        """Re-tint icons after a light/dark switch."""
        for button, icon in ((self.open_folder, "folder"), (self.change_passphrase, "lock"),
                             (self.export_one, "export"), (self.erase_one, "trash"),
                             (self.export_all, "export"), (self.erase_all, "trash"), (self.verify, "check"),
                             (self.forget_device, "trash")):
            button.setIcon(theme.icon(icon))
        self.backup.apply_icons()
        self.compliance.apply_icons()
