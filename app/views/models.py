"""The Models view: registered GGUF models, import (dialog or drag-and-drop), verify, settings, hardware."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import hardware, theme
from app.dialogs.model_settings import ModelSettingsDialog
from app.models.model_table import Col, HashState, ModelTableModel
from app.operations import models as model_ops
from app.session import Session
from app.views.remotes import RemotesBox
from app.widgets import error_text, human_number, human_size, muted, named
from app.workers import Task, run_task
from engine.errors import IntegrityError
from engine.models import ModelRecord
from engine.models.memory import context_per_sequence, estimate_memory
from engine.runtime.manager import LoadedInfo, estimated_memory


class HardwarePanel(QGroupBox):
    """CPU, RAM and GPU of this machine, and whether the selected model fits."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("This computer"), parent)
        self.info: hardware.Hardware | None = None
        self.cpu = QLabel("…")
        self.memory = QLabel("…")
        self.gpu = QLabel("…")
        self.fit = QLabel("")
        self.fit_parts = muted("")
        named(self.fit_parts, self.tr("What the model's memory is made of"))
        for label in (self.cpu, self.memory, self.gpu, self.fit, self.fit_parts):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout(self)
        form.addRow(self.tr("Processor:"), self.cpu)
        form.addRow(self.tr("Memory:"), self.memory)
        form.addRow(self.tr("GPU:"), self.gpu)
        form.addRow(self.tr("Selected model:"), self.fit)
        form.addRow("", self.fit_parts)
        named(self, self.tr("Hardware"))

    def show_info(self, info: hardware.Hardware) -> None:
        """Show what the probe found."""
        self.info = info
        self.cpu.setText(self.tr("{name}, {cores} threads").format(name=info.cpu, cores=info.cores))
        self.memory.setText(
            self.tr("{available} free of {total}").format(
                available=human_size(info.memory_available), total=human_size(info.memory_total)
            )
        )
        if info.gpus:
            names = ", ".join(f"{g.name} ({human_size(g.memory_bytes)})" for g in info.gpus)
            used = self.tr("used by Enclave") if info.gpu_offload else self.tr("not used: this build runs on the CPU")
            self.gpu.setText(f"{names} — {used}")
        else:
            self.gpu.setText(self.tr("None found; models run on the CPU"))

    def show_fit(self, record: ModelRecord | None, *, loaded_as: ModelRecord | None = None) -> None:
        """Say whether a model fits in memory. `loaded_as`: the record it is loaded with now, whose memory is
        already out of the free memory (and is freed when it reloads with other settings)."""
        if record is None or self.info is None:
            self.fit.setText("")
            self.fit_parts.setText("")
            return
        needed = human_size(estimated_memory(record))
        # What the figure is made of: for a small model the fixed parts (working buffers, the RAM kept for
        # paused conversations) are most of it, which a bare total leaves unexplained.
        parts = estimate_memory(record)
        self.fit.setToolTip(self.tr(
            "Up to about {total}: the model file {weights}, its context cache {cache}, working buffers {buffers}, "
            "and up to {saved} to keep paused conversations ready (used only as conversations pause)."
        ).format(total=needed, weights=human_size(parts.weights), cache=human_size(parts.kv_cache),
                 buffers=human_size(parts.buffers), saved=human_size(parts.saved_conversations)))
        self.fit_parts.setText(self.tr(
            "Model {weights} + context {cache} + buffers {buffers} + up to {saved} for paused conversations"
        ).format(weights=human_size(parts.weights), cache=human_size(parts.kv_cache),
                 buffers=human_size(parts.buffers), saved=human_size(parts.saved_conversations)))
        freed = estimated_memory(loaded_as) if loaded_as is not None else 0
        if loaded_as is not None and loaded_as.loads_like(record):
            self.fit.setObjectName("okLabel")
            self.fit.setText(self.tr("{name} is loaded (about {size})").format(name=record.name, size=needed))
        elif self.info.fits(record, freed=freed):
            self.fit.setObjectName("okLabel")
            self.fit.setText(self.tr("{name} fits (needs about {size})").format(name=record.name, size=needed))
        else:
            self.fit.setObjectName("errorLabel")
            self.fit.setText(
                self.tr("{name} may not fit: it needs about {size}").format(name=record.name, size=needed)
            )
        self.fit.style().polish(self.fit)


