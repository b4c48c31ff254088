"""Operations of the data-protection panel (Privacy page): legal hold, data subjects (tag, export, erase),
the processing record and the model allowlist. Each change runs off the GUI thread and is audited in the
desktop's name; the rules are `engine.policy`'s."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from app.session import Session
from app.workers import Task
from engine.policy import allowlist, report, retention, subjects
from engine.policy.subjects import Selection


def bundle_folder(parent: Path, subject: str, today: dt.date | None = None) -> Path:
    """A new folder under `parent` for one subject's export (the engine wants a new or empty folder)."""
    safe = re.sub(r"[^\w.-]+", "-", subject, flags=re.UNICODE).strip("-.") or "subject"
    base = parent / f"enclave-subject-{safe}-{(today or dt.date.today()).isoformat()}"
    folder, n = base, 2
    while folder.exists() and any(folder.iterdir()):
        folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    return folder


def policy(session: Session) -> retention.RetentionPolicy:
    """The retention policy in force (legal hold, subjects on hold)."""
    return retention.get_policy(session.vault)


def subject_counts(session: Session) -> dict[str, int]:
    """Every data subject label with how many conversations carry it."""
    return subjects.subjects(session.vault)


def approvals(session: Session) -> dict[str, dict[str, Any]]:
    """The approved models by SHA-256 (each with the name it was approved under)."""
    return dict(allowlist.approved(session.vault))


def allowlist_required(session: Session) -> bool:
    """True when only approved models may be imported and loaded."""
    return allowlist.is_required(session.vault)


def set_legal_hold(owner: QObject, session: Session, on: bool, subject: str | None = None) -> Task:
    """Hold (or release) everything, or one data subject's conversations."""
    vault, actor = session.vault, session.engine.actor.audit_name
    return Task(lambda _ctx: retention.set_legal_hold(vault, bool(on), actor=actor, subject=subject), owner)


def tag(owner: QObject, session: Session, conversation_id: str, label: str | None) -> Task:
    """Tag a conversation with data subject `label` (None clears the tag)."""
    vault, actor = session.vault, session.engine.actor.audit_name
    return Task(lambda _ctx: subjects.tag(vault, [conversation_id], label, actor=actor), owner)


def export_subject(owner: QObject, session: Session, folder: Path, label: str) -> Task:
    """Write the subject's bundle (plain JSON parts and a manifest) into `folder`; the result is the manifest."""
    vault, actor = session.vault, session.engine.actor.audit_name
    return Task(lambda _ctx: subjects.export_bundle(vault, folder, Selection(subject=label), actor=actor), owner)


def erase_subject(owner: QObject, session: Session, label: str) -> Task:
    """Crypto-shred every conversation tagged `label`, and the subject's training rows (adapted models made
    from them are withdrawn); the result is `subjects.Erased`."""
    vault, actor = session.vault, session.engine.actor.audit_name
    training = session.engine.training
    return Task(
        lambda _ctx: subjects.erase(vault, Selection(subject=label), actor=actor, erasers=[training]), owner
    )


def processing_record(owner: QObject, session: Session) -> Task:
    """The record of processing activities (GDPR Art. 30) as text, built from the live configuration."""
    vault, registry, actor = session.vault, session.registry, session.engine.actor.audit_name
    return Task(lambda _ctx: report.render_text(report.processing_record(vault, registry, actor=actor)), owner)


def set_allowlist_required(owner: QObject, session: Session, on: bool) -> Task:
    """Require (or stop requiring) approved models for import and load."""
    vault, actor = session.vault, session.engine.actor.audit_name
    return Task(lambda _ctx: allowlist.set_required(vault, bool(on), actor=actor), owner)


def approve(owner: QObject, session: Session, target: str) -> Task:
    """Approve a registered model (by name) or a SHA-256; the result is the SHA-256 approved."""
    vault, registry, actor = session.vault, session.registry, session.engine.actor.audit_name
    return Task(lambda _ctx: allowlist.approve(vault, target, actor=actor, registry=registry), owner)


def unapprove(owner: QObject, session: Session, sha256: str) -> Task:
    """Withdraw the approval of `sha256`."""
    vault, registry, actor = session.vault, session.registry, session.engine.actor.audit_name
    return Task(lambda _ctx: allowlist.unapprove(vault, sha256, actor=actor, registry=registry), owner)
