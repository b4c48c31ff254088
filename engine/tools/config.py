"""What an MCP server registration is, the rules it must pass, and where registrations live.

A registration (a stdio command or a Streamable HTTP URL on the organisation's network, and each of
its tools with the admin's rule) is one JSON value in the vault's encrypted settings: nothing about it
is on disk in clear, and no server is started or contacted until an administrator registered it.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from engine.errors import NotFoundError, UserError
from engine.vault.ports import SettingsVault

SETTINGS_KEY = "mcp_servers"
DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 600.0
MAX_TOOLS = 256  # tools kept from one server's listing
MAX_SCHEMA_CHARS = 16 * 1024  # one tool's input schema, as JSON
MAX_DESCRIPTION_CHARS = 1024
SEPARATOR = "__"  # a tool's name for the model: SERVER__TOOL (server names never hold "__")
_NAME = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_TOOL = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class ToolRule:
    """One tool a server lists, and the admin's rule for it (default: not allowed)."""

    name: str
    description: str = ""
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    allowed: bool = False
    always: bool = False  # allowed without asking the person each time

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"name": self.name, "description": self.description, "schema": self.schema,
                "allowed": self.allowed, "always": self.always}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolRule:
        """Read the stored form."""
        return cls(data["name"], data.get("description", ""), data.get("schema") or {"type": "object"},
                   bool(data.get("allowed")), bool(data.get("always")))


@dataclass(frozen=True)
class McpServer:
    """A registered MCP server: a command run over stdio, or a Streamable HTTP URL."""

    name: str
    command: tuple[str, ...] = ()
    url: str = ""
    tools: tuple[ToolRule, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S
    added_at: str = ""

    @property
    def kind(self) -> str:
        """"stdio" or "http"."""
        return "http" if self.url else "stdio"

    @property
    def target(self) -> str:
        """The command line or URL, as shown to an admin."""
        return self.url or shlex.join(self.command)

    def tool(self, name: str) -> ToolRule:
        """The rule of tool `name`, or NotFoundError."""
        for rule in self.tools:
            if rule.name == name:
                return rule
        raise NotFoundError(f"server {self.name!r} has no tool {name!r}; see `enclave tools list`")

    def with_rule(self, rule: ToolRule) -> McpServer:
        """This server with `rule` in place of the tool's current one."""
        return replace(self, tools=tuple(rule if r.name == rule.name else r for r in self.tools))

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"name": self.name, "command": list(self.command), "url": self.url,
                "tools": [t.to_json() for t in self.tools], "timeout_s": self.timeout_s, "added_at": self.added_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> McpServer:
        """Read the stored form."""
        return cls(data["name"], tuple(data.get("command") or ()), data.get("url", ""),
                   tuple(ToolRule.from_json(t) for t in data.get("tools") or ()),
                   float(data.get("timeout_s", DEFAULT_TIMEOUT_S)), data.get("added_at", ""))


def check_name(name: str) -> str:
    """A server name: 1-32 lower-case letters and digits, single '-' or '_' between them."""
    if len(name) > 32 or not _NAME.fullmatch(name):
        raise UserError(f"invalid tool server name {name!r}: use 1-32 lower-case letters, digits, single '-' or '_'")
    return name


def check_tool_name(name: str) -> str:
    """A tool name as a model can be shown it (OpenAI function names)."""
    if not _TOOL.fullmatch(name):
        raise UserError(f"tool name {name[:80]!r} cannot be offered to a model (1-64 letters, digits, '_.-')")
    return name


def split_command(command: str) -> tuple[str, ...]:
    """A stdio server's command line, split as a shell would (nothing is run through a shell)."""
    try:
        words = tuple(shlex.split(command))
    except ValueError as exc:
        raise UserError(f"cannot read the command line: {exc}") from None
    if not words:
        raise UserError("the command is empty")
    return words


def _local_network(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in ("localhost", "localhost.localdomain"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def check_url(url: str) -> str:
    """A Streamable HTTP endpoint: https, or plain http to loopback or a private (organisation) address."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise UserError(f"invalid MCP server URL {url[:200]!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UserError("an MCP server URL must look like https://host[:port]/mcp")
    if parsed.userinfo:
        raise UserError("put no credentials in the MCP server URL")
    if parsed.scheme == "http" and not _local_network(parsed.host):
        raise UserError("plain http:// is only accepted for loopback or private addresses; use https://")
    return str(parsed)


def check_timeout(timeout_s: float) -> float:
    """Seconds a call may take: more than 0, at most MAX_TIMEOUT_S."""
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise UserError(f"the timeout must be between 0 and {MAX_TIMEOUT_S:.0f} seconds")
    return timeout_s


class ServerStore:
    """MCP server registrations in the vault's encrypted settings."""

    def __init__(self, vault: SettingsVault) -> None:
        self._vault = vault

    def list(self) -> list[McpServer]:
        """Every registered server, in the order added."""
        return [McpServer.from_json(d) for d in self._vault.settings.get(SETTINGS_KEY, []) or []]

    def get(self, name: str) -> McpServer:
        """The server `name`, or NotFoundError."""
        for server in self.list():
            if server.name == name:
                return server
        raise NotFoundError(f"no tool server named {name!r}; see `enclave tools list`")

    def save(self, servers: Sequence[McpServer]) -> None:
        """Replace every registration."""
        self._vault.settings.set(SETTINGS_KEY, [s.to_json() for s in servers])

    def put(self, server: McpServer) -> None:
        """Add `server`, or replace the one of its name."""
        servers = [s for s in self.list() if s.name != server.name]
        names = [s.name for s in self.list()]
        if server.name in names:
            servers.insert(names.index(server.name), server)
        else:
            servers.append(server)
        self.save(servers)
