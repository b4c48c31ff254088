"""The API request log: one encrypted row per request, under the request-log stream key.

Prompt and reply texts are sealed a second time, inside the row, under a data key of their UTC day.
Retention of API content then destroys whole day keys (crypto-shredding) while the metadata (who,
which model, tokens, status) can be kept longer; rows written before day keys existed still read.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
from typing import Any

from engine.vault import crypto
from engine.vault.conversations import scrub
from engine.vault.records import RequestLogEntry
from engine.vault.sqlite import Database
from engine.vault.store import Store, iso, now, parse_time, wrap_data_key

_FIELDS = [f.name for f in dataclasses.fields(RequestLogEntry) if f.name not in ("id", "time")]
_TEXTS = ("request_text", "response_text")


class RequestLog:
    """Append and read API request records; shred their content by day."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _day_key_id(self, day: dt.date) -> str:
        # Derived, not stored: a day's key can be found (and destroyed) without a plaintext day index.
        digest = hmac.new(self._store.subkey("request log days"), day.isoformat().encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def _day_key(self, db: Database, day: dt.date) -> str:
        key_id = self._day_key_id(day)
        if db.execute("SELECT 1 FROM data_keys WHERE id = ?", [key_id]).fetchone() is None:
            raw = crypto.new_key()
            wrapped = wrap_data_key(self._store.master, key_id, bytes(raw))
            crypto.zero(raw)
            db.execute(
                "INSERT INTO data_keys (id, created_at, wrapped) VALUES (?, ?, ?)", [key_id, iso(now()), wrapped]
            )
        return key_id

    def append(self, entry: RequestLogEntry) -> None:
        """Store one request, or complete the row of the same id (texts as given: None for no-store keys).

        The API writes each request twice: once before its response starts (status PENDING_STATUS,
        so a crash right after the response cannot lose it) and once when it ends.
        """

        def task(db: Database) -> None:
            body: dict[str, Any] = {name: getattr(entry, name) for name in _FIELDS if name not in _TEXTS}
            with db.atomic():
                if entry.request_text is not None or entry.response_text is not None:
                    day_key = self._day_key(db, entry.time.astimezone(dt.UTC).date())
                    texts = {name: getattr(entry, name) for name in _TEXTS}
                    inner = self._store.seal_json(db, "request_log", "content", entry.id, day_key, texts)
                    body["content"] = base64.b64encode(inner).decode("ascii")
                sealed = self._store.seal_json(
                    db, "request_log", "body", entry.id, self._store.stream_keys["request_log"], body
                )
                db.execute(
                    "INSERT INTO request_log (id, time, body) VALUES (?, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET body = excluded.body",
                    [entry.id, iso(entry.time), sealed],
                )

        self._store.run(task)

    def _texts(self, db: Database, row_id: str, data: dict[str, Any]) -> dict[str, Any]:
        content = data.get("content")
        if content is None:  # no content stored, or a row from before day keys
            return {name: data.get(name) for name in _TEXTS}
        inner = base64.b64decode(content)
        if db.execute("SELECT 1 FROM data_keys WHERE id = ?", [crypto.envelope_key_id(inner)]).fetchone() is None:
            return dict.fromkeys(_TEXTS)  # its day key was destroyed by retention
        texts: dict[str, Any] = self._store.open_json(db, "request_log", "content", row_id, inner)
        return texts

    def recent(self, limit: int = 100) -> list[RequestLogEntry]:
        """The latest `limit` requests, newest first (texts None once retention shredded them)."""

        def task(db: Database) -> list[RequestLogEntry]:
            rows = db.execute("SELECT id, time, body FROM request_log ORDER BY time DESC LIMIT ?", [limit]).fetchall()
            result = []
            for row_id, time, body in rows:
                data = self._store.open_json(
                    db, "request_log", "body", row_id, body, self._store.stream_keys["request_log"]
                )
                # A field newer than the row (cached_prompt_tokens) takes its default.
                fields = {k: data[k] for k in _FIELDS if k not in _TEXTS and k in data} | self._texts(db, row_id, data)
                result.append(RequestLogEntry(**fields, time=parse_time(time), id=row_id))
            return result

        return self._store.run(task)

    def count(self) -> int:
        """How many requests are logged."""
        return int(self._store.run(lambda db: db.execute("SELECT COUNT(*) FROM request_log").fetchone()[0]))

    def delete_before(self, cutoff: dt.datetime) -> int:
        """Retention: delete requests older than `cutoff`; returns how many."""
        return self._store.run(lambda db: self.delete_before_in(db, cutoff))

    def delete_before_in(self, db: Database, cutoff: dt.datetime) -> int:
        """`delete_before` on the connection's thread (the caller scrubs the freed pages)."""
        with db.atomic():
            days = self._days_before(db, iso(cutoff))
            deleted = int(db.execute("DELETE FROM request_log WHERE time < ?", [iso(cutoff)]).rowcount)
            # Only days with no row left: a day's key may still serve rows after the cutoff.
            remaining = self._days_before(db, "9999")
            self._drop_day_keys(db, days - remaining)
        return deleted

    def shred_content_before_in(self, db: Database, cutoff: dt.datetime) -> int:
        """Destroy the day keys of whole UTC days before `cutoff` and strip their rows' texts; returns rows."""
        last_day = cutoff.astimezone(dt.UTC).date()  # only days that ended before the cutoff
        boundary = iso(dt.datetime.combine(last_day, dt.time(), tzinfo=dt.UTC))
        stream_key = self._store.stream_keys["request_log"]
        shredded = 0
        with db.atomic():
            days = self._days_before(db, boundary)
            rows = db.execute("SELECT id, body FROM request_log WHERE time < ?", [boundary]).fetchall()
            for row_id, body in rows:
                data = self._store.open_json(db, "request_log", "body", row_id, body, stream_key)
                if data.get("content") is None and not any(data.get(name) for name in _TEXTS):
                    continue
                self._strip_texts(db, row_id, data, stream_key)
                shredded += 1
            self._drop_day_keys(db, days)
        return shredded

    def erase_texts(self, match: str | None) -> int:
        """Erase the prompt and reply texts of every logged request, or only of those whose texts contain
        `match` (case-insensitive, as conversation search); returns how many.

        The rest of each record (key, model, tokens, status, time) stays: token budgets and usage
        reports still add up. The freed bytes are scrubbed.
        """
        needle = match.casefold().strip() if match is not None else None
        if needle == "":
            return 0

        def task(db: Database) -> int:
            stream_key = self._store.stream_keys["request_log"]
            erased = 0
            with db.atomic():
                for row_id, body in db.execute("SELECT id, body FROM request_log").fetchall():
                    data = self._store.open_json(db, "request_log", "body", row_id, body, stream_key)
                    texts = [text for text in self._texts(db, row_id, data).values() if text]
                    if not texts or (needle is not None and not any(needle in t.casefold() for t in texts)):
                        continue
                    self._strip_texts(db, row_id, data, stream_key)
                    erased += 1
            scrub(db)
            return erased

        return self._store.run(task)

    def _strip_texts(self, db: Database, row_id: str, data: dict[str, Any], stream_key: str) -> None:
        """Seal the row again without its texts (inner sealed content or plain fields of older rows)."""
        kept = {k: v for k, v in data.items() if k != "content" and k not in _TEXTS}
        sealed = self._store.seal_json(db, "request_log", "body", row_id, stream_key, kept)
        db.execute("UPDATE request_log SET body = ? WHERE id = ?", [sealed, row_id])

    def _drop_day_keys(self, db: Database, days: set[str]) -> None:
        for day in days:
            key_id = self._day_key_id(dt.date.fromisoformat(day))
            if db.execute("DELETE FROM data_keys WHERE id = ?", [key_id]).rowcount:
                self._store.forget_data_key(key_id)

    @staticmethod
    def _days_before(db: Database, boundary: str) -> set[str]:
        # Times are stored as UTC ISO strings, so their first ten characters are the UTC day.
        rows = db.execute("SELECT DISTINCT substr(time, 1, 10) FROM request_log WHERE time < ?", [boundary])
        return {r[0] for r in rows}
