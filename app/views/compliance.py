"""Data protection on the Privacy view: legal hold, data subjects (tag, export, erase), the Art. 30 processing
record, and the model allowlist. The engine does the work (engine.policy); this is its face."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.dialogs.confirm import TypedConfirmDialog
from app.operations import compliance as compliance_ops
from app.operations.compliance import bundle_folder
from app.session import Session
from app.widgets import error_text, muted, named, shrinkable
from app.workers import Task
from engine.policy import report, subjects


class ReportDialog(QDialog):
    """The processing record, read-only, with Save…."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Record of processing activities"))
        self.text = named(QPlainTextEdit(text), self.tr("Record of processing activities"))
        self.text.setReadOnly(True)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.text.setFont(mono)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        named(buttons.button(QDialogButtonBox.StandardButton.Close), self.tr("Close"))
        self.save = named(buttons.addButton(self.tr("Save…"), QDialogButtonBox.ButtonRole.ActionRole),
                          self.tr("Save the record to a file"))
        buttons.rejected.connect(self.reject)
        self.save.clicked.connect(self.choose_save)
        layout = QVBoxLayout(self)
        layout.addWidget(muted(self.tr("Generated from the live configuration: names and counts, never content.")))
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(820, 600)

    def choose_save(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, self.tr("Save record"), str(Path.home() / "enclave-processing-record.txt"),
            self.tr("Text files (*.txt)"),
        )
        if name:
            self.save_to(Path(name))

    def save_to(self, path: Path) -> None:
        try:
            report.write_report(path, self.text.toPlainText())
        except OSError as exc:
            QMessageBox.warning(self, self.tr("Save failed"), error_text(exc))


