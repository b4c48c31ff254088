"""Assistants: a base model, a system prompt and document collections under one name.

An assistant is configuration, kept encrypted in the vault's settings. It appears in `/v1/models` like
a model; a chat with it searches its collections and answers from them with citations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import NotFoundError, UserError
from engine.models.names import validate_model_name
from engine.policy.audit_events import record, require_admin_actor
from engine.vault import Vault

SETTING = "documents.assistants"
MAX_SYSTEM_CHARS = 8000


@dataclass(frozen=True)
class Assistant:
    """A named model + prompt + collections."""

    name: str
    model: str
    collections: tuple[str, ...]
    system: str | None
    top: int
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """As stored and as `assistants list --json` prints it."""
        data = asdict(self)
        data["collections"] = list(self.collections)
        return data


def _load(vault: Vault) -> dict[str, dict[str, Any]]:
    return dict(vault.settings.get(SETTING) or {})


def list_assistants(vault: Vault) -> list[Assistant]:
    """Every assistant, by name."""
    return [_from(data) for _, data in sorted(_load(vault).items())]


def _from(data: dict[str, Any]) -> Assistant:
    return Assistant(
        data["name"],
        data["model"],
        tuple(data["collections"]),
        data.get("system"),
        int(data.get("top", 5)),
        data["created_at"],
    )


def get(vault: Vault, name: str) -> Assistant | None:
    """The assistant called `name`, or None."""
    data = _load(vault).get(name)
    return None if data is None else _from(data)


def create(
    vault: Vault,
    name: str,
    *,
    model: str,
    collections: list[str],
    known_models: set[str],
    system: str | None = None,
    top: int = 5,
    actor: str,
) -> Assistant:
    """Define an assistant; its model and collections must exist and the name must not be a model's."""
    require_admin_actor(actor)
    validate_model_name(name)
    if name in known_models:
        raise UserError(f"{name!r} is already a model name; assistants and models share /v1/models")
    if model not in known_models:
        raise NotFoundError(f"no model named {model!r}")
    if not collections:
        raise UserError("an assistant needs at least one collection (--docs NAME[,NAME])")
    names = {c.name for c in vault.documents.collections()}
    missing = [c for c in collections if c not in names]
    if missing:
        raise NotFoundError(f"no collection named {missing[0]!r}")
    if system is not None and len(system) > MAX_SYSTEM_CHARS:
        raise UserError(f"the system prompt is longer than {MAX_SYSTEM_CHARS} characters")
    if not 1 <= top <= 20:
        raise UserError("an assistant cites between 1 and 20 passages")
    stored = _load(vault)
    if name in stored:
        raise UserError(f"an assistant named {name!r} already exists")
    assistant = Assistant(
        name, model, tuple(collections), system, top, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    stored[name] = assistant.to_json()
    vault.settings.set(SETTING, stored)
    record(vault, "assistant_create", actor=actor, details={"name": name, "model": model, "collections": collections})
    return assistant


def remove(vault: Vault, name: str, *, actor: str) -> None:
    """Remove an assistant (its collections stay)."""
    require_admin_actor(actor)
    stored = _load(vault)
    if name not in stored:
        raise NotFoundError(f"no assistant named {name!r}")
    del stored[name]
    vault.settings.set(SETTING, stored)
    record(vault, "assistant_remove", actor=actor, details={"name": name})
