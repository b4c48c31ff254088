"""Connection cap and read deadlines of a real `enclave serve`: slow or idle clients cannot hold it."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.serving import Served, prepare_home, serve

CAP = 6
HEADER_S = 1.0
BODY_S = 1.5
LIMITS = (
    "--limit", f"max_connections={CAP}", "--limit", f"header_timeout_s={HEADER_S}",
    "--limit", f"body_timeout_s={BODY_S}", "--limit", "keep_alive_timeout_s=1",
)


@pytest.fixture(scope="module")
def served(api_home: Path, tiny_gguf: Path) -> Iterator[Served]:
    """One server with small limits, so the tests see them act within seconds."""
    with serve(api_home, prepare_home(api_home, tiny_gguf), *LIMITS) as running:
        yield running


def connect(served: Served) -> socket.socket:
    """A raw TCP connection to the server."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    return sock


def closed_after(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """(seconds until the server closed the connection, what it sent first); fails after `limit`."""
    started = time.monotonic()
    sock.settimeout(limit)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the connection was still open after {limit} s")
    except ConnectionResetError:
        pass
    return time.monotonic() - started, received


def health(served: Served) -> int:
    """Status of GET /health on a new connection."""
    return httpx.get(f"{served.url}/health", timeout=5).status_code


def test_idle_connection_is_closed_with_408(served: Served) -> None:
    with connect(served) as sock:
        waited, received = closed_after(sock, HEADER_S + 5)
    assert received.startswith(b"HTTP/1.1 408") and b"request_timeout" in received
    assert waited < HEADER_S + 3


def test_half_sent_headers_are_closed_and_health_still_served(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert health(served) == 200  # served while the half-sent request waits
        waited, received = closed_after(sock, HEADER_S + 5)
    assert received.startswith(b"HTTP/1.1 408") and waited < HEADER_S + 3


def test_trickled_headers_do_not_extend_the_deadline(served: Served) -> None:
    started = time.monotonic()
    with connect(served) as sock:
        with contextlib.suppress(OSError):  # the server closes mid-trickle
            for byte in b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        closed_after(sock, 5)
    assert time.monotonic() - started < HEADER_S + 3


def test_half_sent_body_is_closed(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + served.key.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"mo"
        )
        waited, _ = closed_after(sock, BODY_S + 5)
    assert waited < BODY_S + 3


def test_connections_over_the_cap_are_refused_at_once(served: Served) -> None:
    held = [connect(served) for _ in range(CAP)]
    try:
        time.sleep(0.2)  # let the server accept them all
        with connect(served) as extra:
            waited, received = closed_after(extra, 3)
        assert received.startswith(b"HTTP/1.1 503") and b"too_many_connections" in received
        assert waited < 1.0
    finally:
        for sock in held:
            sock.close()
    # The held ones are gone (closed by us or by the deadline): the server answers again.
    deadline = time.monotonic() + HEADER_S + 5
    while True:
        with contextlib.suppress(httpx.TransportError):
            if health(served) == 200:
                break
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_an_oversized_request_head_is_refused(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        time.sleep(0.2)
        with contextlib.suppress(OSError):  # a head that never ends: refused once 16 KiB are buffered
            for _ in range(10):
                sock.sendall(b"a" * 4096)
                time.sleep(0.05)
        waited, received = closed_after(sock, 5)
    assert received.startswith(b"HTTP/1.1 400") and waited < 2


def test_keep_alive_requests_still_work(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=5) as client:
        for _ in range(3):
            assert client.get("/health").status_code == 200
        reply = client.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {served.key}"},
            json={"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        )
        assert reply.status_code == 200, reply.text


def test_bad_limits_are_a_usage_error(api_home: Path) -> None:
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--limit", "no_such_limit=3"])
    assert exit_info.value.code == 1  # a usage error (2 means tampering)
