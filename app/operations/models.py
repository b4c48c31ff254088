"""Operations on local models (the Models page): load, unload, remove, make default."""

from __future__ import annotations

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
