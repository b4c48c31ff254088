"""Stored Responses (OpenAI's Responses API with `store`): one row per response, under its own data key.

The response object, the conversation it continues and the API key that owns it are sealed in the
row; only the id, the data key's id and the time are plain. Deleting a response (the client's DELETE,
retention of API content, a subject's erasure) destroys its data key with the row (crypto-shredding).
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

from engine.vault.conversations import scrub
from engine.vault.sqlite import Database
from engine.vault.store import Store, iso, now

_COLUMNS = "id, key_id, created_at, body"


class StoredResponses:
    """Save, read and delete stored responses; each belongs to the API key that created it."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def save(self, response_id: str, owner: str, data: dict[str, Any]) -> None:
        """Store `data` (JSON) as response `response_id` (hex) of API key `owner` (its id)."""

        def task(db: Database) -> None:
            with db.atomic():
                key_id = self._store.new_data_key(db)
                body = {"owner": owner, "data": data}
                sealed = self._store.seal_json(db, "responses", "body", response_id, key_id, body)
                db.execute(
                    f"INSERT INTO responses ({_COLUMNS}) VALUES (?, ?, ?, ?)", [response_id, key_id, iso(now()), sealed]
                )

        self._store.run(task)

    def _open(self, db: Database, row: tuple[Any, ...]) -> dict[str, Any]:
        body: dict[str, Any] = self._store.open_json(db, "responses", "body", row[0], row[3], row[1])
        return body

    def get(self, response_id: str, owner: str) -> dict[str, Any] | None:
        """The stored data, or None when there is none or it belongs to another key."""

        def task(db: Database) -> dict[str, Any] | None:
            row = db.execute(f"SELECT {_COLUMNS} FROM responses WHERE id = ?", [response_id]).fetchone()
            if row is None:
                return None
            body = self._open(db, tuple(row))
            return dict(body["data"]) if body["owner"] == owner else None

        return self._store.run(task)

    def delete(self, response_id: str, owner: str) -> bool:
        """Delete one response of `owner` (its key destroyed, its bytes scrubbed); False if none."""

        def task(db: Database) -> bool:
            row = db.execute(f"SELECT {_COLUMNS} FROM responses WHERE id = ?", [response_id]).fetchone()
            if row is None or self._open(db, tuple(row))["owner"] != owner:
                return False
            with db.atomic():
                self._delete_row(db, row[0], row[1])
            scrub(db)
            return True

        return self._store.run(task)

    def count(self) -> int:
        """How many responses are stored."""
        return int(self._store.run(lambda db: db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]))

    def expire_in(self, db: Database, cutoff: dt.datetime) -> int:
        """Retention (API content): delete responses stored before `cutoff`; the caller scrubs."""
        rows = db.execute("SELECT id, key_id FROM responses WHERE created_at < ?", [iso(cutoff)]).fetchall()
        for response_id, key_id in rows:
            self._delete_row(db, response_id, key_id)
        return len(rows)

    def erase(self, match: str | None) -> int:
        """Delete every stored response, or those whose text contains `match` (case-insensitive)."""
        needle = match.casefold().strip() if match is not None else None
        if needle == "":
            return 0

        def task(db: Database) -> int:
            erased = 0
            with db.atomic():
                for row in db.execute(f"SELECT {_COLUMNS} FROM responses").fetchall():
                    if needle is not None and needle not in str(self._open(db, tuple(row))["data"]).casefold():
                        continue
                    self._delete_row(db, row[0], row[1])
                    erased += 1
            scrub(db)
            return erased

        return self._store.run(task)

    def export(self) -> builtins.list[dict[str, Any]]:
        """Every stored response (its owner's key id and its data), oldest first: for a subject export."""

        def task(db: Database) -> builtins.list[dict[str, Any]]:
            rows = db.execute(f"SELECT {_COLUMNS} FROM responses ORDER BY created_at, id").fetchall()
            return [{"id": row[0], "created_at": row[2], **self._open(db, tuple(row))} for row in rows]

        return self._store.run(task)

    def _delete_row(self, db: Database, response_id: str, key_id: str) -> None:
        db.execute("DELETE FROM responses WHERE id = ?", [response_id])
        db.execute("DELETE FROM data_keys WHERE id = ?", [key_id])
        self._store.forget_data_key(key_id)
