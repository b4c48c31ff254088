"""The Training view: pick a base model and a dataset, train a LoRA adapter with a live loss curve, then
see the base and adapted answers side by side and the adapter's record. The work is engine.training's."""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen, QPolygonF, QTextOption
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.conversation_dataset import ConversationDatasetDialog
from app.operations import training as training_ops
from app.session import Session
from app.widgets import error_text, muted, named
from app.workers import Task, TaskContext
from engine.errors import EnclaveError
from engine.training.jobs import Progress, TrainRequest

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class LossCurve(QWidget):
    """Training loss per step, drawn as a line that grows while the job runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[int, float]] = []
        self.total = 0
        self.setMinimumHeight(140)

    def reset(self, total: int = 0) -> None:
        """Start an empty curve for `total` steps."""
        self.points, self.total = [], total
        self.update()

    def add(self, step: int, loss: float) -> None:
        """One more point."""
        self.points.append((step, loss))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        margin = 8
        width, height = self.width() - 2 * margin, self.height() - 2 * margin
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(margin, margin, width, height)
        if len(self.points) < 2:
            return
        top = max(loss for _, loss in self.points) or 1.0
        steps = max(self.total, self.points[-1][0], 1)
        line = QPolygonF(
            [QPointF(margin + width * s / steps, margin + height * (1 - loss / top)) for s, loss in self.points]
        )
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
        painter.drawPolyline(line)


class TrainingView(QWidget):
    """Fine-tuning from the desktop: the same engine calls as `enclave train`."""

    models_changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.task: Task | None = None
        self.cancel = threading.Event()
        self.import_task: Task | None = None
        title = QLabel(self.tr("Training"))
        title.setObjectName("bigStatement")  # the page title, as on the other views
        columns = QHBoxLayout()
        columns.addWidget(self._build_settings(), 2)
        columns.addLayout(self._build_results(), 3)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(columns, 1)
        self.refresh()

    def _build_settings(self) -> QGroupBox:
        """Base model, dataset (and where new ones come from), hyperparameters, legal basis, Train/Stop."""
        self.base = named(QComboBox(), self.tr("Base model"))
        self.dataset = named(QComboBox(), self.tr("Dataset"))
        self.name = named(QLineEdit(), self.tr("Name of the adapted model"))
        self.epochs = named(QSpinBox(), self.tr("Epochs"))
        self.epochs.setRange(1, 100)
        self.epochs.setValue(3)
        self.rank = named(QSpinBox(), self.tr("LoRA rank"))
        self.rank.setRange(1, 256)
        self.rank.setValue(8)
        self.lr = named(QDoubleSpinBox(), self.tr("Learning rate"))
        self.lr.setDecimals(6)
        self.lr.setRange(0.000001, 1.0)
        self.lr.setSingleStep(0.0001)
        self.lr.setValue(0.0002)
        self.legal_basis = named(QLineEdit(), self.tr("Legal basis"))
        self.legal_basis.setPlaceholderText(self.tr("Why this personal data may train a model (recorded)"))
        for combo in (self.base, self.dataset):
            combo.currentIndexChanged.connect(self._suggest_name)

        form = QFormLayout()
        form.addRow(self.tr("Base model:"), self.base)
        self.from_conversations = named(
            QPushButton(self.tr("New dataset from conversations…")), self.tr("New dataset from conversations")
        )
        self.from_conversations.clicked.connect(self.new_dataset_from_conversations)
        self.import_button = named(QPushButton(self.tr("Import JSONL file…")), self.tr("Import a dataset file"))
        self.import_button.setToolTip(self.tr("A JSONL file in OpenAI's fine-tuning format: one "
                                              "{\"messages\": [...]} object a line"))
        self.import_button.clicked.connect(self.ask_import_file)
        dataset_row = QHBoxLayout()
        dataset_row.addWidget(self.dataset, 1)
        form.addRow(self.tr("Dataset:"), dataset_row)
        sources_row = QHBoxLayout()
        sources_row.addWidget(self.import_button)
        sources_row.addWidget(self.from_conversations)
        sources_row.addStretch(1)
        form.addRow("", sources_row)
        # Importing a file: progress, then the bad lines (if any) with their numbers; nothing half-imported.
        self.import_progress = named(QProgressBar(), self.tr("Dataset import progress"))
        self.import_progress.hide()
        self.import_report = named(QPlainTextEdit(), self.tr("Dataset import problems"))
        self.import_report.setReadOnly(True)
        self.import_report.setMaximumHeight(140)
        self.import_report.hide()
        form.addRow(self.tr("Adapted model:"), self.name)
        form.addRow(self.tr("Epochs:"), self.epochs)
        form.addRow(self.tr("LoRA rank:"), self.rank)
        form.addRow(self.tr("Learning rate:"), self.lr)
        form.addRow(self.tr("Legal basis:"), self.legal_basis)
        self.start_button = named(QPushButton(self.tr("Train")), self.tr("Train"))
        self.start_button.clicked.connect(self.start)
        self.stop_button = named(QPushButton(self.tr("Stop")), self.tr("Stop"))
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        settings = QGroupBox(self.tr("Settings"))
        box = QVBoxLayout(settings)
        box.addLayout(form)
        box.addWidget(muted(self.tr(
            "Import a JSONL file in OpenAI's fine-tuning format, or build a dataset from conversations. "
            "Either is checked first and stored encrypted in the vault."
        )))
        box.addWidget(self.import_progress)
        box.addWidget(self.import_report)
        box.addStretch(1)
        box.addLayout(buttons)
        return settings

    def _build_results(self) -> QVBoxLayout:
        """The live loss curve and progress, the evaluation side by side, the adapter's record."""
        self.progress = named(QProgressBar(), self.tr("Training progress"))
        self.status = QLabel(self.tr("Pick a base model and a dataset."))
        self.status.setWordWrap(True)
        self.curve = named(LossCurve(), self.tr("Loss curve"))
        self.evaluation = named(QTextBrowser(), self.tr("Evaluation: base and adapted answers"))
        # Long answers (or one long word) wrap inside their cells: the box never scrolls sideways.
        self.evaluation.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.evaluation.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.record = named(QTextBrowser(), self.tr("The adapter's record"))

        right = QVBoxLayout()
        right.addWidget(QLabel(self.tr("Loss")))
        right.addWidget(self.curve)
        right.addWidget(self.progress)
        right.addWidget(self.status)
        right.addWidget(QLabel(self.tr("Evaluation on held-out prompts")))
        right.addWidget(self.evaluation, 2)
        right.addWidget(QLabel(self.tr("Record")))
        right.addWidget(self.record, 1)
        return right

    # -- choices -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Fill the pickers from the registry and the vault."""
        self.base.clear()
        for record in self.session.registry.list():
            if record.adapter is None:
                self.base.addItem(record.name, record.name)
        self.dataset.clear()
        for info in self.session.engine.training.datasets.list():
            label = self.tr("{name} ({rows} rows)").format(name=info.name, rows=info.rows)
            self.dataset.addItem(label, info.name)
        self._suggest_name()

    def new_dataset_from_conversations(self) -> ConversationDatasetDialog:
        """Open the dialog that builds a dataset from ticked conversations; the new one is then picked."""
        dialog = ConversationDatasetDialog(self.session, self.base.currentData(), self)
        dialog.accepted.connect(lambda: self._dataset_created(dialog))
        dialog.open()
        return dialog

    def ask_import_file(self) -> None:
        """Pick a JSONL file and a name for the dataset, then import it."""
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Import a dataset"), "",
                                              self.tr("JSONL datasets (*.jsonl *.json);;All files (*)"))
        if not path:
            return
        taken = [self.dataset.itemData(i) for i in range(self.dataset.count())]
        name, ok = QInputDialog.getText(self, self.tr("Import a dataset"), self.tr("Name of the dataset:"),
                                        text=training_ops.suggested_name(Path(path), taken))
        if ok and name.strip():
            self.import_file(Path(path), name.strip())

    def import_file(self, path: Path, name: str) -> Task | None:
        """Validate and store a dataset file in the background; bad lines are listed with their numbers."""
        if self.import_task is not None:
            self.status.setText(self.tr("Wait until the dataset being imported is stored."))
            return None
        self.import_report.clear()
        self.import_report.hide()
        self.import_progress.setRange(0, 0)
        self.import_progress.show()
        self.import_button.setEnabled(False)
        self.status.setText(self.tr("Importing {file}…").format(file=path.name))
        self.import_task = (training_ops.import_file(self, self.session, path, name)
                            .on_success(self._imported).on_failure(self._import_failed)
                            .on_progress(self._import_progressed))
        return self.import_task.start()

    def _import_progressed(self, done: int, total: int) -> None:
        self.import_progress.setRange(0, total)  # (0, 0): checking the rows, a busy bar
        if total:
            self.import_progress.setValue(done)
        else:
            self.status.setText(self.tr("Checking the rows and storing them encrypted…"))

    def _import_ended(self) -> None:
        self.import_task = None
        self.import_progress.hide()
        self.import_button.setEnabled(True)

    def _imported(self, info: Any) -> None:
        self._import_ended()
        base = self.base.currentData()
        self.refresh()
        self.base.setCurrentIndex(max(0, self.base.findData(base)))
        self.dataset.setCurrentIndex(self.dataset.findData(info.name))
        self.status.setText(self.tr("Dataset {name} imported: {rows} rows, {held_out} held out for evaluation.")
                            .format(name=info.name, rows=info.rows, held_out=info.held_out))

    def _import_failed(self, exc: BaseException) -> None:
        self._import_ended()
        bad = training_ops.problems(exc)
        if not bad:
            self.status.setText(self.tr("The dataset was not imported: {error}").format(error=error_text(exc)))
            return
        self.status.setText(self.tr("The file has {count} bad rows; nothing was imported. Fix them and import "
                                    "it again.").format(count=len(bad)))
        self.import_report.setPlainText("\n".join(
            self.tr("Line {line}: {problem}").format(line=line, problem=problem) for line, problem in bad))
        self.import_report.show()

    def _dataset_created(self, dialog: ConversationDatasetDialog) -> None:
        if dialog.created is None:
            return
        base = self.base.currentData()
        self.refresh()
        self.base.setCurrentIndex(max(0, self.base.findData(base)))
        self.dataset.setCurrentIndex(self.dataset.findData(dialog.created.name))
        self.status.setText(
            self.tr("Dataset {name} built from {rows} conversations.").format(
                name=dialog.created.name, rows=dialog.created.rows
            )
        )

    def _suggest_name(self) -> None:
        base, dataset = self.base.currentData(), self.dataset.currentData()
        if base and dataset and not self.task:
            # A model already trained from this pair (by any name, e.g. from the CLI) is shown, not hidden.
            trained = self._trained_from(base, dataset)
            self.name.setText(trained or SAFE_NAME.sub("-", f"{base}-{dataset}")[:64])
            self._show_existing(self.name.text())

    def _trained_from(self, base: str, dataset: str) -> str | None:
        """The newest adapted model trained on `base` from `dataset`, if any."""
        found = None
        for record in self.session.registry.list():
            if record.adapter is not None and record.adapter.base == base:
                try:
                    if self.session.engine.training.info(record.name).get("dataset") == dataset:
                        found = record.name
                except EnclaveError:
                    continue
        return found

    def _show_existing(self, name: str) -> None:
        """An adapted model of that name already exists: show how it was trained."""
        try:
            record = self.session.registry.get(name)
        except EnclaveError:
            return
        if record.adapter is not None:
            self.show_record(name)
            self.status.setText(self.tr("{name} already exists: this is how it was trained.").format(name=name))

    # -- running -------------------------------------------------------------------------------

    def start(self) -> Task | None:
        """Train in the background; the curve and status follow each step."""
        if not self.base.currentData() or not self.dataset.currentData():
            self.status.setText(self.tr("Pick a base model and a dataset first."))
            return None
        request = TrainRequest(
            self.base.currentData(),
            self.dataset.currentData(),
            self.name.text().strip(),
            epochs=self.epochs.value(),
            rank=self.rank.value(),
            lr=self.lr.value(),
            legal_basis=self.legal_basis.text().strip() or None,
        )
        training = self.session.engine.training
        self.cancel = cancel = threading.Event()

        def work(ctx: TaskContext) -> str:
            for item in training.train(request, cancel):
                ctx.progress(item, 0)  # type: ignore[arg-type]  # the signal carries any object
            return request.name

        self.curve.reset()
        self.progress.setValue(0)
        self.evaluation.clear()
        self.record.clear()
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText(self.tr("Preparing…"))
        # Progress is connected before the work starts: no step is missed.
        self.task = Task(work, self).on_success(self._finished).on_failure(self._failed).on_progress(self._progressed)
        return self.task.start()

    def stop(self) -> None:
        """Stop at the next step; the checkpoint is kept for a resume."""
        self.cancel.set()
        self.status.setText(self.tr("Stopping at the next step…"))

    def _progressed(self, item: Any, _: Any) -> None:
        if not isinstance(item, Progress):
            return
        if item.phase == "train" and item.loss is not None:
            if not self.curve.points:
                self.curve.reset(item.total)
            self.curve.add(item.step, item.loss)
            self.progress.setMaximum(item.total)
            self.progress.setValue(item.step)
            left = self.tr("{seconds} s left").format(seconds=f"{item.eta_s:,.0f}") if item.eta_s is not None else ""
            self.status.setText(
                self.tr("Step {step} of {total}, loss {loss}").format(
                    step=item.step, total=item.total, loss=f"{item.loss:.4f}"
                )
                + (f" — {left}" if left else "")
            )
        elif item.phase == "evaluate":
            self.status.setText(self.tr("Evaluating the adapter…"))

    def _finished(self, name: str) -> None:
        self.task = None
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.status.setText(self.tr("Adapted model {name} is ready.").format(name=name))
        self.show_record(name)
        self.models_changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self.task = None
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.status.setText(self.tr("Training stopped: {error}").format(error=error_text(exc)))

    def show_record(self, name: str) -> None:
        """The adapter's provenance, and its evaluation side by side."""
        info = self.session.engine.training.info(name)
        self.record.setHtml(
            "<table cellpadding='2' cellspacing='0'>"
            + "".join(
                f"<tr><td style='white-space:nowrap'><b>{html.escape(label)}</b></td><td>{html.escape(value)}</td></tr>"
                for label, value in self.record_rows(info)
            )
            + "</table>"
        )
        if not self.task:  # the curve of a finished training, from its record; its bar full
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.curve.reset()
            for step, loss in info.get("losses", []):
                self.curve.add(int(step), float(loss))
        self.show_evaluation(info.get("evaluation") or {})

    def show_evaluation(self, evaluation: dict[str, Any]) -> None:
        """The held-out loss before and after, and the base and adapted answers side by side."""
        before = f"{evaluation.get('held_out_loss_before', 0):.4f}"
        after = f"{evaluation.get('held_out_loss_after', 0):.4f}"
        summary = self.tr("Held-out loss: {before} before, {after} after.").format(before=before, after=after)
        # Plain tr() calls: lupdate does not look inside f-strings.
        headers = (self.tr("Prompt"), self.tr("Expected"), self.tr("Base model"), self.tr("Adapted model"))
        rows = [
            f"<p>{html.escape(summary)}</p>",
            "<table border='1' cellpadding='4' cellspacing='0' width='100%'>",
            "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>",
        ]
        for sample in evaluation.get("samples", []):
            prompt = sample["prompt"][-1]["content"] if sample["prompt"] else ""
            cells = (prompt, sample["expected"], sample["base"], sample["adapted"])
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        rows.append("</table>")
        self.evaluation.setHtml("".join(rows))

    def record_rows(self, info: dict[str, Any]) -> list[tuple[str, str]]:
        """The adapter's provenance as labelled lines in the person's language (`models info --json`: raw)."""
        hp = info.get("hyperparameters") or {}
        subjects = info.get("subjects") or []
        stack = info.get("stack") or {}
        status = self.tr("withdrawn") if info.get("withdrawn") else (
            self.tr("ready") if info.get("status") == "done" else str(info.get("status", ""))
        )
        licence = info.get("base_licence") or self.tr("licence unknown")
        rows = [
            (self.tr("Base model"), f"{info.get('base_model', '')} ({licence})"),
            (self.tr("Base model SHA-256"), str(info.get("base_sha256") or "")),
            (self.tr("Adapter SHA-256"), str(info.get("adapter_sha256") or "")),
            (self.tr("Dataset"), self.tr("{name}: trained on {rows} rows, {held_out} held out for evaluation").format(
                name=info.get("dataset", ""), rows=info.get("rows", 0), held_out=info.get("held_out_rows", 0))),
            (self.tr("Dataset SHA-256"), str(info.get("dataset_sha256") or "")),
            (self.tr("Data subjects"), ", ".join(map(str, subjects)) if subjects else self.tr("none labelled")),
            (self.tr("Legal basis"), info.get("legal_basis") or self.tr("none recorded")),
            (self.tr("Settings"), self.tr("{epochs} epochs, LoRA rank {rank}, learning rate {lr}").format(
                epochs=hp.get("epochs", ""), rank=hp.get("rank", ""), lr=hp.get("lr", ""))),
            (self.tr("Trained"), self.tr("{when} on {device}").format(
                when=str(info.get("trained_at") or "")[:19].replace("T", " "), device=info.get("device") or "?")),
            (self.tr("Software"), ", ".join(f"{k} {v}" for k, v in stack.items())),
            (self.tr("Status"), status),
        ]
        return [(label, value) for label, value in rows if value]
