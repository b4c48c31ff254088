"""The queue of audit events recorded while the vault is locked (`pending-audit.jsonl`).

Some events happen when no key is at hand: a failed unlock (a wrong passphrase must not change a byte
of the vault) and model changes made by a CLI call without a passphrase. They are queued in a plaintext
file beside the vault and moved into the chain at the next unlock.

Nothing can authenticate that file: writing it needs no passphrase by design, so any key that signs it
would sit on the same disk as the file, readable by whoever can append to it. What the chain gets from
the queue is therefore bounded instead of trusted:
- only the kinds of event that can happen while locked (`LOCKED_EVENTS`), with exactly their detail
  fields, short strings only;
- every such entry is marked `recorded_while_locked` and keeps the time the queue claims as `at`, while
  its chain time is the unlock that moved it in;
- anything else found there (another event, an unknown field, a line that is not JSON) is rejected and
  the rejection itself is a `policy_violation` entry;
- the file is read up to `MAX_QUEUE_BYTES`; a larger one is recorded as overflowing, and `defer` stops
  appending at that size, so a flood of failed unlocks cannot grow it without end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from engine.vault import Vault

PENDING = "pending-audit.jsonl"
MAX_QUEUE_BYTES = 256 * 1024  # about 2,000 events; `defer` appends nothing beyond it
MAX_LINE_BYTES = 2048
MAX_FIELD_CHARS = 256
ACTORS = frozenset({"cli", "gui", "serve", "local"})

# The events that can happen while the vault is locked, and the detail fields each one carries.
LOCKED_EVENTS: dict[str, frozenset[str]] = {
    "unlock_failed": frozenset(),
    "model_import": frozenset({"name", "sha256"}),
    "model_remove": frozenset({"name"}),
    "model_default": frozenset({"name"}),
}


class RejectedLine(ValueError):
    """A queued line that may not enter the chain (the message says why)."""


def pending_path(home: Path) -> Path:
    """Where the queue lives inside ENCLAVE_HOME."""
    return Path(home) / PENDING


def defer(home: Path, event: str, *, actor: str, details: dict[str, Any] | None = None) -> bool:
    """Queue an event of a locked vault for the next unlock; False when the queue is full (not queued)."""
    line = {"event": event, "actor": actor, "details": details or {}}
    line["time"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    _check(line)  # a programming error if our own event does not pass what flush will check
    data = (json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    path = pending_path(home)
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size + len(data) > MAX_QUEUE_BYTES:
            return False  # flush records that the queue was full
    # One O_APPEND write per event: concurrent writers interleave whole lines, never parts of them.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return True


def _check(item: Any) -> tuple[str, str, dict[str, Any]]:
    """(event, actor, details marked as recorded while locked) of one queued line, or RejectedLine."""
    if not isinstance(item, dict) or set(item) != {"event", "actor", "details", "time"}:
        raise RejectedLine("not an event record")
    event, actor, details, time = item["event"], item["actor"], item["details"], item["time"]
    if event not in LOCKED_EVENTS:
        raise RejectedLine(f"event {str(event)[:40]!r} cannot happen while the vault is locked")
    if actor not in ACTORS:
        raise RejectedLine("unknown actor")
    if not isinstance(details, dict) or set(details) != LOCKED_EVENTS[event]:
        raise RejectedLine(f"details do not match a {event} event")
    if not all(isinstance(v, str) and len(v) <= MAX_FIELD_CHARS for v in details.values()):
        raise RejectedLine("a detail is not a short string")
    if not isinstance(time, str) or len(time) > 40:
        raise RejectedLine("bad time")
    try:
        dt.datetime.fromisoformat(time)
    except ValueError:
        raise RejectedLine("bad time") from None
    return str(event), str(actor), {**details, "at": time, "recorded_while_locked": True}


def _violation(reason: str, raw: bytes) -> tuple[str, str, dict[str, Any]]:
    details = {
        "rule": "pending_audit_queue",
        "reason": reason,
        "line": raw[:200].decode("utf-8", "replace"),
        "line_sha256": hashlib.sha256(raw).hexdigest(),
    }
    return "policy_violation", "unknown", details


def _entries(data: bytes, overflow: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """What the queued bytes put into the chain: accepted events and one violation per rejected line."""
    entries = []
    lines = data.split(b"\n")
    if overflow:
        lines = lines[:-1]  # the last line was cut at the read limit
    for raw in lines:
        if not raw.strip():
            continue
        try:
            if len(raw) > MAX_LINE_BYTES:
                raise RejectedLine("line too long")
            try:
                item = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                raise RejectedLine("not JSON") from None
            entries.append(_check(item))
        except RejectedLine as exc:
            entries.append(_violation(str(exc), raw))
    if overflow:
        detail = {"rule": "pending_audit_queue", "reason": f"queue over {MAX_QUEUE_BYTES} bytes; the rest was dropped"}
        entries.append(("policy_violation", "unknown", detail))
    return entries


def flush(vault: Vault) -> int:
    """Move the queue into the chain in one transaction; returns how many entries it added."""
    path = pending_path(vault.home)
    # Take the queue away first: an event deferred meanwhile starts a new file instead of being lost.
    # A leftover from a flush that crashed is taken too (a duplicate beats a lost event).
    taken = path.with_name(f"{PENDING}.{os.getpid()}.flushing")
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, taken)
    files = sorted(path.parent.glob(f"{PENDING}.*.flushing"))
    if not files:
        return 0
    entries = []
    for file in files:
        try:
            with file.open("rb") as handle:
                data = handle.read(MAX_QUEUE_BYTES + 1)
        except OSError:
            entries.append(("policy_violation", "unknown", {"rule": "pending_audit_queue", "reason": "unreadable"}))
            continue
        overflow = len(data) > MAX_QUEUE_BYTES
        entries.extend(_entries(data[:MAX_QUEUE_BYTES] if overflow else data, overflow))
    count = vault.audit.append_batch(entries)
    for file in files:
        file.unlink(missing_ok=True)
    return count
