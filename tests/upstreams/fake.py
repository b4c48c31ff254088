"""A scripted OpenAI-compatible upstream (Starlette on uvicorn, optionally TLS) for what a real one cannot show.

It can hold a stream open until the test lets it go (to prove Enclave passes events on as they come),
notice that its client went away, and answer with an error that quotes its own URL and key (to prove
Enclave scrubs them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.upstreams.conftest import free_port

MODEL = "fake-model"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), as files: the CA and the server are the same."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "enclave-test-upstream")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "upstream.pem", folder / "upstream.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    event = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


class FakeUpstream:
    """Scripted replies by model: `gated` streams, `refuse` answers 400 quoting its URL and key."""

    def __init__(self, api_key: str, cert: tuple[Path, Path] | None = None) -> None:
        self.api_key = api_key
        self.port = free_port()
        self.scheme = "https" if cert else "http"
        self.gate = threading.Event()  # the test opens it to let the stream finish
        self.finished = threading.Event()  # the whole stream was sent
        self.cancelled = threading.Event()  # the stream was cut off by Enclave
        self.last_body: dict[str, object] = {}  # the latest chat request, as Enclave forwarded it
        app = Starlette(routes=[
            Route("/v1/models", self._models),
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
        ])
        ssl = {"ssl_certfile": str(cert[0]), "ssl_keyfile": str(cert[1])} if cert else {}
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1, **ssl)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """Its OpenAI base URL."""
        return f"{self.scheme}://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeUpstream:
        """Listen; returns once it does."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake upstream did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop listening."""
        self.server.should_exit = True
        self.thread.join(10)

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    async def _models(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def _chat(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        self.last_body = body
        if body.get("tools") and body.get("stream"):
            return StreamingResponse(self._tool_stream(body["tools"]), media_type="text/event-stream")
        if body.get("messages", [{}])[0].get("content") == "refuse":
            message = f"model {MODEL} at {self.url} (key {self.api_key}) cannot take this: context too long"
            return JSONResponse({"error": {"message": message, "code": "context_length_exceeded"}}, status_code=400)
        if not body.get("stream"):
            reply = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": MODEL,
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
            return JSONResponse(reply)
        if body["messages"][0].get("content") == "think":
            return StreamingResponse(self._thinking_stream(), media_type="text/event-stream")
        if body["messages"][0].get("content") == "break":
            return StreamingResponse(self._broken_stream(), media_type="text/event-stream")
        return StreamingResponse(self._gated_stream(), media_type="text/event-stream")

    async def _thinking_stream(self) -> AsyncIterator[bytes]:
        """A reasoning model behind a server that sends its thinking apart (`reasoning_content`)."""
        for delta in ({"reasoning_content": "Let me see."}, {"reasoning_content": " Yes."}, {"content": "It is so."}):
            event = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            yield b"data: " + json.dumps(event).encode() + b"\n\n"
        yield _chunk(None, "stop")
        yield b"data: [DONE]\n\n"

    async def _tool_stream(self, tools: list[dict[str, object]]) -> AsyncIterator[bytes]:
        """A call of the first tool offered, its arguments in two pieces, as OpenAI streams them."""
        function = tools[0]["function"]
        name = function["name"] if isinstance(function, dict) else "?"
        pieces = [{"index": 0, "id": "call_fake", "type": "function", "function": {"name": name, "arguments": ""}},
                  {"index": 0, "function": {"arguments": '{"city": '}},
                  {"index": 0, "function": {"arguments": '"Paris"}'}}]
        for piece in pieces:
            event = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
                     "choices": [{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}]}
            yield b"data: " + json.dumps(event).encode() + b"\n\n"
        yield _chunk(None, "tool_calls")
        yield b"data: [DONE]\n\n"

    async def _broken_stream(self) -> AsyncIterator[bytes]:
        """One event, then an error that quotes the upstream's own URL and key."""
        yield _chunk("first")
        error = {"error": {"message": f"worker at {self.url} (key {self.api_key}) ran out of memory"}}
        yield b"data: " + json.dumps(error).encode() + b"\n\n"

    async def _gated_stream(self) -> AsyncIterator[bytes]:
        try:
            yield _chunk("first")
            deadline = time.monotonic() + 15
            while not self.gate.is_set() and time.monotonic() < deadline:  # held until the test says so
                await asyncio.sleep(0.02)
            yield _chunk(" second")
            yield _chunk(None, "stop")
            yield b"data: [DONE]\n\n"
            self.finished.set()
        except BaseException:
            self.cancelled.set()
            raise
