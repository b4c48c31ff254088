"""MCP test servers (the `mcp` SDK's MCPServer, tests/tools/mcp_server.py) over stdio and Streamable HTTP."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER = Path(__file__).with_name("mcp_server.py")


@dataclass
class McpTarget:
    """How to register a test server, and the file its tool calls are recorded in."""

    kind: str
    command: str | None
    url: str | None
    calls_file: Path

    def calls(self) -> list[str]:
        """The tool calls the server has run (one JSON line each)."""
        return self.calls_file.read_text().splitlines() if self.calls_file.exists() else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the test MCP server exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError("the test MCP server did not start")


@pytest.fixture(params=["stdio", "http"])
def mcp_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[McpTarget]:
    """The test server, reached over stdio (a command) or Streamable HTTP on loopback."""
    calls = tmp_path / "calls.jsonl"
    if request.param == "stdio":
        yield McpTarget("stdio", shlex.join([sys.executable, str(SERVER), str(calls), "stdio"]), None, calls)
        return
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(SERVER), str(calls), "http", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, process)
        yield McpTarget("http", None, f"http://127.0.0.1:{port}/mcp", calls)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # uvicorn waits for a call still running (the slow tool's)
            process.kill()
            process.wait(timeout=5)
