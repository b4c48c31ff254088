"""The chat side sheet: system prompt, presets and sampling settings."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.widgets import muted, named
from engine.errors import EnclaveError
from engine.runtime import GenerationParams

SETTINGS_KEY = "gui.chat.sampling"
# name -> (temperature, top_p, top_k, repeat_penalty)
PRESETS: dict[str, tuple[float, float, int, float]] = {
    "balanced": (0.8, 0.95, 40, 1.0),
    "precise": (0.2, 0.9, 20, 1.05),
    "creative": (1.1, 0.98, 80, 1.0),
}


class ChatSettingsSheet(QWidget):
    """Edits the system prompt of the open chat and the sampling used for new replies."""

    system_prompt_edited = Signal(str)
    params_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sheet")
        self.setMinimumWidth(250)
        self._loading = False
        self._build_fields()
        self._build_layout()
        self.set_params(GenerationParams(max_tokens=512))
        self._connect_fields()

    def _build_fields(self) -> None:
        self.system_prompt = named(QPlainTextEdit(), self.tr("System prompt"))
        self.system_prompt.setPlaceholderText(self.tr("e.g. You are a concise assistant for our legal team."))
        self.system_prompt.setMaximumHeight(140)
        self.preset = named(QComboBox(), self.tr("Preset"))
        for key, text in (
            ("balanced", self.tr("Balanced")),
            ("precise", self.tr("Precise")),
            ("creative", self.tr("Creative")),
            ("custom", self.tr("Custom")),
        ):
            self.preset.addItem(text, key)
        self.temperature = self._double(self.tr("Temperature"), 0.0, 2.0, 0.05)
        self.top_p = self._double(self.tr("Top P"), 0.05, 1.0, 0.01)
        self.top_k = named(QSpinBox(), self.tr("Top K"))
        self.top_k.setRange(0, 1000)
        self.repeat_penalty = self._double(self.tr("Repeat penalty"), 0.5, 2.0, 0.01)
        self.max_tokens = named(QSpinBox(), self.tr("Maximum reply length in tokens"))
        self.max_tokens.setRange(16, 32768)
        self.max_tokens.setSingleStep(64)
        self.seed = named(QSpinBox(), self.tr("Seed"))
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setSpecialValueText(self.tr("random"))

    def _build_layout(self) -> None:
        title = QLabel(self.tr("Chat settings"))
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        form = QFormLayout()
        form.addRow(self.tr("Preset:"), self.preset)
        form.addRow(self.tr("Temperature:"), self.temperature)
        form.addRow(self.tr("Top P:"), self.top_p)
        form.addRow(self.tr("Top K:"), self.top_k)
        form.addRow(self.tr("Repeat penalty:"), self.repeat_penalty)
        form.addRow(self.tr("Max tokens:"), self.max_tokens)
        form.addRow(self.tr("Seed:"), self.seed)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(QLabel(self.tr("System prompt (this chat):")))
        layout.addWidget(self.system_prompt)
        layout.addWidget(muted(self.tr("Sampling (all chats):")))
        layout.addLayout(form)
        layout.addStretch(1)

    def _connect_fields(self) -> None:
        # A typed system prompt is saved after a pause, not on every key press.
        self._prompt_timer = QTimer(self)
        self._prompt_timer.setSingleShot(True)
        self._prompt_timer.setInterval(600)
        self._prompt_timer.timeout.connect(lambda: self.system_prompt_edited.emit(self.system_prompt.toPlainText()))
        self.system_prompt.textChanged.connect(self._prompt_typed)
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        for box in (self.temperature, self.top_p, self.top_k, self.repeat_penalty):
            box.valueChanged.connect(self._tuned)
        for box in (self.max_tokens, self.seed):
            box.valueChanged.connect(self._emit_params)

    def _double(self, name: str, low: float, high: float, step: float) -> QDoubleSpinBox:
        box = named(QDoubleSpinBox(), name)
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setDecimals(2)
        return box

    # -- system prompt ---------------------------------------------------------------------------

    def set_system_prompt(self, text: str | None) -> None:
        """Show a conversation's system prompt without reporting it as an edit."""
        self._loading = True
        self.system_prompt.setPlainText(text or "")
        self._loading = False
        self._prompt_timer.stop()

    def system_prompt_text(self) -> str | None:
        """The system prompt typed, or None when empty."""
        return self.system_prompt.toPlainText().strip() or None

    def _prompt_typed(self) -> None:
        if not self._loading:
            self._prompt_timer.start()

    # -- sampling ----------------------------------------------------------------------------------

    def params(self) -> GenerationParams:
        """The sampling settings as the engine takes them."""
        return GenerationParams(
            max_tokens=self.max_tokens.value(),
            temperature=round(self.temperature.value(), 2),
            top_p=round(self.top_p.value(), 2),
            top_k=self.top_k.value(),
            repeat_penalty=round(self.repeat_penalty.value(), 2),
            seed=None if self.seed.value() < 0 else self.seed.value(),
        )

    def set_params(self, params: GenerationParams) -> None:
        """Show stored settings (and the preset they match)."""
        self._loading = True
        self.temperature.setValue(params.temperature)
        self.top_p.setValue(params.top_p)
        self.top_k.setValue(params.top_k)
        self.repeat_penalty.setValue(params.repeat_penalty)
        self.max_tokens.setValue(params.max_tokens)
        self.seed.setValue(-1 if params.seed is None else params.seed)
        self._match_preset()
        self._loading = False

    def to_settings(self) -> dict[str, Any]:
        """A JSON-able form for the vault settings."""
        keys = ("max_tokens", "temperature", "top_p", "top_k", "repeat_penalty", "seed")
        return {k: v for k, v in asdict(self.params()).items() if k in keys}

    def load_settings(self, data: dict[str, Any] | None) -> None:
        """Apply what `to_settings` stored (bad values fall back to the defaults)."""
        if not data:
            return
        # Values stored by an older version may not fit any more: keep the defaults then.
        with contextlib.suppress(TypeError, ValueError, EnclaveError):
            self.set_params(GenerationParams(**data).validated())

    def _match_preset(self) -> None:
        current = (
            round(self.temperature.value(), 2),
            round(self.top_p.value(), 2),
            self.top_k.value(),
            round(self.repeat_penalty.value(), 2),
        )
        key = next((k for k, v in PRESETS.items() if v == current), "custom")
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(self.preset.findData(key))
        self.preset.blockSignals(False)

    def _preset_chosen(self) -> None:
        values = PRESETS.get(self.preset.currentData())
        if values is None or self._loading:
            return
        self._loading = True
        self.temperature.setValue(values[0])
        self.top_p.setValue(values[1])
        self.top_k.setValue(values[2])
        self.repeat_penalty.setValue(values[3])
        self._loading = False
        self.params_changed.emit()

    def _tuned(self) -> None:
        if not self._loading:
            self._match_preset()
            self.params_changed.emit()

    def _emit_params(self) -> None:
        if not self._loading:
            self.params_changed.emit()
