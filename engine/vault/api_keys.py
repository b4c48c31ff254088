"""API keys: the secret is shown once; only its SHA-256 is kept, inside the encrypted row.

Secrets are `enc-<key id>-<43 url-safe chars>`: 256 random bits, so a plain SHA-256 is as good as a
slow hash here, and lookup by key id means one row is decrypted per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Any

from engine.errors import NotFoundError, UserError
from engine.vault import crypto
from engine.vault.records import ApiKeyRecord
from engine.vault.sqlite import Database
from engine.vault.store import Store, iso, now, parse_time

_SECRET = re.compile(r"enc-([0-9a-f]{32})-([A-Za-z0-9_-]{43})")
_COLUMNS = "id, created_at, revoked_at, body"


class ApiKeys:
    """Create, verify, list and revoke API keys."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _load(self, db: Database, row: tuple[Any, ...]) -> tuple[ApiKeyRecord, str]:
        key_id, created_at, revoked_at, body = row
        data = self._store.open_json(db, "api_keys", "body", key_id, body, self._store.stream_keys["api_keys"])
        models = data.get("models")
        record = ApiKeyRecord(
            key_id,
            data["name"],
            tuple(models) if models is not None else None,
            data.get("rpm"),
            data.get("tokens_per_day"),
            # Keys made before content logging became opt-in stored their choice; one without it logged.
            bool(data.get("store_content", True)),
            parse_time(created_at),
            parse_time(revoked_at) if revoked_at else None,
            bool(data.get("label_replies", True)),
            parse_time(data["expires_at"]) if data.get("expires_at") else None,
            bool(data.get("reproducible", False)),
            bool(data.get("train", False)),
            tuple(data.get("collections") or ()),
            tuple(data.get("collections_write") or ()),
            bool(data.get("tools", False)),
        )
        return record, str(data["secret_sha256"])

    def _all(self, db: Database) -> list[ApiKeyRecord]:
        rows = db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at").fetchall()
        return [self._load(db, tuple(r))[0] for r in rows]

    def create(
        self,
        name: str,
        *,
        models: list[str] | None = None,
        rpm: int | None = None,
        tokens_per_day: int | None = None,
        store_content: bool = False,
        expires_at: dt.datetime | None = None,
        reproducible: bool = False,
        train: bool = False,
        collections: list[str] | None = None,
        collections_write: list[str] | None = None,
        tools: bool = False,
    ) -> tuple[ApiKeyRecord, str]:
        """A new key and its secret (shown once, never stored); by default it logs no prompt or reply text."""
        if not name.strip():
            raise UserError("an API key needs a name")
        if expires_at is not None and expires_at <= now():
            raise UserError("the expiry date must be in the future")
        for label, limit in (("rpm", rpm), ("tokens per day", tokens_per_day)):
            if limit is not None and limit <= 0:
                raise UserError(f"{label} must be a positive number")

        def task(db: Database) -> tuple[ApiKeyRecord, str]:
            if any(r.name == name and not r.revoked for r in self._all(db)):
                raise UserError(f"an API key named {name!r} already exists")
            key_id = crypto.new_id()
            secret = f"enc-{key_id}-{secrets.token_urlsafe(32)}"
            body = {
                "name": name,
                "models": models,
                "rpm": rpm,
                "tokens_per_day": tokens_per_day,
                "store_content": store_content,
                "expires_at": iso(expires_at) if expires_at is not None else None,
                "reproducible": reproducible,
                "train": train,
                "collections": list(collections or []),
                "collections_write": list(collections_write or []),
                "tools": tools,
                "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
            }
            sealed = self._store.seal_json(db, "api_keys", "body", key_id, self._store.stream_keys["api_keys"], body)
            db.execute(f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?, ?, NULL, ?)", [key_id, iso(now()), sealed])
            row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", [key_id]).fetchone()
            return self._load(db, tuple(row))[0], secret

        return self._store.run(task)

    def verify(self, secret: str) -> ApiKeyRecord | None:
        """The unrevoked key this secret belongs to, else None (constant-time hash comparison); whether
        it has expired is the caller's to say (engine.policy.keys), so the client hears why."""
        match = _SECRET.fullmatch(secret.strip())
        if match is None:
            return None
        presented = hashlib.sha256(secret.strip().encode()).hexdigest()

        def task(db: Database) -> ApiKeyRecord | None:
            row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", [match.group(1)]).fetchone()
            if row is None:
                return None
            record, stored = self._load(db, tuple(row))
            if not hmac.compare_digest(presented, stored) or record.revoked:
                return None
            return record

        return self._store.run(task)

    def list(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones included, oldest first."""
        return self._store.run(self._all)

    def get(self, name: str) -> ApiKeyRecord:
        """The live key named `name` (else the latest revoked one); NotFoundError if none."""
        matches = [r for r in self.list() if r.name == name]
        if not matches:
            raise NotFoundError(f"no API key named {name!r}")
        live = [r for r in matches if not r.revoked]
        return (live or matches)[-1]

    def set_label_replies(self, name: str, enabled: bool) -> ApiKeyRecord:
        """Switch AI-content labels on this live key's replies on or off."""

        def task(db: Database) -> ApiKeyRecord:
            live = [r for r in self._all(db) if r.name == name and not r.revoked]
            if not live:
                raise NotFoundError(f"no active API key named {name!r}")
            key_id = live[0].id
            stream = self._store.stream_keys["api_keys"]
            with db.atomic():
                body = db.execute("SELECT body FROM api_keys WHERE id = ?", [key_id]).fetchone()[0]
                data = self._store.open_json(db, "api_keys", "body", key_id, body, stream)
                data["label_replies"] = enabled
                sealed = self._store.seal_json(db, "api_keys", "body", key_id, stream, data)
                db.execute("UPDATE api_keys SET body = ? WHERE id = ?", [sealed, key_id])
            row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", [key_id]).fetchone()
            return self._load(db, tuple(row))[0]

        return self._store.run(task)

    def revoke(self, name: str) -> ApiKeyRecord:
        """Revoke the live key named `name`; verify() refuses it from now on."""

        def task(db: Database) -> ApiKeyRecord:
            live = [r for r in self._all(db) if r.name == name and not r.revoked]
            if not live:
                raise NotFoundError(f"no active API key named {name!r}")
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", [iso(now()), live[0].id])
            row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", [live[0].id]).fetchone()
            return self._load(db, tuple(row))[0]

        return self._store.run(task)
