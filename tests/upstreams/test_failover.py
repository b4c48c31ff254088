"""Two upstreams serving one model: when the first stops, the second answers; errors never show where
an upstream lives or the key Enclave uses with it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from engine.upstreams import add_upstream
from tests.api.conftest import Api
from tests.upstreams.conftest import LlamaServer, client, free_port, log_count, logged_after

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def victim(tiny_gguf: Path) -> Iterator[LlamaServer]:
    """The first upstream of the pool; a test stops it."""
    server = LlamaServer(tiny_gguf, "tiny-up", f"sk-victim-{secrets.token_hex(16)}").start()
    yield server
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def pool(enclave: Api, victim: LlamaServer, upstream_a: LlamaServer) -> None:
    """`pool/tiny-up` on `first` (the victim) then `second`; plus a dead upstream and one with a wrong key."""
    for name, server in (("first", victim), ("second", upstream_a)):
        add_upstream(enclave.vault, name, server.url, api_key=server.api_key, models=["tiny-up"], prefix="pool/")
    dead = f"http://127.0.0.1:{free_port()}/v1"
    add_upstream(enclave.vault, "dead", dead, api_key="sk-dead-" + secrets.token_hex(8), models=["gone=tiny-up"])
    add_upstream(enclave.vault, "wrongkey", upstream_a.url, api_key="sk-wrong-" + secrets.token_hex(8),
                 models=["locked=tiny-up"])


def _secrets(enclave: Api, *servers: LlamaServer) -> list[str]:
    """Everything no client error may contain."""
    found = ["127.0.0.1", "localhost", "sk-"]
    for upstream in enclave.vault.settings.get("upstreams"):
        found += [upstream["url"], str(upstream["api_key"]), upstream["url"].split(":")[-1].split("/")[0]]
    return found


def _chat(enclave: Api, model: str, stream: bool = False) -> str:
    api = client(enclave)
    before = log_count(enclave)
    if stream:
        chunks = api.chat.completions.create(model=model, messages=HELLO, max_tokens=3, stream=True)  # type: ignore[arg-type]
        assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    else:
        api.chat.completions.create(model=model, messages=HELLO, max_tokens=3)  # type: ignore[arg-type]
    upstream = logged_after(enclave, before).upstream
    assert upstream is not None
    return upstream


def test_the_second_upstream_answers_when_the_first_is_stopped(enclave: Api, victim: LlamaServer) -> None:
    assert _chat(enclave, "pool/tiny-up") == "first"
    victim.stop()
    assert _chat(enclave, "pool/tiny-up") == "second"
    assert _chat(enclave, "pool/tiny-up", stream=True) == "second"


def test_no_reachable_upstream_is_a_503_naming_no_address(enclave: Api) -> None:
    before = log_count(enclave)
    with httpx.Client(base_url=enclave.server.url, headers={"Authorization": f"Bearer {enclave.key}"}) as http:
        response = http.post("/v1/chat/completions", json={"model": "gone", "messages": HELLO}, timeout=30)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert response.headers["retry-after"]
    for secret in _secrets(enclave):
        assert secret not in response.text
    assert logged_after(enclave, before).status == 503


def test_a_refused_upstream_key_is_a_502_without_the_key(enclave: Api) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(enclave).chat.completions.create(model="locked", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_auth"
    for secret in _secrets(enclave):
        assert secret not in str(caught.value.body)
    with pytest.raises(openai.APIStatusError) as streamed:
        client(enclave).chat.completions.create(model="locked", messages=HELLO, stream=True)  # type: ignore[arg-type]
    assert streamed.value.status_code == 502
