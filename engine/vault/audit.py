"""The audit chain: encrypted events, each MAC'd over the previous MAC, with a MAC'd head.

mac_n = HMAC(k, mac_{n-1} || seq || time || event || actor || details_json), k = HKDF(master, "audit mac").
The header stores (count, mac_n) and a MAC over both, so deleting entries at the end is detected too.
Retention may drop the oldest entries: the header then keeps where the chain starts (the last dropped
seq and its MAC) under a MAC of its own, so dropping entries at the start without the key shows as well.
Failed unlocks are not recorded: an unlock that fails must not change a byte of any file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import struct
from typing import Any

from engine.errors import IntegrityError
from engine.vault import crypto
from engine.vault.errors import RecordTampered
from engine.vault.records import AuditEntry
from engine.vault.sqlite import Database
from engine.vault.store import Store, iso, now, parse_time

GENESIS = b"\x00" * 32


def _field(data: bytes) -> bytes:
    # Length-prefixed, so (event="ab", actor="c") and (event="a", actor="bc") MAC differently.
    return struct.pack(">I", len(data)) + data


def entry_mac(key: bytes, prev: bytes, seq: int, time: str, event: str, actor: str, details_json: str) -> bytes:
    """The chain MAC of one entry."""
    message = (
        prev
        + struct.pack(">Q", seq)
        + b"".join(_field(part.encode("utf-8")) for part in (time, event, actor, details_json))
    )
    return hmac.new(key, message, hashlib.sha256).digest()


def head_mac(key: bytes, count: int, head: bytes) -> bytes:
    """The MAC that pins the chain's length and last link."""
    return hmac.new(key, b"head" + struct.pack(">Q", count) + head, hashlib.sha256).digest()


def base_mac(key: bytes, seq: int, prev: bytes) -> bytes:
    """The MAC that pins where the chain starts after retention dropped its oldest entries."""
    return hmac.new(key, b"base" + struct.pack(">Q", seq) + prev, hashlib.sha256).digest()


