"""Data protection on the Privacy view: legal hold, data subjects (tag, export, erase), the Art. 30 processing
record, and the model allowlist. The engine does the work (engine.policy); this is its face."""

from __future__ import annotations

import datetime as dt
import re
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
from app.session import ACTOR, Session
from app.widgets import error_text, muted, named, shrinkable
from app.workers import Task, run_task
from engine.policy import allowlist, report, retention, subjects
from engine.policy.subjects import Selection


def bundle_folder(parent: Path, subject: str, today: dt.date | None = None) -> Path:
    """A new folder under `parent` for one subject's export (the engine wants a new or empty folder)."""
    safe = re.sub(r"[^\w.-]+", "-", subject, flags=re.UNICODE).strip("-.") or "subject"
    base = parent / f"enclave-subject-{safe}-{(today or dt.date.today()).isoformat()}"
    folder, n = base, 2
    while folder.exists() and any(folder.iterdir()):
        folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    return folder


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

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.report_dialog: ReportDialog | None = None

        # -- legal hold
        hold_box = QGroupBox(self.tr("Legal hold"))
        self.legal_hold = named(QCheckBox(self.tr("Hold everything: nothing expires or is purged")),
                                self.tr("Legal hold on all data"))
        self.held = muted("")
        named(self.held, self.tr("Subjects under legal hold"))
        hold_layout = QVBoxLayout(hold_box)
        hold_layout.addWidget(self.legal_hold)
        hold_layout.addWidget(self.held)

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

        # -- processing record
        report_box = QGroupBox(self.tr("Record of processing (GDPR Art. 30)"))
        self.show_report = named(QPushButton(self.tr("Show record…")),
                                 self.tr("Show the record of processing activities"))
        report_row = QHBoxLayout(report_box)
        report_row.addWidget(muted(self.tr("What is kept, where, for how long and how it is protected.")), 1)
        report_row.addWidget(self.show_report)

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

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in (hold_box, subject_box, report_box, allow_box):
            layout.addWidget(box)

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
        vault = self.session.vault
        policy = retention.get_policy(vault)
        self.legal_hold.setChecked(policy.legal_hold)
        self.held.setText(self.tr("Subjects on hold: {names}").format(names=", ".join(policy.held_subjects))
                          if policy.held_subjects else self.tr("No data subject is on hold."))

        current = self.tag_conversation.currentData()
        self.tag_conversation.clear()
        for conversation in vault.conversations.list():
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
        for label, count in subjects.subjects(vault).items():
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
        held = retention.get_policy(self.session.vault).held_subjects
        self.hold_subject.setChecked(label is not None and label in held)

    def refresh_allowlist(self) -> None:
        vault = self.session.vault
        self.allowlist_required.setChecked(allowlist.is_required(vault))
        entries = allowlist.approved(vault)
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

    def set_legal_hold(self, on: bool) -> None:
        """Hold (or release) everything."""
        try:
            retention.set_legal_hold(self.session.vault, bool(on), actor=ACTOR)
        except Exception as exc:  # noqa: BLE001 (shown to the person)
            self.subject_status.setText(error_text(exc))
        self.refresh()

    def set_subject_hold(self, on: bool) -> None:
        """Hold (or release) the chosen subject's conversations."""
        label = self.subject.currentData()
        if label is None:
            return
        try:
            retention.set_legal_hold(self.session.vault, bool(on), actor=ACTOR, subject=str(label))
        except Exception as exc:  # noqa: BLE001 (shown to the person)
            self.subject_status.setText(error_text(exc))
        self.refresh()

    # -- subjects ----------------------------------------------------------------------------------

    def tag(self, label: str | None) -> None:
        """Tag the chosen conversation with `label` (None clears it)."""
        conversation_id = self.tag_conversation.currentData()
        if conversation_id is None:
            return
        try:
            subjects.tag(self.session.vault, [str(conversation_id)], label, actor=ACTOR)
        except Exception as exc:  # noqa: BLE001 (shown to the person)
            self.subject_status.setText(error_text(exc))
            return
        if label is None:
            self.subject_status.setText(self.tr("Subject tag removed."))
        else:
            self.subject_status.setText(self.tr("Tagged with “{subject}”.").format(subject=label.strip()))
            self.subject_label.clear()
        self.refresh()
        if label is not None and self.subject.findData(label.strip()) >= 0:
            self.subject.setCurrentIndex(self.subject.findData(label.strip()))

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
        vault = self.session.vault
        self.subject_status.setText(self.tr("Exporting…"))
        return run_task(
            self, lambda ctx: subjects.export_bundle(vault, folder, Selection(subject=label), actor=ACTOR),
            lambda manifest: self._exported(folder, manifest), self._export_failed,
        )

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
        vault = self.session.vault
        self.subject_status.setText(self.tr("Erasing…"))
        return run_task(self, lambda ctx: subjects.erase(vault, Selection(subject=label), actor=ACTOR),
                        self._erased, self._erase_failed)

    def _erased(self, erased: subjects.Erased) -> None:
        self.subject_status.setText(self.tr("%n conversation(s) erased.", "", erased.conversations))
        self.refresh()
        self.history_changed.emit()

    def _erase_failed(self, exc: BaseException) -> None:
        self.subject_status.setText(self.tr("Erase failed: {error}").format(error=error_text(exc)))
        self.refresh()
        self.history_changed.emit()

    # -- report ------------------------------------------------------------------------------------

    def open_report(self) -> Task:
        """Build the processing record in the background, then show it."""
        vault, registry = self.session.vault, self.session.registry
        self.show_report.setEnabled(False)
        return run_task(
            self, lambda ctx: report.render_text(report.processing_record(vault, registry, actor=ACTOR)),
            self._show_report, self._report_failed,
        )

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

    def set_allowlist_required(self, on: bool) -> None:
        try:
            allowlist.set_required(self.session.vault, bool(on), actor=ACTOR)
            self.allow_status.setText(self.tr("Only approved models can be imported and loaded.") if on
                                      else self.tr("Any model can be imported and loaded."))
        except Exception as exc:  # noqa: BLE001 (shown to the person)
            self.allow_status.setText(error_text(exc))
        self.refresh_allowlist()

    def approve(self, target: str) -> None:
        """Approve a registered model (by name) or a SHA-256."""
        if not target:
            return
        try:
            sha256 = allowlist.approve(self.session.vault, target, actor=ACTOR, registry=self.session.registry)
            self.allow_status.setText(self.tr("Approved {name} ({sha}…).").format(name=target, sha=sha256[:12]))
        except Exception as exc:  # noqa: BLE001 (shown to the person)
            self.allow_status.setText(error_text(exc))
        self.refresh_allowlist()

    def unapprove_selected(self) -> None:
        """Withdraw the approval selected in the list."""
        item = self.approved.currentItem()
        if item is None:
            return
        try:
            allowlist.unapprove(self.session.vault, str(item.data(Qt.ItemDataRole.UserRole)), actor=ACTOR,
                                registry=self.session.registry)
            self.allow_status.setText(self.tr("Approval withdrawn."))
        except Exception as exc:  # noqa: BLE001 (shown to the person)
            self.allow_status.setText(error_text(exc))
        self.refresh_allowlist()

    def apply_icons(self) -> None:
        """Re-tint icons after a light/dark switch."""
        for button, icon in ((self.export_subject, "export"), (self.erase_subject, "trash"),
                             (self.approve_button, "check"), (self.unapprove_button, "trash")):
            button.setIcon(theme.icon(icon))