class ModelsView(QWidget):
    """Manage the registry; `models_changed` tells the chat and server views to refresh."""

    models_changed = Signal()
    import_finished = Signal(object)  # ModelRecord, or the exception

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.import_task: Task | None = None
        self._loaded: list[LoadedInfo] = []
        self.setAcceptDrops(True)
        self.model = ModelTableModel(self)
        title = QLabel(self.tr("Models"))
        title.setObjectName("bigStatement")
        toolbar = self._build_toolbar()
        self._build_table()
        self._build_progress()
        lower = self._build_details()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(title)
        layout.addLayout(toolbar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress_box)
        layout.addWidget(self.status)
        layout.addLayout(lower)
        layout.addWidget(self.remotes)
        self._connect()
        self.refresh()
        run_task(self, lambda ctx: hardware.probe(), self._hardware_ready, lambda _exc: None)

    def _build_toolbar(self) -> QHBoxLayout:
        """Import…, Verify, Make default, Settings…, Load and Remove…."""
        self.import_button = self._button("import", self.tr("Import…"), self.tr("Import a GGUF model file"))
        self.verify_button = self._button("check", self.tr("Verify"), self.tr("Verify the file's SHA-256"))
        self.default_button = self._button("star", self.tr("Make default"), self.tr("Set as default model"))
        self.settings_button = self._button("settings", self.tr("Settings…"), self.tr("Model settings"))
        self.load_button = self._button("play", self.tr("Load"), self.tr("Load or unload the model"))
        self.remove_button = self._button("trash", self.tr("Remove…"), self.tr("Remove the model"))
        toolbar = QHBoxLayout()
        for button in (self.import_button, self.verify_button, self.default_button, self.settings_button,
                       self.load_button, self.remove_button):
            toolbar.addWidget(button)
        toolbar.addStretch(1)
        return toolbar

    def _build_table(self) -> None:
        """The registered models."""
        self.table = named(QTableView(), self.tr("Registered models"))
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        # The name takes the room left and is elided (whole in the tooltip) when it is short; the other
        # columns fit their contents: the table does not scroll sideways over a long model name.
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(Col.NAME, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)

    def _build_progress(self) -> None:
        """The import's progress bar and Cancel, hidden until an import runs."""
        self.progress_label = muted("")
        self.progress = named(QProgressBar(), self.tr("Import progress"))
        self.cancel_button = named(QPushButton(self.tr("Cancel")), self.tr("Cancel import"))
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_label)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        self.progress_box.hide()

    def _build_details(self) -> QHBoxLayout:
        """The selected model's details, the hardware panel, the status line and the organisation servers."""
        self.details = muted("")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = muted(self.tr("Drop a .gguf file here to import it."))
        named(self.status, self.tr("Models status"))
        self.hardware = HardwarePanel()
        self.remotes = RemotesBox(self.session, self)
        lower = QHBoxLayout()
        lower.addWidget(self.details, 1, Qt.AlignmentFlag.AlignTop)
        lower.addWidget(self.hardware, 1)
        return lower

    def _connect(self) -> None:
        """Wire the controls to their slots."""
        self.table.doubleClicked.connect(lambda _: self.edit_settings())
        self.cancel_button.clicked.connect(self.cancel_import)
        self.remotes.remotes_changed.connect(self.models_changed)
        self.import_button.clicked.connect(self.choose_file)
        self.verify_button.clicked.connect(self.verify_selected)
        self.default_button.clicked.connect(self.set_default)
        self.settings_button.clicked.connect(self.edit_settings)
        self.load_button.clicked.connect(self.toggle_load)
        self.remove_button.clicked.connect(self.remove_selected)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())

    def _button(self, icon: str, text: str, name: str) -> QPushButton:
        button = QPushButton(theme.icon(icon), text)
        button.setToolTip(name)
        return named(button, name)

    # -- listing ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the registry; which models are loaded is asked in the background."""
        selected = self.selected()
        registry, runtime = self.session.registry, self.session.runtime
        self.model.set_records(registry.list(), registry.default_name(), self._loaded_names())
        if selected is not None:
            self.select(selected.name)
        elif self.model.rowCount():
            self.table.selectRow(0)
        self._selection_changed()
        # Runtime.loaded() waits for a model still loading: never on the GUI thread.
        run_task(self, lambda ctx: (runtime.loaded(), hardware.available_memory()), self._loaded_ready,
                 lambda _e: None)

    def _loaded_names(self) -> set[str]:
        return {info.name for info in self._loaded}

    def _loaded_ready(self, state: tuple[list[LoadedInfo], int]) -> None:
        self._loaded, available = state
        if self.hardware.info is not None:  # what the loaded models take is out of it now
            self.hardware.show_info(replace(self.hardware.info, memory_available=available))
        registry = self.session.registry
        selected = self.selected()
        self.model.set_records(registry.list(), registry.default_name(), self._loaded_names())
        if selected is not None:
            self.select(selected.name)
        self._selection_changed()

    def on_shown(self) -> None:
        """Refresh when the view comes to the front."""
        self.refresh()

    def reload(self) -> None:
        """After unlock."""
        self.refresh()
        self.remotes.refresh()

    def selected(self) -> ModelRecord | None:
        """The record of the selected row."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.model.record(rows[0].row()) if rows else None

    def select(self, name: str) -> None:
        """Select a model by name."""
        row = self.model.row_of(name)
        if row >= 0:
            self.table.selectRow(row)

    def _selection_changed(self) -> None:
        record = self.selected()
        for button in (self.verify_button, self.default_button, self.settings_button, self.load_button,
                       self.remove_button):
            button.setEnabled(record is not None)
        self._show_load_action(record)
        self._show_fit()
        if record is None:
            self.details.setText(self.tr("No model selected."))
            return
        facts = record.facts
        lines = [
            self.tr("{name}: {model_name}, {params} parameters, {layers} layers").format(
                name=record.name, model_name=facts.model_name or facts.architecture,
                params=facts.size_label, layers=facts.layer_count,
            ),
            self.tr("Loads with {parallel} parallel requests of {context} tokens each (Settings… changes this)").format(
                parallel=record.settings.parallel, context=human_number(context_per_sequence(record))
            ),
            self.tr("File: {path}").format(path=record.path),
            self.tr("SHA-256: {sha}").format(sha=record.sha256),
        ]
        if record.is_base_model:
            lines.append(self.tr("A base model: it continues text rather than following instructions."))
        if record.source == "demo":
            lines.append(self.tr("The bundled demo model. Gemma terms of use apply."))
        self.details.setText("\n".join(lines))

    def _hardware_ready(self, info: hardware.Hardware) -> None:
        self.hardware.show_info(info)
        self._show_fit()

    def _show_fit(self) -> None:
        record = self.selected()
        loaded_as = next(
            (i.record for i in self._loaded if record and i.name == record.name and not i.embedding), None
        )
        self.hardware.show_fit(record, loaded_as=loaded_as)

    # -- import ------------------------------------------------------------------------------------

    def choose_file(self) -> None:
        """Pick a GGUF file to import."""
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Import a GGUF model"), str(Path.home()), self.tr("GGUF models (*.gguf)")
        )
        if name:
            self.import_file(Path(name))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_file(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_file(event)
        if path is not None:
            event.acceptProposedAction()
            self.import_file(path)

    @staticmethod
    def _dropped_file(event: QDragEnterEvent | QDropEvent) -> Path | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        paths = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
        return paths[0] if len(paths) == 1 and paths[0].suffix.lower() == ".gguf" else None

    def import_file(self, path: Path, name: str | None = None) -> Task | None:
        """Copy, hash and register a GGUF in the background, with progress and Cancel."""
        if self.import_task is not None:
            self.status.setText(self.tr("An import is already running."))
            return None
        self.progress.setRange(0, 0)
        self.progress_label.setText(self.tr("Importing {file}…").format(file=path.name))
        self.progress_box.show()
        self.import_button.setEnabled(False)
        task = model_ops.import_file(self, self.session, path, name)
        task.on_progress(self._import_progress).on_success(self._imported).on_failure(self._import_failed)
        self.import_task = task.start()
        return task

    def cancel_import(self) -> None:
        """Stop the running import; nothing is kept."""
        if self.import_task is not None:
            self.import_task.cancel()
            self.progress_label.setText(self.tr("Cancelling…"))

    def _import_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * done / max(total, 1)))
        self.progress.setFormat(f"{human_size(done)} / {human_size(total)}")

    def _import_done(self) -> None:
        self.import_task = None
        self.progress_box.hide()
        self.import_button.setEnabled(True)

    def _imported(self, record: ModelRecord) -> None:
        self._import_done()
        self.status.setText(self.tr("Imported {name} (SHA-256 recorded).").format(name=record.name))
        self.refresh()
        self.select(record.name)
        self.models_changed.emit()
        self.import_finished.emit(record)

    def _import_failed(self, exc: BaseException) -> None:
        self._import_done()
        self.status.setText(self.tr("Import failed: {error}").format(error=error_text(exc)))
        self.import_finished.emit(exc)

    # -- actions on the selected model -----------------------------------------------------------

    def verify_selected(self) -> Task | None:
        """Re-hash the selected model's file against the SHA-256 recorded at import."""
        record = self.selected()
        if record is None:
            return None
        name = record.name
        self.model.set_hash_state(name, HashState.CHECKING)
        return model_ops.verify(self, self.session, name).on_success(lambda _r: self._verified(name, None)).on_failure(
            lambda exc: self._verified(name, exc)).start()

    def _verified(self, name: str, exc: BaseException | None) -> None:
        if exc is None:
            self.model.set_hash_state(name, HashState.VERIFIED)
            self.status.setText(self.tr("{name}: the file matches its recorded SHA-256.").format(name=name))
        elif isinstance(exc, IntegrityError):
            self.model.set_hash_state(name, HashState.FAILED)
            self.status.setText(self.tr("{name}: {error}").format(name=name, error=error_text(exc)))
        else:
            self.model.set_hash_state(name, HashState.RECORDED)
            self.status.setText(error_text(exc))

    def set_default(self) -> Task | None:
        """Make the selected model the default."""
        record = self.selected()
        if record is None:
            return None
        return model_ops.set_default(self, self.session, record.name).on_success(
            lambda _r: self._default_set()).on_failure(lambda exc: self.status.setText(error_text(exc))).start()

    def _default_set(self) -> None:
        self.refresh()
        self.models_changed.emit()

    def edit_settings(self) -> None:
        """Open the selected model's settings."""
        record = self.selected()
        if record is not None and ModelSettingsDialog(self.session.registry, record, self).exec():
            self.refresh()

    def toggle_load(self) -> None:
        """Load the selected model into memory, or free it."""
        record = self.selected()
        if record is None:
            return
        name = record.name
        self.load_button.setEnabled(False)
        if name in self._loaded_names():
            self.status.setText(self.tr("Unloading {name}…").format(name=name))
            task = model_ops.unload(self, self.session, name).on_success(lambda _r: self._load_done(""))
        else:
            self.status.setText(self.tr("Loading {name}…").format(name=name))
            task = model_ops.load(self, self.session, name).on_success(lambda _r: self._load_done(name))
            task.on_progress(
                lambda done, _total: self.status.setText(
                    self.tr("Loading {name}… {percent}%").format(name=name, percent=done)
                )
            )
        task.on_failure(self._load_failed).start()

    def _load_done(self, name: str) -> None:
        self.status.setText(self.tr("{name} is loaded.").format(name=name) if name else self.tr("Unloaded."))
        self.refresh()

    def _load_failed(self, exc: BaseException) -> None:
        self.status.setText(error_text(exc))
        self.refresh()

    def remove_selected(self, *, confirm: bool = True) -> None:
        """Delete the selected model's file and record, after a confirmation."""
        record = self.selected()
        if record is None:
            return
        if confirm and QMessageBox.question(
            self, self.tr("Remove model"),
            self.tr("Remove {name} and delete its file ({size})?").format(
                name=record.name, size=human_size(record.file_size)
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        ) != QMessageBox.StandardButton.Yes:
            return
        name = record.name
        task = model_ops.remove(self, self.session, name).on_success(lambda _r: self._removed(name))
        task.on_failure(lambda exc: self.status.setText(error_text(exc))).start()

    def _removed(self, name: str) -> None:
        self.status.setText(self.tr("Removed {name}.").format(name=name))
        self.refresh()
        self.models_changed.emit()

    def _show_load_action(self, record: ModelRecord | None) -> None:
        # Unloading ejects the model from memory: its own icon, not the play symbol of loading.
        unload = record is not None and record.name in self._loaded_names()
        self.load_button.setText(self.tr("Unload") if unload else self.tr("Load"))
        self.load_button.setIcon(theme.icon("unload" if unload else "play"))

    def apply_icons(self) -> None:
        """Re-tint icons after a light/dark switch."""
        for button, icon in ((self.import_button, "import"), (self.verify_button, "check"),
                             (self.default_button, "star"), (self.settings_button, "settings"),
                             (self.remove_button, "trash")):
            button.setIcon(theme.icon(icon))
        self._show_load_action(self.selected())
