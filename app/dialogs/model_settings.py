"""Per-model load settings: context size, parallel requests, threads, GPU layers, chat template override,
with the memory they will take."""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.widgets import error_text, human_number, human_size, muted, named
from engine.models import ModelRecord, ModelRegistry, ModelSettings
from engine.models.memory import estimate_memory
from engine.models.templates import BUILTIN_TEMPLATES


class ModelSettingsDialog(QDialog):
    """Edit a ModelRecord's settings; saving validates them in the registry."""

    def __init__(self, registry: ModelRegistry, record: ModelRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.record = record
        self.saved: ModelRecord | None = None
        settings = record.settings
        self.setWindowTitle(self.tr("Settings for {name}").format(name=record.name))
        self.setMinimumWidth(480)  # room for the memory line in a few lines rather than five
        self._build_sizes(settings)
        self._build_gpu(settings)
        self._build_template(settings)
        self.memory = muted("")
        self.message = QLabel()
        self.message.setObjectName("errorLabel")
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        named(buttons.button(QDialogButtonBox.StandardButton.Save), self.tr("Save"))
        named(buttons.button(QDialogButtonBox.StandardButton.Cancel), self.tr("Cancel"))
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_form(record))
        layout.addWidget(muted(self.tr("Changes apply the next time the model loads.")))
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.gpu_mode.currentIndexChanged.connect(self._update)
        self.template.currentIndexChanged.connect(self._update)
        self.context.valueChanged.connect(self._show_memory)
        self.parallel.valueChanged.connect(self._show_memory)
        self._update()
        self._show_memory()

    def _build_sizes(self, settings: ModelSettings) -> None:
        """Context size, parallel requests and CPU threads."""
        self.context = named(QSpinBox(), self.tr("Context size in tokens"))
        self.context.setRange(0, 1_048_576)
        self.context.setSingleStep(1024)
        self.context.setSpecialValueText(self.tr("automatic"))
        self.context.setValue(settings.context_size or 0)
        self.parallel = named(QSpinBox(), self.tr("Parallel requests"))
        self.parallel.setRange(1, 64)
        self.parallel.setValue(settings.parallel)
        self.threads = named(QSpinBox(), self.tr("CPU threads"))
        self.threads.setRange(0, 512)
        self.threads.setSpecialValueText(self.tr("automatic"))
        self.threads.setValue(settings.threads or 0)

    def _build_gpu(self, settings: ModelSettings) -> None:
        """GPU layers: automatic, all, none or a number."""
        self.gpu_mode = named(QComboBox(), self.tr("GPU layers"))
        for key, text in (
            ("auto", self.tr("Automatic")),
            ("all", self.tr("All layers")),
            ("none", self.tr("None (CPU only)")),
            ("number", self.tr("A number of layers")),
        ):
            self.gpu_mode.addItem(text, key)
        self.gpu_layers = named(QSpinBox(), self.tr("Number of GPU layers"))
        self.gpu_layers.setRange(0, 1000)
        if isinstance(settings.gpu_layers, int):
            self.gpu_mode.setCurrentIndex(self.gpu_mode.findData("number"))
            self.gpu_layers.setValue(settings.gpu_layers)
        else:
            self.gpu_mode.setCurrentIndex(max(self.gpu_mode.findData(settings.gpu_layers), 0))

    def _build_template(self, settings: ModelSettings) -> None:
        """The chat template: the file's, a built-in one or a custom Jinja text."""
        self.template = named(QComboBox(), self.tr("Chat template"))
        self.template.addItem(self.tr("From the model file"), None)
        for name in BUILTIN_TEMPLATES:
            self.template.addItem(self.tr("Built-in: {name}").format(name=name), name)
        self.template.addItem(self.tr("Custom (Jinja)…"), "custom")
        self.custom = named(QPlainTextEdit(), self.tr("Custom chat template"))
        self.custom.setPlaceholderText("{% for m in messages %}…{% endfor %}")
        current = settings.chat_template
        if current is None:
            self.template.setCurrentIndex(0)
        elif current in BUILTIN_TEMPLATES:
            self.template.setCurrentIndex(self.template.findData(current))
        else:
            self.template.setCurrentIndex(self.template.findData("custom"))
            self.custom.setPlainText(current)

    def _build_form(self, record: ModelRecord) -> QFormLayout:
        """The labelled rows."""
        gpu_row = QHBoxLayout()
        gpu_row.addWidget(self.gpu_mode, 1)
        gpu_row.addWidget(self.gpu_layers)
        form = QFormLayout()
        form.addRow(self.tr("Context:"), self.context)
        form.addRow("", muted(self.tr("The model was trained for {n} tokens.").format(n=record.facts.context_length)))
        form.addRow(self.tr("Parallel requests:"), self.parallel)
        form.addRow("", muted(self.tr("Requests answered at the same time, each with the whole context.")))
        form.addRow("", self.memory)
        form.addRow(self.tr("Threads:"), self.threads)
        form.addRow(self.tr("GPU layers:"), gpu_row)
        form.addRow(self.tr("Chat template:"), self.template)
        form.addRow("", self.custom)
        return form

    def _update(self) -> None:
        self.gpu_layers.setVisible(self.gpu_mode.currentData() == "number")
        self.custom.setVisible(self.template.currentData() == "custom")

    def _show_memory(self) -> None:
        """What the model will take with the context and parallel requests as they stand in the form."""
        settings = dataclasses.replace(
            self.record.settings, context_size=self.context.value() or None, parallel=self.parallel.value()
        )
        estimate = estimate_memory(dataclasses.replace(self.record, settings=settings))
        self.memory.setText(
            self.tr(
                "Memory when loaded: up to about {total} ({weights} weights, {cache} context cache for {tokens} "
                "tokens, {saved} for conversations waiting in RAM)"
            ).format(
                total=human_size(estimate.total), weights=human_size(estimate.weights),
                cache=human_size(estimate.kv_cache), tokens=human_number(estimate.cells),
                saved=human_size(estimate.saved_conversations),
            )
        )

    def changes(self) -> dict[str, Any]:
        """The settings as `ModelRegistry.update_settings` takes them."""
        mode = self.gpu_mode.currentData()
        template = self.template.currentData()
        return {
            "context_size": self.context.value() or None,
            "parallel": self.parallel.value(),
            "threads": self.threads.value() or None,
            "gpu_layers": self.gpu_layers.value() if mode == "number" else mode,
            "chat_template": (self.custom.toPlainText().strip() or None) if template == "custom" else template,
        }

    def save(self) -> None:
        """Store the settings (the registry validates them; a bad one is explained here)."""
        try:
            self.saved = self.registry.update_settings(self.record.name, **self.changes())
        except Exception as exc:  # noqa: BLE001 (validation errors are shown, not raised)
            self.message.setText(error_text(exc))
            return
        self.accept()
