"""Settings: JSON values under names, both encrypted; rows are found by an HMAC of the name."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from engine.vault.errors import RecordTampered
from engine.vault.sqlite import Database
from engine.vault.store import Store, iso, now

_MISSING = object()


class Settings:
    """A small encrypted key-value store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _row_id(self, key: str) -> str:
        # Deterministic, so a name can be looked up without storing it in clear.
        return hmac.new(self._store.subkey("settings names"), key.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def _open(self, db: Database, row_id: str, body: bytes) -> dict[str, Any]:
        data = self._store.open_json(db, "settings", "body", row_id, body, self._store.stream_keys["settings"])
        if not isinstance(data, dict) or self._row_id(str(data.get("key"))) != row_id:
            raise RecordTampered("settings", row_id)
        return data

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under `key`, else `default`."""

        def task(db: Database) -> Any:
            row_id = self._row_id(key)
            row = db.execute("SELECT body FROM settings WHERE id = ?", [row_id]).fetchone()
            return default if row is None else self._open(db, row_id, row[0])["value"]

        return self._store.run(task)

    def set(self, key: str, value: Any) -> None:
        """Store a JSON-able value under `key`."""

        def task(db: Database) -> None:
            row_id = self._row_id(key)
            body = self._store.seal_json(
                db,
                "settings",
                "body",
                row_id,
                self._store.stream_keys["settings"],
                {"key": key, "value": value},
            )
            db.execute(
                "INSERT INTO settings (id, updated_at, body) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body",
                [row_id, iso(now()), body],
            )

        self._store.run(task)

    def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""
        return bool(
            self._store.run(lambda db: db.execute("DELETE FROM settings WHERE id = ?", [self._row_id(key)]).rowcount)
        )

    def all(self) -> dict[str, Any]:
        """Every setting."""

        def task(db: Database) -> dict[str, Any]:
            result = {}
            for row_id, body in db.execute("SELECT id, body FROM settings").fetchall():
                data = self._open(db, row_id, body)
                result[data["key"]] = data["value"]
            return result

        return self._store.run(task)
