"""Datasets in the vault: import (validated whole, stored encrypted), list, remove, and a subject's erasure."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import NotFoundError, UserError
from engine.policy.audit_events import record
from engine.training.dataset import MAX_FILE_BYTES, DatasetRow, dataset_sha256, parse_dataset, resplit
from engine.vault import Vault
from engine.vault.training import StoredDataset

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class DatasetInfo:
    """What `datasets list` shows: no row content, only counts, hashes and subject labels."""

    id: str
    name: str
    sha256: str
    rows: int
    held_out: int
    subjects: tuple[str, ...]
    source: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """As `datasets list --json` prints it."""
        return {
            "id": self.id,
            "name": self.name,
            "sha256": self.sha256,
            "rows": self.rows,
            "held_out": self.held_out,
            "subjects": list(self.subjects),
            "source": self.source,
            "created_at": self.created_at,
        }


def _info(stored: StoredDataset) -> DatasetInfo:
    header = stored.header
    return DatasetInfo(
        stored.id,
        header["name"],
        header["sha256"],
        stored.row_count,
        int(header.get("held_out", 0)),
        tuple(header.get("subjects", ())),
        header.get("source", ""),
        stored.created_at,
    )


def _header(name: str, source: str, rows: list[DatasetRow]) -> dict[str, Any]:
    return {
        "name": name,
        "source": source,
        "sha256": dataset_sha256(rows),
        "held_out": sum(r.held_out for r in rows),
        "subjects": sorted({r.subject for r in rows if r.subject}),
    }


def _row_value(row: DatasetRow) -> dict[str, Any]:
    value = {"line": row.line, "messages": list(row.messages), "subject": row.subject, "held_out": row.held_out}
    return value if row.origin is None else {**value, "origin": row.origin}


def _row(value: dict[str, Any]) -> DatasetRow:
    return DatasetRow(
        int(value["line"]),
        tuple(value["messages"]),
        value.get("subject"),
        bool(value["held_out"]),
        value.get("origin"),
    )


def validate_dataset_name(name: str) -> str:
    """The name, or a UserError: 1-64 letters, digits, dot, dash, underscore (it is shown, never a path)."""
    if not NAME.fullmatch(name or ""):
        raise UserError("a dataset name is 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit")
    return name


def read_bounded(path: Path) -> bytes:
    """A dataset file's bytes, refusing one over the size limit before reading it all."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; split it")
    return data


class DatasetLibrary:
    """The vault's datasets, by name."""

    def __init__(self, vault: Vault, *, actor: str) -> None:
        self.vault = vault
        self.actor = actor

    def import_bytes(self, data: bytes, name: str, *, subject: str | None = None, source: str = "") -> DatasetInfo:
        """Validate a whole JSONL dataset in memory and store it encrypted; nothing is stored on any error."""
        self.check_new_name(name)
        return self.store(parse_dataset(data, subject=subject), name, source=source)

    def check_new_name(self, name: str) -> None:
        """A UserError unless `name` is a valid dataset name that no dataset has yet."""
        validate_dataset_name(name)
        if any(d.name == name for d in self.list()):
            raise UserError(f"a dataset called {name!r} already exists; remove it first or pick another name")

    def store(
        self, rows: builtins.list[DatasetRow], name: str, *, source: str, audit: dict[str, Any] | None = None
    ) -> DatasetInfo:
        """Store validated rows encrypted, all or nothing, and record the import (counts, never content)."""
        self.check_new_name(name)
        stored = self.vault.datasets.create(_header(name, source, rows), [_row_value(r) for r in rows])
        info = _info(stored)
        details = {"dataset": name, "sha256": info.sha256, "rows": info.rows, "subjects": len(info.subjects)}
        record(self.vault, "dataset_import", actor=self.actor, details={**details, **(audit or {})})
        return info

    def import_file(self, path: Path, name: str, *, subject: str | None = None) -> DatasetInfo:
        """Import a JSONL file (read into memory, never copied anywhere else)."""
        return self.import_bytes(read_bounded(path), name, subject=subject, source=Path(path).name)

    def list(self) -> builtins.list[DatasetInfo]:
        """Every dataset, oldest first."""
        return [_info(s) for s in self.vault.datasets.list()]

    def find(self, name: str) -> DatasetInfo:
        """The dataset called `name`; NotFoundError naming the command that lists them."""
        for info in self.list():
            if info.name == name:
                return info
        raise NotFoundError(f"no dataset {name!r}; see `enclave datasets list`")

    def get(self, dataset_id: str) -> DatasetInfo:
        """The dataset with this id."""
        return _info(self.vault.datasets.get(dataset_id))

    def rows(self, info: DatasetInfo) -> builtins.list[DatasetRow]:
        """The dataset's rows, decrypted into memory (training reads them from here, never from a file)."""
        return [_row(value) for value in self.vault.datasets.rows(info.id)]

    def remove(self, name: str) -> None:
        """Crypto-shred a dataset (adapters trained on it keep its SHA-256 in their record)."""
        info = self.find(name)
        self.vault.datasets.erase(info.id)
        record(self.vault, "dataset_remove", actor=self.actor, details={"dataset": name, "sha256": info.sha256})

    def erase_subject(self, label: str) -> dict[str, int]:
        """Delete every row tagged with a data subject; the datasets' hashes and counts are recomputed.
        Returns rows removed per dataset id."""
        removed: dict[str, int] = {}
        for info in self.list():
            if label not in info.subjects:
                continue
            values = self.vault.datasets.rows(info.id)
            gone = [v["id"] for v in values if v.get("subject") == label]
            staying = [v for v in values if v.get("subject") != label]
            kept = resplit([_row(v) for v in staying])  # the erased rows may have been all the held-out ones
            newly_held = [v["id"] for v, row in zip(staying, kept, strict=True) if row.held_out and not v["held_out"]]
            self.vault.datasets.remove_rows(
                info.id, gone, _header(info.name, info.source, kept), hold_out=newly_held
            )
            removed[info.id] = len(gone)
        return removed
