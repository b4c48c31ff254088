"""The first-run wizard: passphrase, recovery key (shown once), default model."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app import theme
from app.dialogs.passphrase import PassphraseFields
from app.removable import same_drive, suggested_folder
from app.session import prepare_demo
from app.widgets import CopyButton, error_text, human_size, muted, named, show_error
from app.workers import Task, run_task
from engine.fileio import write_atomic
from engine.models import ModelRecord, ModelRegistry
from engine.vault import KdfParams, Vault


class WelcomePage(QWizardPage):
    """What Enclave is, in three sentences."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle(self.tr("Welcome to Enclave"))
        self.setSubTitle(self.tr("A private AI workstation. Everything stays on this computer."))
        layout = QVBoxLayout(self)
        for text in (
            self.tr("Models run on this machine. Nothing you type is sent anywhere."),
            self.tr("Your conversations are stored encrypted, unlocked with a passphrase only you know."),
            self.tr("Telemetry: none. Enclave never phones home."),
        ):
            label = QLabel("• " + text)
            label.setWordWrap(True)
            layout.addWidget(label)
        layout.addStretch(1)


class PassphrasePage(QWizardPage):
    """Choose the vault passphrase."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle(self.tr("Choose a passphrase"))
        self.setSubTitle(self.tr("It encrypts everything Enclave stores. It cannot be reset without the recovery key."))
        self.fields = PassphraseFields()
        self.fields.changed.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        layout.addWidget(self.fields)
        layout.addStretch(1)
        # Past this page the vault exists: going back would suggest the passphrase can still change.
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, self.tr("Create vault"))

    def isComplete(self) -> bool:
        return self.fields.is_valid()


class RecoveryPage(QWizardPage):
    """Create the vault (KDF in a worker), then show the recovery key once."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle(self.tr("Your recovery key"))
        self.setSubTitle(
            self.tr("If you forget your passphrase, this key is the only way back in. It is shown only now.")
        )
        self.status = muted(self.tr("Creating your encrypted vault…"))
        actions = self._build_actions()
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.key_label)
        layout.addLayout(actions)
        layout.addWidget(self.saved)
        layout.addSpacing(12)
        layout.addWidget(self.confirm)
        layout.addStretch(1)
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, self.tr("Continue"))

    def _build_actions(self) -> QHBoxLayout:
        """The key (hidden until made), Copy, Save to file…, Print…, where it was saved, and the confirmation."""
        self.key_label = QLabel()
        self.key_label.setObjectName("secretBox")
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        named(self.key_label, self.tr("Recovery key"))
        self.key_label.hide()
        self.copy = CopyButton(lambda: self._wizard.recovery_key or "", self.tr("Copy"))
        self.save = named(QPushButton(self.tr("Save to file…")), self.tr("Save recovery key to a file"))
        self.print_button = named(QPushButton(self.tr("Print…")), self.tr("Print recovery key"))
        self.confirm = named(
            QCheckBox(self.tr("I have written it down or saved it somewhere safe")),
            self.tr("I have written down the recovery key"),
        )
        for control in (self.copy, self.save, self.print_button, self.confirm):
            control.setEnabled(False)
        self.confirm.toggled.connect(self.completeChanged)
        self.save.clicked.connect(self._save)
        self.print_button.clicked.connect(self._print)
        actions = QHBoxLayout()
        actions.addWidget(self.copy)
        actions.addWidget(self.save)
        actions.addWidget(self.print_button)
        actions.addStretch(1)
        self.saved = QLabel()
        self.saved.setWordWrap(True)
        self.saved.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        named(self.saved, self.tr("Where the recovery key was saved"))
        return actions

    def initializePage(self) -> None:
        if self._wizard.vault is None:
            self._wizard.create_vault(self._created, self._failed)

    def _created(self) -> None:
        self.status.setText(self.tr("Your vault is ready. Keep this key apart from this computer."))
        self.key_label.setText(self._wizard.recovery_key or "")
        self.key_label.show()
        for control in (self.copy, self.save, self.print_button, self.confirm):
            control.setEnabled(True)
        self.completeChanged.emit()

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(self.tr("The vault could not be created: {error}").format(error=error_text(exc)))

    def isComplete(self) -> bool:
        return self._wizard.vault is not None and self.confirm.isChecked()

    def _key_text(self) -> str:
        return self.tr("Enclave recovery key\n\n{key}\n\nKeep it safe and apart from this computer.\n").format(
            key=self._wizard.recovery_key or ""
        )

    def default_save_path(self) -> tuple[Path, bool]:
        """Where the save dialog starts: a removable drive when one is plugged in (and whether it is)."""
        folder, removable = suggested_folder()
        return folder / "enclave-recovery-key.txt", removable

    def _save(self) -> None:
        path, removable = self.default_save_path()
        if not removable:
            self._show_saved(self.tr(
                "No USB stick or other removable drive was found, so the dialog starts in your home folder. "
                "A recovery key on the computer it protects is lost with it: prefer a USB stick, or print it."
            ), "errorLabel")
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Save recovery key"), str(path),
                                              self.tr("Text files (*.txt)"))
        if name:
            self.save_to(Path(name))

    def save_to(self, path: Path) -> bool:
        """Write the key to `path` (owner-only) and say where it went; True when it was written."""
        try:
            write_atomic(path, self._key_text().encode("utf-8"))
            os.chmod(path, 0o600)
        except OSError as exc:
            show_error(self, exc)
            return False
        if same_drive(path, self._wizard.home):
            self._show_saved(self.tr(
                "Saved to {path}. That is the same drive as your vault: copy it to a USB stick or print it, "
                "then delete this copy."
            ).format(path=path), "errorLabel")
        else:
            self._show_saved(self.tr("✔ Saved to {path}. Keep it apart from this computer.").format(path=path),
                             "okLabel")
        return True

    def _show_saved(self, text: str, style: str) -> None:
        self.saved.setText(text)
        self.saved.setObjectName(style)
        self.saved.style().polish(self.saved)

    def _print(self) -> None:
        from PySide6.QtGui import QTextDocument
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter()
        if QPrintDialog(printer, self).exec():
            document = QTextDocument()
            document.setPlainText(self._key_text())
            document.print_(printer)