class CompliancePanel(QWidget):
    """Legal hold, data subjects, the processing record and the model allowlist."""

    history_changed = Signal()
    subject_export_finished = Signal(object)  # the manifest, or the exception
    report_ready = Signal(object)  # the ReportDialog, or the exception
    tagged = Signal()  # a conversation's subject tag changed
    allowlist_changed = Signal()  # an allowlist change finished (or failed: the status says why)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.report_dialog: ReportDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in (self._build_hold(), self._build_subjects(), self._build_report(), self._build_allowlist()):
            layout.addWidget(box)
        self._connect()

    def _build_hold(self) -> QGroupBox:
        """Legal hold on everything, and who is held."""
        # -- legal hold
        hold_box = QGroupBox(self.tr("Legal hold"))
        self.legal_hold = named(QCheckBox(self.tr("Hold everything: nothing expires or is purged")),
                                self.tr("Legal hold on all data"))
        self.held = muted("")
        named(self.held, self.tr("Subjects under legal hold"))
        hold_layout = QVBoxLayout(hold_box)
        hold_layout.addWidget(self.legal_hold)
        hold_layout.addWidget(self.held)
        return hold_box

    def _build_subjects(self) -> QGroupBox:
        """Tag conversations with a data subject; export, erase or hold a subject."""
        # -- data subjects
        subject_box = QGroupBox(self.tr("Data subjects"))
        self.tag_conversation = shrinkable(named(QComboBox(), self.tr("Conversation to tag")))
        self.subject_label = named(QLineEdit(), self.tr("Data subject label"))
        self.subject_label.setPlaceholderText(self.tr("e.g. a customer number"))
        self.tag_button = named(QPushButton(self.tr("Tag")), self.tr("Tag the conversation with this subject"))
        self.untag_button = named(QPushButton(self.tr("Clear tag")), self.tr("Remove the conversation's subject tag"))
        self.subject = shrinkable(named(QComboBox(), self.tr("Data subject")), 10)
        self.export_subject = named(QPushButton(theme.icon("export"), self.tr("Export…")),
                                    self.tr("Export this subject's conversations"))
        self.erase_subject = named(QPushButton(theme.icon("trash"), self.tr("Erase…")),
                                   self.tr("Erase this subject's conversations"))
        self.hold_subject = named(QCheckBox(self.tr("Legal hold")), self.tr("Legal hold on this subject"))
        self.subject_status = muted("")
        named(self.subject_status, self.tr("Data subject status"))
        tag_row = QHBoxLayout()
        tag_row.addWidget(self.subject_label, 1)
        tag_row.addWidget(self.tag_button)
        tag_row.addWidget(self.untag_button)
        act_row = QHBoxLayout()
        act_row.addWidget(self.subject, 1)
        act_row.addWidget(self.export_subject)
        act_row.addWidget(self.erase_subject)
        subject_form = QFormLayout(subject_box)
        subject_form.addRow(self.tr("Conversation:"), self.tag_conversation)
        subject_form.addRow(self.tr("Subject label:"), tag_row)
        subject_form.addRow(self.tr("Subject:"), act_row)
        subject_form.addRow("", self.hold_subject)  # its own row: the column stays narrow enough not to scroll
        subject_form.addRow("", muted(self.tr(
            "An export is a folder of plain JSON with a manifest (access and portability requests). "
            "Erasing destroys the keys of every conversation the subject is tagged in."
        )))
        subject_form.addRow("", self.subject_status)
        return subject_box

    def _build_report(self) -> QGroupBox:
        """The processing record button."""
        # -- processing record
        report_box = QGroupBox(self.tr("Record of processing (GDPR Art. 30)"))
        self.show_report = named(QPushButton(self.tr("Show record…")),
                                 self.tr("Show the record of processing activities"))
        report_row = QHBoxLayout(report_box)
        report_row.addWidget(muted(self.tr("What is kept, where, for how long and how it is protected.")), 1)
        report_row.addWidget(self.show_report)
        return report_box

    def _build_allowlist(self) -> QGroupBox:
        """The model allowlist: required or not, the approvals, approve and withdraw."""
        # -- model allowlist
        allow_box = QGroupBox(self.tr("Model allowlist"))
        self.allowlist_required = named(QCheckBox(self.tr("Only approved models may be imported and loaded")),
                                        self.tr("Require approved models"))
        self.approved = named(QListWidget(), self.tr("Approved models"))
        self.approved.setMaximumHeight(110)
        self.model_choice = shrinkable(named(QComboBox(), self.tr("Model to approve")))
        self.approve_button = named(QPushButton(theme.icon("check"), self.tr("Approve")),
                                    self.tr("Approve this model"))
        self.unapprove_button = named(QPushButton(theme.icon("trash"), self.tr("Withdraw")),
                                      self.tr("Withdraw the selected approval"))
        self.allow_status = muted("")
        named(self.allow_status, self.tr("Allowlist status"))
        approve_row = QHBoxLayout()
        approve_row.addWidget(self.model_choice, 1)
        approve_row.addWidget(self.approve_button)
        approve_row.addWidget(self.unapprove_button)
        allow_layout = QVBoxLayout(allow_box)
        allow_layout.addWidget(self.allowlist_required)
        allow_layout.addWidget(self.approved)
        allow_layout.addLayout(approve_row)
        allow_layout.addWidget(muted(self.tr("An approval names the file's SHA-256: a swapped file is not approved.")))
        allow_layout.addWidget(self.allow_status)
        return allow_box

    def _connect(self) -> None:
        """Wire the controls to their slots."""
        self.legal_hold.clicked.connect(self.set_legal_hold)
        self.hold_subject.clicked.connect(self.set_subject_hold)
        self.subject.currentIndexChanged.connect(lambda _: self._show_subject_hold())
        self.tag_button.clicked.connect(lambda: self.tag(self.subject_label.text()))
        self.untag_button.clicked.connect(lambda: self.tag(None))
        self.export_subject.clicked.connect(self.choose_subject_export)
        self.erase_subject.clicked.connect(self.confirm_erase_subject)
        self.show_report.clicked.connect(self.open_report)
        self.allowlist_required.clicked.connect(self.set_allowlist_required)
        self.approve_button.clicked.connect(lambda: self.approve(str(self.model_choice.currentData() or "")))
        self.unapprove_button.clicked.connect(self.unapprove_selected)
        self.subject_label.returnPressed.connect(self.tag_button.click)

    # -- loading -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the policy, the conversations, the subjects and the approvals."""
        policy = compliance_ops.policy(self.session)
        self.legal_hold.setChecked(policy.legal_hold)
        self.held.setText(self.tr("Subjects on hold: {names}").format(names=", ".join(policy.held_subjects))
                          if policy.held_subjects else self.tr("No data subject is on hold."))

        current = self.tag_conversation.currentData()
        self.tag_conversation.clear()
        for conversation in self.session.vault.conversations.list():
            shown = conversation.title
            if conversation.subject:
                shown = self.tr("{title} — {subject}").format(title=conversation.title, subject=conversation.subject)
            self.tag_conversation.addItem(shown, conversation.id)
        if current is not None and self.tag_conversation.findData(current) >= 0:
            self.tag_conversation.setCurrentIndex(self.tag_conversation.findData(current))
        has_conversations = self.tag_conversation.count() > 0
        self.tag_button.setEnabled(has_conversations)
        self.untag_button.setEnabled(has_conversations)

        current_subject = self.subject.currentData()
        self.subject.blockSignals(True)
        self.subject.clear()
        for label, count in compliance_ops.subject_counts(self.session).items():
            self.subject.addItem(self.tr("{subject} (%n conversation(s))", "", count).format(subject=label), label)
        if current_subject is not None and self.subject.findData(current_subject) >= 0:
            self.subject.setCurrentIndex(self.subject.findData(current_subject))
        self.subject.blockSignals(False)
        has_subjects = self.subject.count() > 0
        for widget in (self.export_subject, self.erase_subject, self.hold_subject):
            widget.setEnabled(has_subjects)
        self._show_subject_hold()
        self.refresh_allowlist()

    def _show_subject_hold(self) -> None:
        label = self.subject.currentData()
        self.hold_subject.setChecked(label is not None and label in compliance_ops.policy(self.session).held_subjects)

    def refresh_allowlist(self) -> None:
        """Re-read whether approval is required, the approvals and the models to approve."""
        self.allowlist_required.setChecked(compliance_ops.allowlist_required(self.session))
        entries = compliance_ops.approvals(self.session)
        self.approved.clear()
        for sha256, entry in entries.items():
            item = QListWidgetItem(f"{entry.get('name') or '?'}  ·  {sha256[:16]}…")
            item.setData(Qt.ItemDataRole.UserRole, sha256)
            item.setToolTip(sha256)
            self.approved.addItem(item)
        self.unapprove_button.setEnabled(bool(entries))
        current = self.model_choice.currentData()
        self.model_choice.clear()
        for model in self.session.registry.list():
            mark = self.tr(" (approved)") if model.sha256 in entries else ""
            self.model_choice.addItem(f"{model.name}{mark}", model.name)
        if current is not None and self.model_choice.findData(current) >= 0:
            self.model_choice.setCurrentIndex(self.model_choice.findData(current))
        self.approve_button.setEnabled(self.model_choice.count() > 0)

    # -- legal hold --------------------------------------------------------------------------------

    def set_legal_hold(self, on: bool) -> Task:
        """Hold (or release) everything."""
        return compliance_ops.set_legal_hold(self, self.session, bool(on)).on_success(
            lambda _policy: self.refresh()).on_failure(self._subject_failed).start()

    def set_subject_hold(self, on: bool) -> Task | None:
        """Hold (or release) the chosen subject's conversations."""
        label = self.subject.currentData()
        if label is None:
            return None
        return compliance_ops.set_legal_hold(self, self.session, bool(on), str(label)).on_success(
            lambda _policy: self.refresh()).on_failure(self._subject_failed).start()

    def _subject_failed(self, exc: BaseException) -> None:
        self.subject_status.setText(error_text(exc))
        self.refresh()

    # -- subjects ----------------------------------------------------------------------------------

    def tag(self, label: str | None) -> Task | None:
        """Tag the chosen conversation with `label` (None clears it)."""
        conversation_id = self.tag_conversation.currentData()
        if conversation_id is None:
            return None
        return compliance_ops.tag(self, self.session, str(conversation_id), label).on_success(
            lambda _conversations: self._tagged(label)).on_failure(self._subject_failed).start()

    def _tagged(self, label: str | None) -> None:
        if label is None:
            self.subject_status.setText(self.tr("Subject tag removed."))
        else:
            self.subject_status.setText(self.tr("Tagged with “{subject}”.").format(subject=label.strip()))
            self.subject_label.clear()
        self.refresh()
        if label is not None and self.subject.findData(label.strip()) >= 0:
            self.subject.setCurrentIndex(self.subject.findData(label.strip()))
        self.tagged.emit()

    def choose_subject_export(self) -> None:
        """Ask for a folder, then export the chosen subject into a new folder inside it."""
        label = self.subject.currentData()
        if label is None:
            return
        parent = QFileDialog.getExistingDirectory(self, self.tr("Export a data subject's conversations into"),
                                                  str(Path.home()))
        if parent:
            self.export(bundle_folder(Path(parent), str(label)), str(label))

    def export(self, folder: Path, label: str) -> Task:
        """Write the subject's bundle (parts and manifest) in the background."""
        self.subject_status.setText(self.tr("Exporting…"))
        return compliance_ops.export_subject(self, self.session, folder, label).on_success(
            lambda manifest: self._exported(folder, manifest)).on_failure(self._export_failed).start()

    def _exported(self, folder: Path, manifest: dict[str, Any]) -> None:
        count = int(manifest.get("what", {}).get("conversations", 0))
        self.subject_status.setText(self.tr("%n conversation(s) exported to {path} (not encrypted).", "", count)
                                    .format(path=folder))
        self.subject_export_finished.emit(manifest)

    def _export_failed(self, exc: BaseException) -> None:
        self.subject_status.setText(self.tr("Export failed: {error}").format(error=error_text(exc)))
        self.subject_export_finished.emit(exc)

    def confirm_erase_subject(self) -> None:
        """Erase the subject's conversations once the confirmation word is typed."""
        label = self.subject.currentData()
        if label is None:
            return
        dialog = TypedConfirmDialog(
            self.tr("Erase a data subject"),
            self.tr("{what} will be erased for good. This cannot be undone.").format(what=self.subject.currentText()),
            self.tr("ERASE"), self.tr("Erase"), self,
        )
        if dialog.exec():
            self.erase(str(label))

    def erase(self, label: str) -> Task:
        """Crypto-shred every conversation tagged `label`, in the background."""
        self.subject_status.setText(self.tr("Erasing…"))
        return compliance_ops.erase_subject(self, self.session, label).on_success(self._erased).on_failure(
            self._erase_failed).start()

    def _erased(self, erased: subjects.Erased) -> None:
        text = self.tr("%n conversation(s) erased.", "", erased.conversations)
        withdrawn = erased.elsewhere.get("adapters") or []
        if withdrawn:
            text += " " + self.tr(
                "Adapted models trained on this subject's data were withdrawn: {names}. "
                "Retrain them without it (enclave train --retrain NAME) or remove them."
            ).format(names=", ".join(withdrawn))
        self.subject_status.setText(text)
        self.refresh()
        self.history_changed.emit()

    def _erase_failed(self, exc: BaseException) -> None:
        self.subject_status.setText(self.tr("Erase failed: {error}").format(error=error_text(exc)))
        self.refresh()
        self.history_changed.emit()

    # -- report ------------------------------------------------------------------------------------

    def open_report(self) -> Task:
        """Build the processing record in the background, then show it."""
        self.show_report.setEnabled(False)
        return compliance_ops.processing_record(self, self.session).on_success(self._show_report).on_failure(
            self._report_failed).start()

    def _show_report(self, text: str) -> None:
        self.show_report.setEnabled(True)
        self.report_dialog = ReportDialog(text, self)
        self.report_dialog.show()
        self.report_ready.emit(self.report_dialog)

    def _report_failed(self, exc: BaseException) -> None:
        self.show_report.setEnabled(True)
        self.subject_status.setText(error_text(exc))
        self.report_ready.emit(exc)

    # -- allowlist ---------------------------------------------------------------------------------

    def set_allowlist_required(self, on: bool) -> Task:
        """Require (or stop requiring) approved models."""
        text = (self.tr("Only approved models can be imported and loaded.") if on
                else self.tr("Any model can be imported and loaded."))
        return compliance_ops.set_allowlist_required(self, self.session, bool(on)).on_success(
            lambda _result: self._allowlist_done(text)).on_failure(self._allowlist_failed).start()

    def approve(self, target: str) -> Task | None:
        """Approve a registered model (by name) or a SHA-256."""
        if not target:
            return None
        return compliance_ops.approve(self, self.session, target).on_success(
            lambda sha256: self._allowlist_done(self.tr("Approved {name} ({sha}…).").format(
                name=target, sha=sha256[:12]))).on_failure(self._allowlist_failed).start()

    def unapprove_selected(self) -> Task | None:
        """Withdraw the approval selected in the list."""
        item = self.approved.currentItem()
        if item is None:
            return None
        return compliance_ops.unapprove(self, self.session, str(item.data(Qt.ItemDataRole.UserRole))).on_success(
            lambda _result: self._allowlist_done(self.tr("Approval withdrawn."))).on_failure(
            self._allowlist_failed).start()

    def _allowlist_done(self, text: str) -> None:
        self.allow_status.setText(text)
        self.refresh_allowlist()
        self.allowlist_changed.emit()

    def _allowlist_failed(self, exc: BaseException) -> None:
        self.allow_status.setText(error_text(exc))
        self.refresh_allowlist()
        self.allowlist_changed.emit()

    def apply_icons(self) -> None:
        """Re-tint icons after a light/dark switch."""
        for button, icon in ((self.export_subject, "export"), (self.erase_subject, "trash"),
                             (self.approve_button, "check"), (self.unapprove_button, "trash")):
            button.setIcon(theme.icon(icon))
