"""`enclave tools add | list | allow | deny | refresh | remove`: MCP tool servers and which tools chats may use."""

from __future__ import annotations

import argparse
import sys

from engine.cli.passphrase import open_engine
from engine.cli.table import add_list_command, listed
from engine.tools import McpServer
from engine.tools.config import DEFAULT_TIMEOUT_S


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `tools` command group."""
    group = subparsers.add_parser("tools", parents=[common], help="MCP tool servers and the tools chats may call")
    actions = group.add_subparsers(dest="tools_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", parents=[common], help="register an MCP server and list its tools (none allowed)")
    add.add_argument("name", help="a short name: lower-case letters, digits, single '-' or '_'")
    which = add.add_mutually_exclusive_group(required=True)
    which.add_argument("--command", metavar="CMD", help="run this command and speak MCP over its stdin/stdout")
    which.add_argument("--url", help="its Streamable HTTP endpoint, e.g. https://tools.corp/mcp")
    add.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                     help="seconds one listing or call may take")
    add.set_defaults(handler=cmd_add)

    add_list_command(actions, common, cmd_list, "list servers, their tools and rules")

    allow = actions.add_parser("allow", parents=[common], help="let chats offer a tool (each call asked)")
    allow.add_argument("name", help="the server")
    allow.add_argument("tool")
    allow.add_argument("--always", action="store_true", help="run its calls without asking the person each time")
    allow.set_defaults(handler=cmd_allow)

    deny = actions.add_parser("deny", parents=[common], help="stop offering a tool")
    deny.add_argument("name", help="the server")
    deny.add_argument("tool")
    deny.set_defaults(handler=cmd_deny)

    refresh = actions.add_parser("refresh", parents=[common], help="list a server's tools again (rules kept)")
    refresh.add_argument("name")
    refresh.set_defaults(handler=cmd_refresh)

    remove = actions.add_parser("remove", parents=[common], help="forget a server and its tools' rules")
    remove.add_argument("name")
    remove.set_defaults(handler=cmd_remove)


def _rule_word(allowed: bool, always: bool) -> str:
    return "always" if always else "ask" if allowed else "no"


def _as_json(server: McpServer) -> dict[str, object]:
    return {
        "name": server.name, "kind": server.kind, "target": server.target, "timeout_s": server.timeout_s,
        "added_at": server.added_at,
        "tools": [{"name": t.name, "description": t.description, "allowed": t.allowed, "always": t.always}
                  for t in server.tools],
    }


def cmd_add(args: argparse.Namespace) -> int:
    """Register a server."""
    with open_engine(args) as engine:
        server = engine.tools.add(args.name, command=args.command, url=args.url, timeout_s=args.timeout)
    names = ", ".join(t.name for t in server.tools) or "none"
    print(f"tool server {server.name!r} registered ({server.kind}); tools, none allowed yet: {names}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print every server with its tools and their rules."""
    with open_engine(args) as engine:
        servers = engine.tools.servers()
    if listed(args, lambda: [_as_json(s) for s in servers], len(servers),
              "no tool servers; register one with `enclave tools add NAME --command CMD | --url URL`"):
        return 0
    for server in servers:
        print(f"{server.name} ({server.kind}) {server.target}")
        for tool in server.tools:
            print(f"  {tool.name:<32} allowed: {_rule_word(tool.allowed, tool.always):<6} {tool.description[:60]}")
    return 0


def cmd_allow(args: argparse.Namespace) -> int:
    """Allow a tool."""
    with open_engine(args) as engine:
        rule = engine.tools.allow(args.name, args.tool, always=args.always)
    how = "without asking" if rule.always else "each call asked of the person"
    print(f"tool {args.tool!r} of {args.name!r} allowed ({how})", file=sys.stderr)
    return 0


def cmd_deny(args: argparse.Namespace) -> int:
    """Stop allowing a tool."""
    with open_engine(args) as engine:
        engine.tools.deny(args.name, args.tool)
    print(f"tool {args.tool!r} of {args.name!r} is no longer allowed", file=sys.stderr)
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    """List a server's tools again."""
    with open_engine(args) as engine:
        server = engine.tools.refresh(args.name)
    print(f"tool server {server.name!r}: {len(server.tools)} tools", file=sys.stderr)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Forget a server."""
    with open_engine(args) as engine:
        engine.tools.remove(args.name)
    print(f"tool server {args.name!r} removed", file=sys.stderr)
    return 0
