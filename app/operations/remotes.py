"""Operations on the organisation servers this desktop is paired with (Models page): connect, list, check,
remove."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.session import Session
from app.workers import Task
from engine.pairing.remotes import RemoteServer, add_remote, list_remotes, refresh_models, remove_remote


def connect(owner: QObject, session: Session, name: str, code: str) -> Task:
    """Redeem pairing `code` over TLS pinned to the fingerprint it carries, list the server's models and
    store it as `name` (encrypted, audited); the Task's result is the RemoteServer."""
    vault, actor = session.vault, session.engine.actor.audit_name
    return Task(lambda _ctx: add_remote(vault, name, code, actor=actor), owner)


def remotes(session: Session) -> list[RemoteServer]:
    """The paired servers, as stored (nothing is contacted)."""
    return list_remotes(session.vault)


def check(owner: QObject, session: Session) -> Task:
    """Ask every paired server for its models (each stored); one down or changed does not hide the others:
    the result maps each server that failed to its exception."""
    vault = session.vault
    names = [r.name for r in list_remotes(vault)]

    def run(_ctx: object) -> dict[str, BaseException]:
        problems: dict[str, BaseException] = {}
        for name in names:
            try:
                refresh_models(vault, name)
            except Exception as exc:  # noqa: BLE001 (each server's reason is shown on its row)
                problems[name] = exc
        return problems

    return Task(run, owner)


def remove(owner: QObject, session: Session, name: str) -> Task:
    """Forget server `name` and its key (audited); conversations with its models stay."""
    vault, actor = session.vault, session.engine.actor.audit_name
    return Task(lambda _ctx: remove_remote(vault, name, actor=actor), owner)
