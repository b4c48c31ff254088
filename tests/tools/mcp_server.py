"""A test MCP server, written with the official `mcp` SDK:
`python tests/tools/mcp_server.py CALLS_FILE stdio` or `... CALLS_FILE http PORT`.

Each call of a tool is appended to CALLS_FILE (so a test can tell whether a tool ran at all); `lookup`
answers with a canary the test then looks for on disk.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Literal

from mcp.server.mcpserver import MCPServer

CANARY = "CANARY-7f3e-TOOL-RESULT"
server = MCPServer("enclave-test-tools")


def _record(tool: str, arguments: dict[str, object]) -> None:
    with open(sys.argv[1], "a", encoding="utf-8") as calls:
        calls.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")


@server.tool()
def lookup(code: Literal["X1", "Y2", "Z9"]) -> str:
    """Look up an internal code."""
    # An enum, so that the tiny test model, forced by grammar to call this, ends its call in a few tokens.
    _record("lookup", {"code": code})
    return f"{CANARY} for {code}"


@server.tool()
def wipe_disk(path: str) -> str:
    """A tool no admin allows."""
    _record("wipe_disk", {"path": path})
    return "wiped"


@server.tool()
def big(size: int) -> str:
    """Answers with `size` characters."""
    _record("big", {"size": size})
    return "x" * size


@server.tool()
def slow(seconds: float) -> str:
    """Answers after `seconds`."""
    _record("slow", {"seconds": seconds})
    time.sleep(seconds)
    return "late"


if __name__ == "__main__":
    if sys.argv[2] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        server.run("stdio")
