"""Assistants: a base model, a system prompt and document collections under one name.

An assistant is configuration, kept encrypted in the vault's settings. It appears in `/v1/models` like
a model; a chat with it searches its collections and answers from them with citations. An admin may
attach MCP tools (`SERVER.TOOL`) that the engine runs for it server-side: only tools marked "always
allow", since no person approves calls made over the API (engine.documents.assistant_tools).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import NotFoundError, UserError
from engine.models.names import validate_model_name
from engine.policy.audit_events import record, require_admin_actor
from engine.tools.config import SEPARATOR, ServerStore
from engine.vault import Vault

SETTING = "documents.assistants"
MAX_SYSTEM_CHARS = 8000
MAX_TOOLS = 32


def model_name(server: str, tool: str) -> str:
    """The name a model sees for `tool` of `server` (as engine.tools names it)."""
    return f"{server}{SEPARATOR}{tool}"


@dataclass(frozen=True)
class Assistant:
    """A named model + prompt + collections."""

    name: str
    model: str
    collections: tuple[str, ...]
    system: str | None
    top: int
    created_at: str
    tools: tuple[str, ...] = ()  # attached MCP tools, SERVER.TOOL
    tool_choice: str = "auto"  # "required": the first reply must call one of them

    @property
    def tool_names(self) -> tuple[str, ...]:
        """The attached tools as a model is shown them (SERVER__TOOL)."""
        return tuple(model_name(*t.split(".", 1)) for t in self.tools)

    def to_json(self) -> dict[str, Any]:
        """As stored and as `assistants list --json` prints it."""
        data = asdict(self)
        data["collections"] = list(self.collections)
        data["tools"] = list(self.tools)
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
        tuple(data.get("tools") or ()),
        str(data.get("tool_choice") or "auto"),
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
    tools: list[str] | None = None,
    tool_choice: str = "auto",
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
    attached = _check_tools(vault, tools or [])
    if tool_choice not in ("auto", "required"):
        raise UserError("the tool choice is 'auto' or 'required'")
    if tool_choice == "required" and not attached:
        raise UserError("--tool-choice required needs tools (--tools SERVER.TOOL[,…])")
    assistant = Assistant(
        name, model, tuple(collections), system, top, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        attached, tool_choice,
    )
    stored[name] = assistant.to_json()
    vault.settings.set(SETTING, stored)
    record(vault, "assistant_create", actor=actor,
           details={"name": name, "model": model, "collections": collections, "tools": list(attached)})
    return assistant


def _check_tools(vault: Vault, tools: list[str]) -> tuple[str, ...]:
    """Attached tools: each a registered server's allowed, "always allow" tool, named SERVER.TOOL."""
    if len(tools) > MAX_TOOLS:
        raise UserError(f"an assistant can have at most {MAX_TOOLS} tools")
    servers = {s.name: s for s in ServerStore(vault).list()}
    for name in tools:
        server_name, dot, tool = name.partition(".")
        if not dot or not tool:
            raise UserError(f"name a tool as SERVER.TOOL (see `enclave tools list`), not {name[:80]!r}")
        if server_name not in servers:
            raise NotFoundError(f"no tool server named {server_name!r}; see `enclave tools list`")
        rule = servers[server_name].tool(tool)
        if not (rule.allowed and rule.always):
            # Over the API nobody can approve a call, so only tools the admin allows unasked can run.
            raise UserError(f"tool {name} is not marked \"always allow\"; an assistant's tools run without a person "
                            f"to approve each call: `enclave tools allow {server_name} {tool} --always` first")
    return tuple(dict.fromkeys(tools))


def remove(vault: Vault, name: str, *, actor: str) -> None:
    """Remove an assistant (its collections stay)."""
    require_admin_actor(actor)
    stored = _load(vault)
    if name not in stored:
        raise NotFoundError(f"no assistant named {name!r}")
    del stored[name]
    vault.settings.set(SETTING, stored)
    record(vault, "assistant_remove", actor=actor, details={"name": name})
