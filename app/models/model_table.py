"""The table of registered models (ModelRecords) on the Models view."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app.widgets import human_number, human_size, human_time
from engine.models import ModelRecord

Index = QModelIndex | QPersistentModelIndex


class Col(IntEnum):
    """Columns of the table."""

    NAME = 0
    ARCHITECTURE = 1
    SIZE = 2
    QUANTIZATION = 3
    CONTEXT = 4
    FILE_SIZE = 5
    LICENSE = 6
    SHA256 = 7
    STATE = 8


class HashState(IntEnum):
    """What is known about a model file's SHA-256 this session."""

    RECORDED = 0  # hashed at import, not re-checked since
    CHECKING = 1
    VERIFIED = 2
    FAILED = 3


class ModelTableModel(QAbstractTableModel):
    """One row per ModelRecord, with the default, loaded state and verification state."""

    NameRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._records: list[ModelRecord] = []
        self._default: str | None = None
        self._loaded: set[str] = set()
        self._hash: dict[str, HashState] = {}

    def set_records(self, records: list[ModelRecord], default: str | None, loaded: set[str]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self._records = list(records)
        self._default = default
        self._loaded = set(loaded)
        self.endResetModel()

    def set_hash_state(self, name: str, state: HashState) -> None:
        """Show the outcome of a verification."""
        self._hash[name] = state
        row = self.row_of(name)
        if row >= 0:
            index = self.index(row, Col.SHA256)
            self.dataChanged.emit(index, index)

    def record(self, row: int) -> ModelRecord | None:
        """The record at `row`, or None."""
        return self._records[row] if 0 <= row < len(self._records) else None

    def row_of(self, name: str) -> int:
        """The row of a model name, or -1."""
        return next((i for i, r in enumerate(self._records) if r.name == name), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(Col)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        if not 0 <= section < len(Col):
            return None
        return self._headers()[section]

    def _headers(self) -> tuple[str, ...]:
        return (
            self.tr("Name"),
            self.tr("Architecture"),
            self.tr("Size"),
            self.tr("Quantization"),
            self.tr("Context"),
            self.tr("File size"),
            self.tr("License"),
            self.tr("SHA-256"),
            self.tr("State"),
        )

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._records):
            return None
        record = self._records[index.row()]
        column = Col(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(record, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == Col.SHA256:
                return self.tr(
                    "SHA-256 {sha256}\nThe file last matched it {when}. Verify reads the whole file again and compares."
                ).format(sha256=record.sha256, when=_when(record.last_checked))
            if column == Col.NAME:  # the name may be elided in the table: whole here
                name = self._display(record, column)
                if record.is_base_model:
                    return name + "\n" + self.tr("A base model: it continues text rather than following instructions.")
                return name
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (Col.CONTEXT, Col.FILE_SIZE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.NameRole:
            return record.name
        return None

    def _display(self, record: ModelRecord, column: Col) -> str:
        facts = record.facts
        if column == Col.NAME:
            return record.name + (self.tr(" (default)") if record.name == self._default else "")
        if column == Col.ARCHITECTURE:
            return facts.architecture
        if column == Col.SIZE:
            return facts.size_label
        if column == Col.QUANTIZATION:
            return facts.quantization
        if column == Col.CONTEXT:
            return human_number(facts.context_length) if facts.context_length else "—"
        if column == Col.FILE_SIZE:
            return human_size(record.file_size)
        if column == Col.LICENSE:
            return facts.license or self.tr("not stated")
        if column == Col.SHA256:
            state = self._hash.get(record.name, HashState.RECORDED)
            return {
                HashState.RECORDED: (
                    self.tr("verified {when}").format(when=_when(record.verified_at))
                    if record.verified_at
                    else self.tr("checked at import, {when}").format(when=_when(record.imported_at))
                ),
                HashState.CHECKING: self.tr("checking…"),
                HashState.VERIFIED: self.tr("verified just now"),
                HashState.FAILED: self.tr("CHANGED — do not use"),
            }[state]
        return self.tr("loaded") if record.name in self._loaded else self.tr("not loaded")


def _when(iso: str | None) -> str:
    """A stored ISO time as the person's locale shows it."""
    try:
        return human_time(dt.datetime.fromisoformat(iso)) if iso else "—"
    except ValueError:
        return iso or "—"
