"""Operations on local models (the Models page): import, verify, load, unload, remove, make default."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from app.session import Session
from app.workers import Task


def load(owner: QObject, session: Session, name: str) -> Task:
    """Load `name` into memory (the allowlist applies); its progress (percent of 100) as the engine reports it."""
    admin = session.engine.model_admin
    return Task(lambda ctx: admin.load(name, on_load=lambda p: ctx.progress(round(p.fraction * 100), 100)), owner)


def unload(owner: QObject, session: Session, name: str) -> Task:
    """Free the memory `name` takes."""
    admin = session.engine.model_admin
    return Task(lambda ctx: admin.unload(name), owner)


def remove(owner: QObject, session: Session, name: str) -> Task:
    """Unload `name`, delete its file and record (audited)."""
    admin = session.engine.model_admin
    return Task(lambda ctx: admin.remove(name), owner)


def import_file(owner: QObject, session: Session, path: Path, name: str | None = None) -> Task:
    """Copy, hash and register a GGUF (the allowlist decides; audited); progress is bytes (done, total), the
    task's cancel stops the copy and keeps nothing; the result is the `ModelRecord`."""
    admin = session.engine.model_admin
    return Task(lambda ctx: admin.import_file(path, name, progress=ctx.progress, cancel=ctx.cancel_event), owner)


def verify(owner: QObject, session: Session, name: str) -> Task:
    """Re-hash `name`'s file against the SHA-256 recorded at import (IntegrityError when it differs)."""
    admin = session.engine.model_admin
    return Task(lambda _ctx: admin.verify(name), owner)


def set_default(owner: QObject, session: Session, name: str) -> Task:
    """Make `name` the model used when none is named (audited)."""
    admin = session.engine.model_admin
    return Task(lambda _ctx: admin.set_default(name), owner)
