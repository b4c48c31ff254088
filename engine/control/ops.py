"""The administrator's operations on keys and pairings, by name, with JSON arguments and answers.

The same function serves both ends: the CLI runs it on its own engine when it holds the vault, and a
running server runs it for the CLI on the server's engine (engine.control.server). Arguments come
from another process, so each is type- and size-checked here; an unknown operation or a bad argument
is a UserError with one clear sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from engine.errors import UserError
from engine.handle import Engine
from engine.pairing.appliance import DEFAULT_EXPIRES_S, Pairing, create_pairing, list_pairings, revoke_pairing
from engine.policy.audit_events import require_admin_actor
from engine.vault import ApiKeyRecord

MAX_TEXT = 2048
MAX_MODELS = 256


class Args:
    """Checked access to an operation's arguments."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def text(self, name: str, *, required: bool = True) -> str | None:
        """A string argument (None when optional and absent)."""
        value = self.values.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
            raise UserError(f"the argument {name!r} must be a non-empty string")
        return value

    def number(self, name: str) -> int | None:
        """A positive integer argument, or None."""
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**53:
            raise UserError(f"the argument {name!r} must be a positive integer")
        return value

    def flag(self, name: str) -> bool:
        """A boolean argument (absent: False)."""
        value = self.values.get(name, False)
        if not isinstance(value, bool):
            raise UserError(f"the argument {name!r} must be true or false")
        return value

    def moment(self, name: str) -> datetime | None:
        """An ISO-8601 time with its offset, or None."""
        value = self.text(name, required=False)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise UserError(f"the argument {name!r} must be an ISO-8601 time") from None
        if moment.tzinfo is None:
            raise UserError(f"the argument {name!r} needs a time zone offset")
        return moment

    def names(self, name: str) -> list[str] | None:
        """A list of model names, or None (all models)."""
        value = self.values.get(name)
        if value is None:
            return None
        if (not isinstance(value, list) or not value or len(value) > MAX_MODELS
                or not all(isinstance(v, str) and v and len(v) <= 256 for v in value)):
            raise UserError(f"the argument {name!r} must be a list of model names")
        return list(value)

    def name(self) -> str:
        """The required `name` argument."""
        value = self.text("name")
        assert value is not None
        return value


def key_json(record: ApiKeyRecord) -> dict[str, Any]:
    """A key as `keys list --json` prints it (never its secret)."""
    return {
        "name": record.name,
        "models": list(record.models) if record.models is not None else None,
        "rpm": record.rpm,
        "tokens_per_day": record.tokens_per_day,
        "store_content": record.store_content,
        "reproducible": record.reproducible,
        "train": record.train,
        "collections": list(record.collections),
        "collections_write": list(record.collections_write),
        "tools": record.tools,
        "created_at": record.created_at.isoformat(timespec="seconds"),
        "revoked_at": record.revoked_at.isoformat(timespec="seconds") if record.revoked_at else None,
        "expires_at": record.expires_at.isoformat(timespec="seconds") if record.expires_at else None,
        "expired": record.expired(),
    }


def pairing_json(p: Pairing) -> dict[str, Any]:
    """A pairing as `pair list --json` prints it."""
    rules = p.rules or {}
    models = list(p.key.models) if p.key and p.key.models else rules.get("models")
    log_content = bool(p.key.store_content) if p.key else bool(rules.get("log_content"))
    return {"name": p.name, "state": p.state, "active": p.active, "url": p.url, "fingerprint": p.fingerprint,
            "created_at": p.created_at, "expires_at": p.expires_at or None, "redeemed_at": p.redeemed_at or None,
            "models": models, "log_content": log_content}


def _keys_create(engine: Engine, args: Args) -> dict[str, Any]:
    record, secret = engine.keys.create(
        args.name(), models=args.names("models"), rpm=args.number("rpm"),
        tokens_per_day=args.number("tokens_per_day"), store_content=args.flag("store_content"),
        expires_at=args.moment("expires_at"),
        reproducible=args.flag("reproducible"),
        train=args.flag("train"),
        collections=args.names("collections"),
        collections_write=args.names("collections_write"),
        tools=args.flag("tools"),
    )
    return {"secret": secret, "key": key_json(record)}


def _keys_list(engine: Engine, args: Args) -> dict[str, Any]:
    return {"keys": [key_json(r) for r in engine.keys.list()]}


def _keys_revoke(engine: Engine, args: Args) -> dict[str, Any]:
    return {"key": key_json(engine.keys.revoke(args.name()))}


def _pair_create(engine: Engine, args: Args) -> dict[str, Any]:
    require_admin_actor(engine.actor.audit_name)
    url, fingerprint = args.text("url"), args.text("fingerprint")
    assert url is not None and fingerprint is not None
    pairing, code = create_pairing(
        engine.require_vault(), args.name(), url=url, fingerprint=fingerprint, models=args.names("models"),
        rpm=args.number("rpm"), tokens_per_day=args.number("tokens_per_day"), log_content=args.flag("log_content"),
        server=args.text("server", required=False), expires_s=args.number("expires_s") or DEFAULT_EXPIRES_S,
        actor=engine.actor.audit_name,
    )
    return {"code": code, "pairing": pairing_json(pairing)}


def _pair_list(engine: Engine, args: Args) -> dict[str, Any]:
    return {"pairings": [pairing_json(p) for p in list_pairings(engine.require_vault())]}


def _pair_revoke(engine: Engine, args: Args) -> dict[str, Any]:
    require_admin_actor(engine.actor.audit_name)
    return {"pairing": pairing_json(revoke_pairing(engine.require_vault(), args.name(), actor=engine.actor.audit_name))}


OPERATIONS: dict[str, Callable[[Engine, Args], dict[str, Any]]] = {
    "keys.create": _keys_create,
    "keys.list": _keys_list,
    "keys.revoke": _keys_revoke,
    "pair.create": _pair_create,
    "pair.list": _pair_list,
    "pair.revoke": _pair_revoke,
}


def run(engine: Engine, op: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Run operation `op` with `args` on `engine` (acting as its actor); its JSON answer."""
    handler = OPERATIONS.get(op)
    if handler is None:
        raise UserError(f"unknown operation {op!r}")
    return handler(engine, Args(args))
