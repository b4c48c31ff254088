"""Governed MCP tools (`engine.tools`): the servers an admin registered, their tools, and calls.

An admin registers MCP servers (a stdio command, or a Streamable HTTP URL on the organisation's
network) and allows their tools one by one; a tool nobody allowed is never shown to a model. A chat
turn offers the allowed tools (`plan()`); each call the model makes is shown to the person, who
approves or denies it, unless the admin marked the tool "always allow". `run()` then calls it (or not),
stores the result encrypted with the conversation, and writes the call, the tool, the decision and
SHA-256 hashes of the arguments and the result into the audit chain (never their text).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from engine.chat import ToolCallRequest, ToolPlan
from engine.errors import EnclaveError, UserError
from engine.models.template_input import ToolOffer
from engine.policy.audit_events import require_admin_actor
from engine.replies import ReplyRules
from engine.sandbox import SandboxError, default_pool
from engine.tools.client import ToolResult, ToolServerError, call_tool, list_tools
from engine.tools.config import (
    DEFAULT_TIMEOUT_S,
    SEPARATOR,
    McpServer,
    ServerStore,
    ToolRule,
    check_name,
    check_timeout,
    check_url,
    split_command,
)
from engine.vault import Vault
from engine.vault.errors import VaultMissing

__all__ = ["McpServer", "ToolOutcome", "ToolRule", "ToolServerError", "Tools", "ToolsHost"]

MAX_ARGUMENT_CHARS = 64 * 1024
MAX_GRAMMAR_BYTES = 256 * 1024
# The converter's string rule admits raw control characters, which JSON forbids inside strings.
_LAX_CHAR = r'char ::= [^"\\] |'
_STRICT_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'
DENIED_TEXT = "The person denied this tool call; it was not run."
NOT_ALLOWED_TEXT = "This tool is not allowed here; it was not run."
NEEDS_PERSON_TEXT = (
    "This tool needs a person's approval for each call, which a request over the API cannot give; it was not run. "
    "An administrator can mark it \"always allow\" (`enclave tools allow SERVER TOOL --always`)."
)
# Who approved a call, as the audit chain says it.
APPROVALS = {"always-allowed": "auto (admin rule)", "approved": "person", "denied": "person"}


class _Named(Protocol):
    @property
    def audit_name(self) -> str:
        """The actor's name in the audit log."""
        ...


class ToolsHost(Protocol):
    """What the tools room needs from its engine (engine.handle.Engine)."""

    @property
    def vault(self) -> Vault | None:
        """The open vault."""
        ...

    @property
    def actor(self) -> _Named:
        """Who acts (its audit name)."""
        ...

    def audit(self, event: str, details: dict[str, Any] | None = None) -> None:
        """Record `event` in the actor's name."""
        ...


@dataclass(frozen=True)
class ToolOutcome:
    """A call handled: what was decided, what came back, and where it was stored."""

    call: ToolCallRequest
    decision: str  # "approved", "always-allowed", "denied", "not-allowed", "needs-approval"
    text: str  # what the model gets back
    is_error: bool
    message_id: str | None  # the stored tool message


def model_name(server: str, tool: str) -> str:
    """The name a model sees for `tool` of `server`."""
    return f"{server}{SEPARATOR}{tool}"


