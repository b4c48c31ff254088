"""Operations on the upstreams (Server page): check them all, remove one. Adding is the add dialog's
(`engine.upstreams` through `session.engine.upstreams`); each is audited in the desktop's name."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.session import Session
from app.workers import Task


def check(owner: QObject, session: Session) -> Task:
    """Contact every registered upstream (each up to about 5 s); the result is their `UpstreamStatus`es."""
    admin = session.engine.upstreams
    return Task(lambda _ctx: admin.with_health(), owner)


def remove(owner: QObject, session: Session, name: str) -> Task:
    """Forget upstream `name` and its stored key, as `enclave upstreams remove` does."""
    admin = session.engine.upstreams
    return Task(lambda _ctx: admin.remove(name), owner)
