"""Operations of the Training page: importing a dataset file into the vault off the GUI thread."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QObject

from app.session import Session
from app.workers import Task, TaskContext
from engine.errors import UserError
from engine.training.dataset import MAX_FILE_BYTES, DatasetInvalid

READ_BLOCK = 1024 * 1024  # bytes read between progress reports
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def suggested_name(path: Path, taken: list[str]) -> str:
    """A dataset name from the file's name (letters, digits, . - _), one no dataset has yet."""
    stem = _UNSAFE.sub("-", Path(path).stem).strip("-._")[:56] or "dataset"
    name, number = stem, 2
    while name in taken:
        name, number = f"{stem}-{number}", number + 1
    return name


def import_file(owner: QObject, session: Session, path: Path, name: str, *, subject: str | None = None) -> Task:
    """Validate a JSONL dataset file and store it encrypted (all or nothing; the file is read into memory,
    never copied). Progress is (bytes read, file size) while reading, then (0, 0) while the rows are
    checked and stored; a bad file fails with `engine.training.dataset.DatasetInvalid` naming its lines."""
    datasets = session.engine.training.datasets

    def work(ctx: TaskContext) -> object:
        datasets.check_new_name(name)  # before reading a large file for nothing
        data = _read(Path(path), ctx)
        ctx.progress(0, 0)
        return datasets.import_bytes(data, name, subject=subject, source=Path(path).name)

    return Task(work, owner)


def _read(path: Path, ctx: TaskContext) -> bytes:
    """The file's bytes, read in blocks with progress, refused over the engine's size limit."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UserError(f"{path.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; split it")
        parts, done = [], 0
        with path.open("rb") as handle:
            while block := handle.read(READ_BLOCK):
                parts.append(block)
                done += len(block)
                if done > MAX_FILE_BYTES:
                    raise UserError(f"{path.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; split it")
                ctx.progress(done, max(size, done))
                if ctx.cancelled:
                    raise UserError("the import was cancelled; nothing was stored")
    except OSError as exc:
        raise UserError(f"cannot read {path.name}: {exc.strerror}") from None
    return b"".join(parts)


def problems(exc: BaseException) -> list[tuple[int, str]]:
    """The bad lines of a refused dataset file, (line, reason), all of them ([]: another kind of error)."""
    return list(exc.problems) if isinstance(exc, DatasetInvalid) else []
