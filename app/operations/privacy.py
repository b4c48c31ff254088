"""Operations of the Privacy page: export and erase conversations, retention, the audit chain, backup and
restore, this device's remembered passphrase and the auto-lock setting.

The decisions (which categories the page's one retention choice sets, what a change would erase, what
"erase everything" covers) live here and in `engine.policy`; the page shows their results and asks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QObject

from app.removable import same_drive
from app.session import Session
from app.workers import Task
from engine.policy import retention, subjects
from engine.policy.categories import CATEGORIES
from engine.vault import remember

# The one retention choice offered here sets the categories declared for it alike (the CLI sets them one by one).
RETENTION_CATEGORIES = tuple(c.name for c in CATEGORIES if c.gui_retention)
AUTOLOCK_KEY = "gui.autolock_minutes"
DEFAULT_AUTOLOCK_MINUTES = 15


def export(owner: QObject, session: Session, path: Path, conversation_id: str | None) -> Task:
    """Write plaintext JSON of one conversation (or every one, None) to `path`; the result is the path."""
    vault, actor = session.vault, session.engine.actor.audit_name
    return Task(lambda _ctx: vault.export_json(path, conversation_id, actor=actor), owner)


def erase_conversation(owner: QObject, session: Session, conversation_id: str) -> Task:
    """Crypto-shred one conversation (audited)."""
    vault, actor = session.vault, session.engine.actor.audit_name
    return Task(lambda _ctx: vault.conversations.erase(conversation_id, actor=actor), owner)


def erase_everything(owner: QObject, session: Session) -> Task:
    """Crypto-shred every conversation and the API request log's texts; the result is `subjects.Erased`."""
    vault, actor = session.vault, session.engine.actor.audit_name
    return Task(lambda _ctx: subjects.erase(vault, subjects.Selection(all=True), actor=actor), owner)


def verify_audit(owner: QObject, session: Session) -> Task:
    """Check every link of the audit chain; the result is the entries checked (oldest first), the failure
    says which link broke."""
    audit = session.vault.audit
    return Task(lambda _ctx: audit.verified_entries(), owner)


def retention_days(session: Session) -> int | None:
    """The rule in force for the categories the page sets (None: forever)."""
    return retention.get_policy(session.vault).conversations


def _policy_for(session: Session, days: int | None) -> retention.RetentionPolicy:
    changes: dict[str, int | None] = {category: days for category in RETENTION_CATEGORIES}
    return retention.get_policy(session.vault).with_days(changes)


def preview_retention(owner: QObject, session: Session, days: int | None) -> Task:
    """What keeping history for `days` would erase now (a dry run): the result is counts per category."""
    vault, policy = session.vault, _policy_for(session, days)
    return Task(lambda _ctx: retention.preview(vault, policy), owner)


def apply_retention(owner: QObject, session: Session, days: int | None) -> Task:
    """Keep history for `days` (None: forever) and erase what is older now; the result is counts per category."""
    vault, policy, actor = session.vault, _policy_for(session, days), session.engine.actor.audit_name

    def run(_ctx: object) -> dict[str, int]:
        retention.set_policy(vault, policy, actor=actor)
        return retention.purge(vault, actor=actor)

    return Task(run, owner)


def erases_anything(counts: dict[str, int]) -> bool:
    """True when a retention preview or purge counts anything in the categories the page sets."""
    return any(counts.get(category) for category in RETENTION_CATEGORIES)


def autolock_minutes(session: Session) -> int:
    """Minutes without activity before the window locks (0: never)."""
    minutes = session.vault.settings.get(AUTOLOCK_KEY, DEFAULT_AUTOLOCK_MINUTES)
    return minutes if isinstance(minutes, int) and minutes >= 0 else DEFAULT_AUTOLOCK_MINUTES


def set_autolock_minutes(session: Session, minutes: int) -> None:
    """Store the auto-lock delay (one encrypted setting: instant, on the calling thread)."""
    session.vault.settings.set(AUTOLOCK_KEY, int(minutes))


def device_remembers(session: Session) -> bool:
    """True when this device's keyring holds the passphrase."""
    return remember.recall(session.home) is not None


def keyring_available() -> bool:
    """True when this system has a keyring to remember the passphrase in."""
    return remember.available()


def forget_device(session: Session) -> None:
    """Remove the passphrase from the system keyring: the next start asks for it again."""
    remember.forget(session.home)


def backup(owner: QObject, session: Session, folder: Path) -> Task:
    """Write `enclave-backup-<time>.db` (encrypted, like the vault) into `folder`; progress is (done, total),
    the result is the file's path."""
    vault, actor = session.vault, session.engine.actor.audit_name
    target = Path(folder) / f"enclave-backup-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.db"
    return Task(lambda ctx: vault.backup(target, actor=actor, progress=ctx.progress), owner)


def on_the_vaults_drive(session: Session, path: Path) -> bool:
    """True when a backup at `path` sits on the same drive as the vault (lost with it)."""
    return same_drive(path, session.home)


def restore_blocked(session: Session) -> bool:
    """True while the server runs: its clients use the current vault, so it is not replaced under them."""
    server = session.server
    return bool(server is not None and server.running)


def restore(owner: QObject, session: Session, path: Path, passphrase: str) -> Task:
    """Replace the vault with the backup at `path` (checked first: nothing changes if it is bad or the
    passphrase does not open it); the session uses the restored vault once it succeeds (the result)."""
    vault, actor = session.vault, session.engine.actor.audit_name
    task = Task(lambda _ctx: vault.restore_from(path, passphrase, actor=actor), owner)
    task.on_success(session.replace_vault)
    return task
