"""Talking to one MCP server with the official `mcp` SDK: list its tools, call one.

Each operation opens a session, does its one thing under the server's time limit and closes it (a
stdio server is started for it and stopped after): nothing runs between calls, and a hung server
costs one call its timeout, never the app. What a call returns is capped before anyone sees it.
Blocking: call from a worker thread (the GUI) or the command line.

The SDK is imported on the first call, not with this module: it takes half a second to import, and every
`enclave` command, the app and the server import the tools package whether or not a tool is ever called.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from engine.errors import EnclaveError
from engine.tools.config import (
    MAX_DESCRIPTION_CHARS,
    MAX_SCHEMA_CHARS,
    MAX_TOOLS,
    McpServer,
    ToolRule,
    check_tool_name,
)

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import CallToolResult

MAX_RESULT_CHARS = 32 * 1024  # of a tool's result the model and the person get
MAX_SSE_EVENT_BYTES = 4 * 1024 * 1024  # one Streamable HTTP event, before it is parsed
T = TypeVar("T")


class ToolServerError(EnclaveError):
    """An MCP server could not be reached, timed out, or answered with an error."""


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned, as text (capped), and whether it reported an error."""

    text: str
    is_error: bool = False
    truncated: bool = False


def _transport(server: McpServer, errlog: TextIO) -> Any:
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client

    if server.url:
        return streamable_http_client(server.url, max_sse_event_size=MAX_SSE_EVENT_BYTES)
    # A stdio server gets the SDK's minimal environment (PATH, HOME, …), not this process's.
    params = StdioServerParameters(command=server.command[0], args=list(server.command[1:]))
    return stdio_client(params, errlog=errlog)


def _run(server: McpServer, work: Callable[[Client], Awaitable[T]]) -> T:
    from mcp import Client

    async def session() -> T:
        # The server's own log lines go nowhere: they are its business, and may hold what it was sent.
        with open(os.devnull, "w") as errlog:
            async with Client(_transport(server, errlog), read_timeout_seconds=server.timeout_s,
                              mode="legacy") as client:
                return await work(client)

    async def bounded() -> T:
        return await asyncio.wait_for(session(), timeout=server.timeout_s)

    try:
        return asyncio.run(bounded())
    except TimeoutError:
        raise ToolServerError(f"tool server {server.name!r} did not answer within {server.timeout_s:g} s") from None
    except EnclaveError:
        raise
    except Exception as exc:  # noqa: BLE001 (a transport's failures come in many shapes, groups included)
        raise ToolServerError(f"tool server {server.name!r} failed: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return (str(exc) or type(exc).__name__)[:300]


def list_tools(server: McpServer) -> list[ToolRule]:
    """The tools `server` lists now (tools/list), none allowed; oversized or oddly named ones left out."""

    async def work(client: Client) -> list[ToolRule]:
        listed = await client.list_tools()
        return [rule for tool in listed.tools if (rule := _rule(tool.name, tool.description, tool.input_schema))]

    return _run(server, work)[:MAX_TOOLS]


def _rule(name: str, description: str | None, schema: dict[str, Any]) -> ToolRule | None:
    try:
        check_tool_name(name)
    except EnclaveError:
        return None
    if len(json.dumps(schema)) > MAX_SCHEMA_CHARS:
        return None
    return ToolRule(name, (description or "")[:MAX_DESCRIPTION_CHARS], schema)


def call_tool(server: McpServer, tool: str, arguments: dict[str, Any]) -> ToolResult:
    """Call `tool` on `server` (tools/call) with `arguments`; its result as capped text."""

    async def work(client: Client) -> CallToolResult:
        return await client.call_tool(tool, arguments)

    return _as_text(_run(server, work))


def _as_text(result: CallToolResult) -> ToolResult:
    from mcp_types import TextContent

    parts: list[str] = []
    for block in result.content:
        parts.append(block.text if isinstance(block, TextContent) else f"[{block.type} content left out]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts)
    truncated = len(text) > MAX_RESULT_CHARS
    if truncated:
        text = text[:MAX_RESULT_CHARS] + f"\n[cut at {MAX_RESULT_CHARS // 1024} KiB]"
    return ToolResult(text, result.is_error, truncated)