def sha256_text(text: str) -> str:
    """Hex SHA-256 of `text` as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Tools:
    """MCP servers, tool rules and tool calls of one engine's actor (`engine.tools`)."""

    def __init__(
        self, engine: ToolsHost, *, only: Collection[str] | None = None, unattended: bool = False,
        context: dict[str, Any] | None = None,
    ) -> None:
        """`only`: the tools (SERVER__TOOL) this use may offer, of those allowed; `unattended`: nobody
        approves calls (an API request), so only "always allow" tools are offered and run; `context`:
        more to say in each call's audit entry (e.g. the assistant)."""
        self._engine = engine
        self._only = frozenset(only) if only is not None else None
        self._unattended = unattended
        self._context = dict(context or {})

    def _store(self) -> ServerStore:
        vault = self._engine.vault
        if vault is None:
            raise VaultMissing
        return ServerStore(vault)

    def _admin(self) -> ServerStore:
        require_admin_actor(self._engine.actor.audit_name)
        return self._store()

    # -- administration ----------------------------------------------------------------------------

    def servers(self) -> list[McpServer]:
        """Every registered server with its tools and their rules (no vault: none)."""
        return self._store().list() if self._engine.vault is not None else []

    def add(
        self, name: str, *, command: str | None = None, url: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> McpServer:
        """Register a server (contacted now to list its tools; none of them allowed)."""
        store = self._admin()
        check_name(name)
        if (command is None) == (url is None):
            raise UserError("give a server either a command (stdio) or a URL (Streamable HTTP)")
        if any(s.name == name for s in store.list()):
            raise UserError(f"a tool server named {name!r} exists; remove it first")
        server = McpServer(
            name,
            command=split_command(command) if command is not None else (),
            url=check_url(url) if url is not None else "",
            timeout_s=check_timeout(timeout_s),
            added_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        server = McpServer(**{**server.__dict__, "tools": tuple(list_tools(server))})
        store.put(server)
        self._engine.audit("tool_server_add", {"name": name, "kind": server.kind, "tools": len(server.tools)})
        return server

    def refresh(self, name: str) -> McpServer:
        """List the server's tools again; rules of tools still listed are kept, new ones not allowed."""
        store = self._admin()
        server = store.get(name)
        old = {t.name: t for t in server.tools}
        fresh = tuple(
            ToolRule(t.name, t.description, t.schema, old[t.name].allowed, old[t.name].always) if t.name in old else t
            for t in list_tools(server)
        )
        server = McpServer(**{**server.__dict__, "tools": fresh})
        store.put(server)
        return server

    def remove(self, name: str) -> McpServer:
        """Forget a server and its rules."""
        store = self._admin()
        server = store.get(name)
        store.save([s for s in store.list() if s.name != name])
        self._engine.audit("tool_server_remove", {"name": name})
        return server

    def allow(self, server_name: str, tool: str, *, always: bool = False) -> ToolRule:
        """Allow a tool (each call asked of the person, unless `always`)."""
        return self._set_rule(server_name, tool, allowed=True, always=always)

    def deny(self, server_name: str, tool: str) -> ToolRule:
        """Stop allowing a tool: it is no longer offered to models."""
        return self._set_rule(server_name, tool, allowed=False, always=False)

    def _set_rule(self, server_name: str, tool: str, *, allowed: bool, always: bool) -> ToolRule:
        store = self._admin()
        server = store.get(server_name)
        rule = server.tool(tool)
        rule = ToolRule(rule.name, rule.description, rule.schema, allowed, always)
        store.put(server.with_rule(rule))
        self._engine.audit("tool_rule", {"server": server_name, "tool": tool, "allowed": allowed, "always": always})
        return rule

    # -- use in a chat -----------------------------------------------------------------------------

    def allowed(self) -> list[tuple[McpServer, ToolRule]]:
        """Every allowed tool with its server (of `only`; when unattended, only those always allowed)."""
        return [(s, t) for s, t in self._permitted() if t.always or not self._unattended]

    def _permitted(self) -> list[tuple[McpServer, ToolRule]]:
        """Allowed tools of `only`, whether or not they need a person's approval."""
        return [(s, t) for s in self.servers() for t in s.tools
                if t.allowed and (self._only is None or model_name(s.name, t.name) in self._only)]

    def find(self, name: str) -> tuple[McpServer, ToolRule] | None:
        """The allowed tool a model calls `name` (SERVER__TOOL), or None."""
        for server, rule in self.allowed():
            if model_name(server.name, rule.name) == name:
                return server, rule
        return None

    def plan(self, choice: str = "auto") -> ToolPlan | None:
        """The allowed tools offered to a chat turn (None when there are none).

        `choice` "required" makes the reply a call of one of them, by grammar: what a test (or a
        deterministic workflow) uses to get a call from any model, however small.
        """
        tools = self.allowed()
        if not tools or choice == "none":
            return None
        specs = tuple(
            {"type": "function", "function": {"name": model_name(s.name, t.name), "description": t.description,
                                              "parameters": t.schema}}
            for s, t in tools
        )
        names = tuple(model_name(s.name, t.name) for s, t in tools)
        if choice == "required":
            grammar = _call_grammar(specs)
            return ToolPlan(ToolOffer(specs), ReplyRules(constrained=True, any_tool=True), grammar)
        note = _note(specs)
        return ToolPlan(ToolOffer(specs, note), ReplyRules(offered=names))

    def needs_approval(self, call: ToolCallRequest) -> bool:
        """False only for a tool the admin allowed "always"; unknown tools are never run at all."""
        found = self.find(call.name)
        return not (found is not None and found[1].always)

    def describe(self, call: ToolCallRequest) -> tuple[str, str]:
        """(server, tool) a call names, for showing it (its raw name when it names no allowed tool)."""
        found = self.find(call.name)
        return (found[0].name, found[1].name) if found else ("", call.name)

    def run(self, conversation_id: str | None, call: ToolCallRequest, *, approved: bool) -> ToolOutcome:
        """Call the tool if the person approved (or the admin always allows it); store and audit the outcome.

        A tool not allowed is never called whatever `approved` says. Blocking: call off the GUI thread.
        """
        found = self.find(call.name)
        result: ToolResult
        if found is None and self._unattended and any(model_name(s.name, t.name) == call.name
                                                      for s, t in self._permitted()):
            decision, result = "needs-approval", ToolResult(NEEDS_PERSON_TEXT, is_error=True)
        elif found is None:
            decision, result = "not-allowed", ToolResult(NOT_ALLOWED_TEXT, is_error=True)
        elif found[1].always:
            decision = "always-allowed"
            result = self._call(found[0], found[1], call)
        elif approved:
            decision = "approved"
            result = self._call(found[0], found[1], call)
        else:
            decision, result = "denied", ToolResult(DENIED_TEXT, is_error=True)
        message_id = None
        vault = self._engine.vault
        if vault is not None and conversation_id is not None:
            message_id = vault.conversations.add_message(
                conversation_id, "tool", result.text,
                metadata={"tool_call_id": call.id, "tool": call.name, "decision": decision,
                          "is_error": result.is_error, "truncated": result.truncated},
            ).id
        self._engine.audit("tool_call", {
            "server": found[0].name if found else None,
            "tool": found[1].name if found else call.name[:100],
            "call_id": call.id,
            "conversation": conversation_id,
            "decision": decision,
            "approval": APPROVALS.get(decision, "none"),
            **self._context,
            "arguments_sha256": sha256_text(call.arguments),
            "result_sha256": sha256_text(result.text),
            "is_error": result.is_error,
        })
        return ToolOutcome(call, decision, result.text, result.is_error, message_id)

    def _call(self, server: McpServer, rule: ToolRule, call: ToolCallRequest) -> ToolResult:
        if len(call.arguments) > MAX_ARGUMENT_CHARS:
            return ToolResult(f"The arguments are too large (over {MAX_ARGUMENT_CHARS // 1024} KiB).", is_error=True)
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            return ToolResult("The arguments are not valid JSON.", is_error=True)
        if not isinstance(arguments, dict):
            return ToolResult("The arguments must be a JSON object.", is_error=True)
        try:
            return call_tool(server, rule.name, arguments)
        except EnclaveError as exc:  # the model hears why; the person sees it folded
            return ToolResult(str(exc), is_error=True)


def _note(specs: tuple[dict[str, Any], ...]) -> str:
    """A system note describing the tools, for models whose template has no tool syntax."""
    described = [{"name": s["function"]["name"], "description": s["function"]["description"],
                  "parameters": s["function"]["parameters"]} for s in specs]
    return (
        "You can call these tools. To call one, reply with only a JSON object "
        '{"name": <tool name>, "arguments": <arguments object>}.\n' + json.dumps(described, ensure_ascii=False)
    )


def _call_grammar(specs: tuple[dict[str, Any], ...]) -> str:
    """GBNF admitting only {"name": …, "arguments": …} for one of the tools (in the sandbox, time-limited)."""
    options = [
        {"type": "object",
         "properties": {"name": {"const": s["function"]["name"]}, "arguments": s["function"]["parameters"]},
         "required": ["name", "arguments"]}
        for s in specs
    ]
    try:
        grammar = str(default_pool().run("grammar", {"anyOf": options}))
    except SandboxError:
        raise UserError("the allowed tools' argument schemas cannot be enforced") from None
    grammar = grammar.replace(_LAX_CHAR, _STRICT_CHAR)
    if len(grammar) > MAX_GRAMMAR_BYTES:
        raise UserError("the allowed tools' argument schemas expand to too large a grammar")
    return grammar