class ModelPage(QWizardPage):
    """Pick the default model: the bundled demo is preselected; importing a GGUF is right here."""

    imported = Signal(str)

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self._import: Task | None = None
        self.setTitle(self.tr("Pick a model"))
        self.setSubTitle(self.tr("The model answers when a chat does not name another. You can change it any time."))
        self.list = named(QListWidget(), self.tr("Available models"))
        # A model's description wraps within the list's width, never behind a horizontal scroll bar.
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.status = muted("")
        self.progress = named(QProgressBar(), self.tr("Progress"))
        self.progress.hide()
        self.import_button = named(QPushButton(self.tr("Import a GGUF…")), self.tr("Import a GGUF model file"))
        self.import_button.setIcon(theme.icon("import"))
        self.cancel_import = named(QPushButton(self.tr("Cancel import")), self.tr("Cancel import"))
        self.cancel_import.hide()
        self.import_button.clicked.connect(self._choose_file)
        self.cancel_import.clicked.connect(lambda: self._import and self._import.cancel())
        row = QHBoxLayout()
        row.addWidget(self.import_button)
        row.addWidget(self.cancel_import)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(row)
        wizard.models_changed.connect(self.refresh)

    def initializePage(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Show the registered models; keep the choice, else preselect the default (the demo)."""
        current = self.selected_name() or self._wizard.registry.default_name()
        self.list.clear()
        for record in self._wizard.registry.list():
            item = QListWidgetItem(self._describe(record))
            item.setToolTip(self._describe(record))
            item.setData(Qt.ItemDataRole.UserRole, record.name)
            self.list.addItem(item)
            if record.name == current or (current is None and record.source == "demo"):
                self.list.setCurrentItem(item)
        if self.list.count() and self.list.currentRow() < 0:
            self.list.setCurrentRow(0)
        if self._wizard.preparing_demo:
            self.status.setText(self.tr("Preparing the bundled demo model…"))
        elif not self.list.count():
            self.status.setText(self.tr("No model yet. Import a GGUF file, or do it later on the Models page."))
        else:
            self.status.setText("")

    def _describe(self, record: ModelRecord) -> str:
        text = self.tr("{name} — {arch} {size}, {quant}, {file}").format(
            name=record.name, arch=record.facts.architecture, size=record.facts.size_label,
            quant=record.facts.quantization, file=human_size(record.file_size),
        )
        if record.source == "demo":
            text += "\n" + self.tr("(bundled demo: a small base model that continues text)")
        return text

    def selected_name(self) -> str | None:
        """The model chosen in the list."""
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Import a GGUF model"), str(Path.home()), self.tr("GGUF models (*.gguf)")
        )
        if name:
            self.import_file(Path(name))

    def import_file(self, path: Path) -> Task:
        """Copy, hash and register a GGUF in the background, with progress and cancel."""
        registry = self._wizard.registry
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_import.show()
        self.import_button.setEnabled(False)
        self.status.setText(self.tr("Importing {file}…").format(file=path.name))
        task = Task(lambda ctx: registry.import_file(path, progress=ctx.progress, cancel=ctx.cancel_event), self)
        task.on_progress(self._progress).on_success(self._imported).on_failure(self._import_failed)
        self._import = task.start()
        return task

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * done / max(total, 1)))

    def _import_end(self) -> None:
        self.progress.hide()
        self.cancel_import.hide()
        self.import_button.setEnabled(True)

    def _imported(self, record: ModelRecord) -> None:
        self._import_end()
        self.refresh()
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == record.name:
                self.list.setCurrentRow(row)
        self.status.setText(self.tr("Imported {name}.").format(name=record.name))
        self.imported.emit(record.name)

    def _import_failed(self, exc: BaseException) -> None:
        self._import_end()
        self.status.setText(error_text(exc))


class FirstRunWizard(QWizard):
    """Sets up the vault and the default model; `vault` is the open vault once it is created."""

    vault_created = Signal()
    models_changed = Signal()

    def __init__(self, home: Path, registry: ModelRegistry, *, kdf: KdfParams | None = None,
                 parent: QWidget | None = None, prepare_demo: bool = True) -> None:
        super().__init__(parent)
        self.home = Path(home)
        self.registry = registry
        self.kdf = kdf
        self.vault: Vault | None = None
        self.recovery_key: str | None = None
        self.preparing_demo = False
        self.setWindowTitle(self.tr("Set up Enclave"))
        self.setWindowIcon(theme.app_icon())
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setMinimumSize(640, 480)
        self.passphrase_page = PassphrasePage()
        self.recovery_page = RecoveryPage(self)
        self.model_page = ModelPage(self)
        for page in (WelcomePage(), self.passphrase_page, self.recovery_page, self.model_page):
            self.addPage(page)
        for which, text in (
            (QWizard.WizardButton.NextButton, self.tr("Next")),
            (QWizard.WizardButton.BackButton, self.tr("Back")),
            (QWizard.WizardButton.FinishButton, self.tr("Start using Enclave")),
            (QWizard.WizardButton.CancelButton, self.tr("Cancel")),
        ):
            self.setButtonText(which, text)
            named(self.button(which), text)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.recovery_page.key_label.setFont(mono)
        if prepare_demo:
            self._prepare_demo()

    def _prepare_demo(self) -> None:
        # Assembling the bundled model takes a couple of seconds: start now, while the person types.
        registry = self.registry
        self.preparing_demo = True
        run_task(self, lambda ctx: prepare_demo(registry, ctx.progress), self._demo_done, self._demo_done)

    def _demo_done(self, _result: object) -> None:
        self.preparing_demo = False
        self.models_changed.emit()

    def create_vault(self, done: object, failed: object) -> Task:
        """Run Vault.init in a worker; call `done()` or `failed(exc)` on the GUI thread."""
        home, passphrase, kdf = self.home, self.passphrase_page.fields.passphrase(), self.kdf

        def created(result: tuple[Vault, str]) -> None:
            self.vault, self.recovery_key = result
            self.vault_created.emit()
            done()  # type: ignore[operator]

        return run_task(self, lambda ctx: Vault.init(home, passphrase, kdf=kdf), created, failed)  # type: ignore[arg-type]

    def accept(self) -> None:
        name = self.model_page.selected_name()
        if name:
            try:
                self.registry.set_default(name)
            except Exception as exc:  # noqa: BLE001 (a registry error must not lose the new vault)
                show_error(self, exc)
        super().accept()