def _details_json(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class AuditLog:
    """Append and verify audit events."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _key(self) -> bytes:
        return self._store.subkey("audit mac")

    def append(self, event: str, *, actor: str, details: dict[str, Any] | None = None) -> AuditEntry:
        """Record one event (in the same transaction as the head update)."""
        return self._store.run(lambda db: self.append_in(db, event, actor=actor, details=details))

    def append_batch(self, events: list[tuple[str, str, dict[str, Any]]]) -> int:
        """Record several (event, actor, details) in one transaction: all of them or none."""

        def task(db: Database) -> int:
            with db.atomic():
                for event, actor, details in events:
                    self.append_in(db, event, actor=actor, details=details)
            return len(events)

        return self._store.run(task)

    def append_in(self, db: Database, event: str, *, actor: str, details: dict[str, Any] | None = None) -> AuditEntry:
        """`append` for code already on the connection's thread."""
        details = dict(details or {})
        details_json = _details_json(details)
        key = self._key()
        stream_key = self._store.stream_keys["audit"]
        with db.atomic():
            count, head = db.execute("SELECT audit_count, audit_head FROM header WHERE id = 1").fetchone()
            seq = count + 1
            moment = now()
            time = iso(moment)
            mac = entry_mac(key, head, seq, time, event, actor, details_json)
            row_id = crypto.new_id()
            body = self._store.seal_json(
                db, "audit", "body", row_id, stream_key, {"event": event, "actor": actor, "details": details}
            )
            db.execute(
                "INSERT INTO audit (id, seq, time, body, mac) VALUES (?, ?, ?, ?, ?)",
                [row_id, seq, time, body, mac],
            )
            db.execute(
                "UPDATE header SET audit_count = ?, audit_head = ?, audit_head_mac = ? WHERE id = 1",
                [seq, mac, head_mac(key, seq, mac)],
            )
        return AuditEntry(row_id, seq, moment, event, actor, details)

    def entries(self, since: dt.datetime | None = None) -> list[AuditEntry]:
        """Decrypted entries in chain order, optionally only those at or after `since`."""

        return self._store.run(lambda db: self._entries_in(db, since))

    def _entries_in(self, db: Database, since: dt.datetime | None) -> list[AuditEntry]:
        result = []
        for row_id, seq, time, body in db.execute("SELECT id, seq, time, body FROM audit ORDER BY seq"):
            moment = parse_time(time)
            if since is not None and moment < since:
                continue
            data = self._store.open_json(db, "audit", "body", row_id, body, self._store.stream_keys["audit"])
            result.append(AuditEntry(row_id, seq, moment, data["event"], data["actor"], data["details"]))
        return result

    def verified_entries(self) -> list[AuditEntry]:
        """Verify the chain and return its entries, both from one read (IntegrityError when broken)."""

        def task(db: Database) -> list[AuditEntry]:
            # One task on the connection's thread: no entry can be appended between the two reads.
            self.verify_in(db)
            return self._entries_in(db, None)

        return self._store.run(task)

    def verify(self) -> None:
        """Raise IntegrityError naming the first broken link; return quietly when the chain is whole."""
        self._store.run(self.verify_in)

    def verify_in(self, db: Database) -> None:
        """`verify` for code already on the connection's thread."""
        key = self._key()
        stream_key = self._store.stream_keys["audit"]
        prev, expected_seq = self._base_in(db, key)
        for row_id, seq, time, body, mac in db.execute("SELECT id, seq, time, body, mac FROM audit ORDER BY seq"):
            expected_seq += 1
            if seq != expected_seq:
                raise IntegrityError(f"audit chain broken at entry {expected_seq}: entry missing or reordered")
            try:
                data = self._store.open_json(db, "audit", "body", row_id, body, stream_key)
                event, actor, details = data["event"], data["actor"], data["details"]
            except (RecordTampered, KeyError, TypeError):
                raise IntegrityError(f"audit chain broken at entry {seq}: record tampered") from None
            expected = entry_mac(key, prev, seq, time, event, actor, _details_json(details))
            if not isinstance(mac, bytes) or not hmac.compare_digest(expected, mac):
                raise IntegrityError(f"audit chain broken at entry {seq}: MAC mismatch (edited, moved or deleted)")
            prev = mac
        count, head, stored_head_mac = db.execute(
            "SELECT audit_count, audit_head, audit_head_mac FROM header WHERE id = 1"
        ).fetchone()
        if not hmac.compare_digest(head_mac(key, count, head), stored_head_mac or b""):
            raise IntegrityError("audit chain broken: the chain head was altered")
        if count != expected_seq or not hmac.compare_digest(head, prev):
            raise IntegrityError(f"audit chain broken after entry {expected_seq}: {count} entries expected")

    @staticmethod
    def _base_in(db: Database, key: bytes) -> tuple[bytes, int]:
        """(MAC before the first kept entry, its seq): GENESIS and 0 until retention drops entries."""
        seq, prev, mac = db.execute(
            "SELECT audit_base_seq, audit_base_prev, audit_base_mac FROM header WHERE id = 1"
        ).fetchone()
        if not seq and prev is None and mac is None:
            return GENESIS, 0
        if not isinstance(prev, bytes) or not hmac.compare_digest(base_mac(key, seq or 0, prev), mac or b""):
            raise IntegrityError("audit chain broken: its recorded start was altered")
        return prev, int(seq)

    def drop_before_in(self, db: Database, cutoff: dt.datetime) -> int:
        """Retention: delete the entries older than `cutoff` (a prefix of the chain); returns how many.

        Call inside the caller's transaction and append the purge event after it, so the chain never
        ends up empty and the drop itself is on record.
        """
        last = db.execute("SELECT MAX(seq) FROM audit WHERE time < ?", [iso(cutoff)]).fetchone()[0]
        if last is None:
            return 0
        key = self._key()
        # Verify first: dropping entries must not launder a chain that was already tampered with.
        self.verify_in(db)
        mac = db.execute("SELECT mac FROM audit WHERE seq = ?", [last]).fetchone()[0]
        dropped = int(db.execute("DELETE FROM audit WHERE seq <= ?", [last]).rowcount)
        db.execute(
            "UPDATE header SET audit_base_seq = ?, audit_base_prev = ?, audit_base_mac = ? WHERE id = 1",
            [last, mac, base_mac(key, last, mac)],
        )
        return dropped
