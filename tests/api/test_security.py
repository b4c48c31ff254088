"""Every line of SECURITY.md's "Local HTTP endpoint" section, checked with raw HTTP against a real server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.api import ApiServer, ApiSettings
from engine.api.errors import scrub
from engine.api.settings import is_loopback
from engine.errors import UserError
from engine.handle import SERVER, Engine
from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault
from tests.api.conftest import PASSPHRASE, Api
from tests.tiny_gguf import write_tiny_gguf

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
MiB = 1024 * 1024


def assert_error(response: httpx.Response, status: int, kind: str | None = None) -> dict[str, object]:
    """The response is an OpenAI-style error with this status; return its `error` object."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text and "/" not in error["message"].replace("/v1", "")
    if kind:
        assert error["type"] == kind
    return error  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def extra_server(api: Api) -> Iterator[ApiServer]:
    """A second server over the same engine with one CORS origin, a host name and a small token cap."""
    settings = ApiSettings(cors_origins=("http://localhost:3000",), allowed_hosts=("enclave.lan",), max_tokens_cap=3)
    server = ApiServer(api.engine, port=0, settings=settings)
    server.start()
    yield server
    server.stop()


def raw_request(port: int, head: str) -> bytes:
    """Send raw bytes (for requests httpx refuses to make) and read the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


# -- DNS rebinding: Host allowlist -----------------------------------------------------------------


def test_foreign_host_is_403_even_when_origin_matches(api: Api) -> None:
    port = api.server.port
    for path in ("/health", "/v1/models"):
        response = api.client(Host=f"evil.example:{port}", Origin=f"http://evil.example:{port}").get(path)
        assert assert_error(response, 403)["code"] == "host_not_allowed"
    response = api.client(Host="attacker.test").post("/v1/chat/completions", json=CHAT)
    assert_error(response, 403)


def test_allowed_hosts_with_and_without_port(api: Api, extra_server: ApiServer) -> None:
    port = api.server.port
    for host in (f"localhost:{port}", "127.0.0.1", f"[::1]:{port}", "LOCALHOST"):
        assert api.client(Host=host).get("/health").status_code == 200
    assert api.client(Host="enclave.lan").get("/health").status_code == 403  # not configured here
    assert httpx.get(f"{extra_server.url}/health", headers={"Host": "enclave.lan:80"}).status_code == 200


def test_empty_or_missing_host_is_refused(api: Api) -> None:
    port = api.server.port
    empty = raw_request(port, f"GET /health HTTP/1.1\r\nHost: :{port}\r\nConnection: close\r\n\r\n")
    assert empty.split(b" ", 2)[1] in (b"400", b"403")
    missing = raw_request(port, "GET /health HTTP/1.0\r\n\r\n")
    assert missing.split(b" ", 2)[1] in (b"400", b"403")
    twice = raw_request(port, "GET /health HTTP/1.0\r\nHost: localhost\r\nHost: evil.example\r\n\r\n")
    assert twice.split(b" ", 2)[1] in (b"400", b"403")


# -- CORS ------------------------------------------------------------------------------------------


def test_cors_is_off_by_default(api: Api) -> None:
    client = api.client(Origin="http://localhost:3000")
    response = client.get("/v1/models")
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    assert_error(client.post("/v1/chat/completions", json=CHAT), 403)
    preflight = client.options(
        "/v1/chat/completions", headers={"Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers


def test_cors_only_for_configured_origins_never_wildcard(api: Api, extra_server: ApiServer) -> None:
    headers = {"Authorization": f"Bearer {api.key}", "Origin": "http://localhost:3000"}
    preflight = httpx.options(
        f"{extra_server.url}/v1/chat/completions",
        headers={**headers, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "access-control-allow-credentials" not in preflight.headers
    allowed = httpx.post(f"{extra_server.url}/v1/chat/completions", headers=headers, json=CHAT, timeout=30)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    foreign = httpx.post(
        f"{extra_server.url}/v1/chat/completions", headers={**headers, "Origin": "http://evil.example"}, json=CHAT
    )
    assert_error(foreign, 403)
    with pytest.raises(ValueError):
        ApiSettings(cors_origins=("*",))


# -- Auth ------------------------------------------------------------------------------------------


def test_every_v1_route_needs_a_key(api: Api) -> None:
    anonymous = httpx.Client(base_url=api.server.url)
    for method, path in (("GET", "/v1/models"), ("GET", "/v1/models/tiny"), ("POST", "/v1/chat/completions"),
                         ("POST", "/v1/completions"), ("POST", "/v1/embeddings"), ("GET", "/v1/unknown")):
        response = anonymous.request(method, path, json={})
        assert assert_error(response, 401, "authentication_error")["code"] == "invalid_api_key"
        assert response.headers["www-authenticate"] == "Bearer"
    wrong = "enc-" + "0" * 32 + "-" + "A" * 43
    for header in (f"Bearer {wrong}", "Bearer nonsense", f"Basic {api.key}", "Bearer", f"bearer{api.key}"):
        response = anonymous.get("/v1/models", headers={"Authorization": header})
        assert_error(response, 401, "authentication_error")


def test_revoked_key_is_refused_and_secrets_are_stored_hashed(api: Api, api_home: Path) -> None:
    _, secret = api.vault.api_keys.create("short-lived")
    assert api.client(secret).get("/v1/models").status_code == 200
    api.vault.api_keys.revoke("short-lived")
    assert_error(api.client(secret).get("/v1/models"), 401, "authentication_error")
    stored = b"".join(p.read_bytes() for p in api_home.glob("vault.db*"))
    assert secret.encode() not in stored and secret[-43:].encode() not in stored


def test_health_and_openapi_need_no_key_and_reveal_only_status(api: Api) -> None:
    health = httpx.get(f"{api.server.url}/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    schema = httpx.get(f"{api.server.url}/openapi.json").json()
    assert "/v1/chat/completions" in schema["paths"]
    assert any("HTTPBearer" in s for s in schema["components"]["securitySchemes"])


# -- Bind policy -----------------------------------------------------------------------------------


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.com"))


def test_non_loopback_bind_without_keys_refuses_to_start(api: Api, tmp_path: Path) -> None:
    home = tmp_path / "keyless"
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    keyless = Engine(api.runtime, vault, actor=SERVER, owns=False)
    try:
        with pytest.raises(UserError, match="refusing to listen"):
            ApiServer(keyless, host="0.0.0.0", port=0).start()
        loopback = ApiServer(keyless, host="127.0.0.1", port=0)
        loopback.start()  # loopback is fine (every /v1 request still needs a key)
        assert loopback.running
        loopback.stop()
        vault.api_keys.create("remote")
        vault.api_keys.revoke("remote")
        with pytest.raises(UserError):
            ApiServer(keyless, host="0.0.0.0", port=0).check_bind_policy()
        vault.api_keys.create("remote")
        ApiServer(keyless, host="0.0.0.0", port=0).check_bind_policy()
    finally:
        vault.close()


def test_server_start_and_stop_are_audited(api: Api) -> None:
    events = [(e.event, e.details.get("bind")) for e in api.vault.audit.entries()]
    assert ("server_start", f"127.0.0.1:{api.server.port}") in events


# -- Limits ----------------------------------------------------------------------------------------


def test_body_over_cap_is_413_with_content_length(api: Api) -> None:
    body = json.dumps({**CHAT, "padding": "x" * (5 * MiB)}).encode()
    response = api.client().post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert assert_error(response, 413)["code"] == "body_too_large"


def test_body_over_cap_is_413_when_chunked(api: Api) -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"model": "tiny", "padding": "'
        for _ in range(5 * 16):
            yield b"x" * (64 * 1024)
        yield b'"}'

    response = api.client().post("/v1/chat/completions", content=pieces(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers  # really chunked
    assert_error(response, 413)


def test_body_under_cap_is_accepted(api: Api) -> None:
    body = {**CHAT, "padding": "x" * (3 * MiB)}  # unknown fields are ignored
    assert api.client().post("/v1/chat/completions", json=body).status_code == 200


def test_prompt_longer_than_context_is_400(api: Api) -> None:
    long = {**CHAT, "messages": [{"role": "user", "content": "word " * 2000}]}
    for stream in (False, True):
        response = api.client().post("/v1/chat/completions", json={**long, "stream": stream})
        assert assert_error(response, 400)["code"] == "context_length_exceeded"
    assert api.client().post("/v1/chat/completions", json=CHAT).status_code == 200  # still serving


def test_max_tokens_is_capped(api: Api, extra_server: ApiServer) -> None:
    body = {**CHAT, "max_tokens": 900, "temperature": 0.0}
    headers = {"Authorization": f"Bearer {api.key}"}
    response = httpx.post(f"{extra_server.url}/v1/chat/completions", headers=headers, json=body, timeout=30)
    assert response.status_code == 200 and response.json()["usage"]["completion_tokens"] <= 3


# -- Parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"n": 2}, "n"),
        ({"stream": "yes"}, "stream"),
        ({"stop": ["a"] * 9}, "stop"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "messages[0].content"),
        ({"model": 5}, "model"),
        ({"grammar": "root ::= \"a\""}, "grammar"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"max_tokens": 2.5}, "max_tokens"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
    ],
)
def test_bad_parameters_are_400_naming_the_param(api: Api, change: dict[str, object], param: str | None) -> None:
    response = api.client().post("/v1/chat/completions", json={**CHAT, **change})
    error = assert_error(response, 400, "invalid_request_error")
    if param is not None:
        assert error["param"] is not None and str(error["param"]).startswith(param)


def test_malformed_json_and_non_object_bodies_are_400(api: Api) -> None:
    client = api.client()
    for body in (b"{not json", b"[1, 2]", b'"text"', b""):
        response = client.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
        assert_error(response, 400)


def test_json_schemas_with_remote_refs_or_huge_bounds_are_refused(api: Api) -> None:
    for schema in (
        {"$ref": "https://example.com/schema.json"},
        {"type": "object", "properties": {"a": {"$ref": "http://169.254.169.254/latest"}}},
        {"type": "string", "maxLength": 10_000_000},
    ):
        fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
        error = assert_error(api.client().post("/v1/chat/completions", json={**CHAT, "response_format": fmt}), 400)
        assert error["param"] == "response_format.json_schema.schema"


def test_completions_and_embeddings_validate_too(api: Api) -> None:
    client = api.client()
    assert assert_error(client.post("/v1/completions", json={"model": "tiny", "prompt": "x", "echo": True}), 400)[
        "param"
    ] == "echo"
    assert_error(client.post("/v1/completions", json={"model": "tiny", "prompt": ["a", "b"]}), 400)
    assert_error(client.post("/v1/embeddings", json={"model": "tiny", "input": ""}), 400)
    assert_error(client.post("/v1/embeddings", json={"model": "tiny", "input": [1, 2, 3]}), 400)
    assert_error(client.post("/v1/embeddings", json={"model": "tiny", "input": "x", "encoding_format": "hex"}), 400)


# -- Errors ----------------------------------------------------------------------------------------


def test_unknown_route_404_and_wrong_method_405(api: Api) -> None:
    client = api.client()
    assert_error(client.get("/v1/nope"), 404)
    assert_error(httpx.get(f"{api.server.url}/nope"), 404)
    assert_error(client.get("/v1/chat/completions"), 405)
    assert_error(client.delete("/v1/models"), 405)


def test_errors_carry_no_paths(api: Api, tmp_path: Path) -> None:
    registry = ModelRegistry()
    if not any(r.name == "broken" for r in registry.list()):
        source = write_tiny_gguf(tmp_path / "other.gguf", seed=9)
        record = registry.import_file(source, "broken")
        record.path.write_bytes(b"GGUF" + b"\0" * 64)  # damaged after import: llama.cpp refuses to load it
    response = api.client().post("/v1/chat/completions", json={**CHAT, "model": "broken"})
    error = assert_error(response, 400)
    assert str(Path.home()) not in response.text and "api-home" not in response.text
    assert ".gguf" not in response.text
    assert "broken" in str(error["message"])
    assert scrub("cannot open /home/u/.local/share/enclave/models/x.gguf: denied") == "cannot open [path]: denied"
    assert scrub("see http://127.0.0.1:8765/v1/models") == "see http://127.0.0.1:8765/v1/models"


def test_request_log_records_requests_with_content(api: Api) -> None:
    api.client().post("/v1/chat/completions", json={**CHAT, "messages": [{"role": "user", "content": "log me"}]})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        entries = [e for e in api.vault.request_log.recent(50) if e.request_text and "log me" in e.request_text]
        if entries:
            break
        time.sleep(0.05)
    entry = entries[0]
    assert entry.key_name == "test" and entry.model == "tiny" and entry.status == 200
    assert entry.prompt_tokens > 0 and entry.completion_tokens > 0 and entry.latency_ms > 0
    assert entry.response_text is not None
