"""The API request log: one encrypted row per request, under the request-log stream key."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlite_utils import Database

from engine.vault.records import RequestLogEntry
from engine.vault.store import Store, iso, parse_time

_FIELDS = [f.name for f in dataclasses.fields(RequestLogEntry) if f.name not in ("id", "time")]


class RequestLog:
    """Append and read API request records."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def append(self, entry: RequestLogEntry) -> None:
        """Store one request (texts as given: the caller passes None for no-store keys)."""

        def task(db: Database) -> None:
            body = {name: getattr(entry, name) for name in _FIELDS}
            sealed = self._store.seal_json(
                db, "request_log", "body", entry.id, self._store.stream_keys["request_log"], body
            )
            db.execute(
                "INSERT INTO request_log (id, time, body) VALUES (?, ?, ?)",
                [entry.id, iso(entry.time), sealed],
            )

        self._store.run(task)

    def recent(self, limit: int = 100) -> list[RequestLogEntry]:
        """The latest `limit` requests, newest first."""

        def task(db: Database) -> list[RequestLogEntry]:
            rows = db.execute("SELECT id, time, body FROM request_log ORDER BY time DESC LIMIT ?", [limit]).fetchall()
            result = []
            for row_id, time, body in rows:
                data = self._store.open_json(
                    db, "request_log", "body", row_id, body, self._store.stream_keys["request_log"]
                )
                result.append(RequestLogEntry(**{k: data.get(k) for k in _FIELDS}, time=parse_time(time), id=row_id))
            return result

        return self._store.run(task)

    def delete_before(self, cutoff: dt.datetime) -> int:
        """Retention: delete requests older than `cutoff`; returns how many."""
        return int(
            self._store.run(lambda db: db.execute("DELETE FROM request_log WHERE time < ?", [iso(cutoff)]).rowcount)
        )
