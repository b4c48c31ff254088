"""Per-key rules, the request queue cap and client disconnects, on a server with a slower model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from engine.api import ApiSettings
from engine.api.errors import from_exception
from engine.models import ModelRegistry
from engine.runtime import RuntimeBusy
from engine.vault.records import RequestLogEntry
from tests.api.conftest import Api, start_api, stop_api

LONG = 3000  # tokens: several seconds on the slow model unless cancelled


@pytest.fixture(scope="module")
def api(api_home: Path, tiny_gguf: Path, slow_gguf: Path) -> Iterator[Api]:
    """A server that admits two generation requests at a time, with the slow model registered too."""
    registry = ModelRegistry()
    registry.import_file(slow_gguf, "slow")
    running = start_api(api_home, tiny_gguf, ApiSettings(max_pending=2, retry_after_s=3))
    yield running
    stop_api(running)


def chat(model: str = "tiny", content: str = "hi", **extra: object) -> dict[str, object]:
    """A chat request body."""
    return {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 4, **extra}


def long_stream(content: str) -> dict[str, object]:
    """A streamed request that runs for seconds: end-of-generation tokens (</s> 2, <|im_end|> 4) are never sampled."""
    return chat(
        "slow",
        content,
        max_tokens=LONG,
        stream=True,
        temperature=1.0,
        top_k=0,
        min_p=0.0,
        logit_bias={"2": -100, "4": -100},
    )


def wait_for_log(api: Api, marker: str, timeout: float = 10.0) -> RequestLogEntry:
    """The request-log entry whose prompt contains `marker` (it is written when the request ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in api.vault.request_log.recent(100):
            if entry.request_text and marker in entry.request_text:
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no request-log entry for {marker!r}")


def test_model_not_allowed_for_key_is_403_and_hidden(api: Api) -> None:
    _, secret = api.vault.api_keys.create("slow-only", models=["slow"])
    client = api.client(secret)
    response = client.post("/v1/chat/completions", json=chat("tiny"))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "model_not_allowed" and error["type"] == "permission_error"
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["slow"]
    assert client.get("/v1/models/tiny").status_code == 403
    sdk = openai.OpenAI(base_url=api.base, api_key=secret, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        sdk.embeddings.create(model="tiny", input="x")


def test_requests_per_minute_is_429_with_retry_after(api: Api) -> None:
    _, secret = api.vault.api_keys.create("rpm", rpm=2)
    client = api.client(secret)
    assert [client.get("/v1/models").status_code for _ in range(2)] == [200, 200]
    response = client.get("/v1/models")
    assert response.status_code == 429 and response.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert api.client().get("/v1/models").status_code == 200  # other keys are unaffected


def test_tokens_per_day_is_429_with_retry_after(api: Api) -> None:
    _, secret = api.vault.api_keys.create("budget", tokens_per_day=30)
    client = api.client(secret)
    first = client.post("/v1/chat/completions", json=chat(max_tokens=100))
    assert first.status_code == 200
    assert first.json()["usage"]["total_tokens"] <= 30 + first.json()["usage"]["prompt_tokens"]
    deadline = time.monotonic() + 5
    while (response := client.post("/v1/chat/completions", json=chat())).status_code == 200:
        assert time.monotonic() < deadline, "the daily budget was never enforced"
    assert response.status_code == 429 and response.json()["error"]["code"] == "tokens_per_day_exceeded"
    assert int(response.headers["retry-after"]) >= 1


def test_no_store_key_logs_no_content(api: Api) -> None:
    _, secret = api.vault.api_keys.create("private", store_content=False)
    api.client(secret).post("/v1/chat/completions", json=chat(content="secret words"))
    api.client().post("/v1/chat/completions", json=chat(content="public words"))
    wait_for_log(api, "public words")
    private = [e for e in api.vault.request_log.recent(100) if e.key_name == "private"]
    assert private and private[0].request_text is None and private[0].response_text is None
    assert private[0].status == 200 and private[0].prompt_tokens > 0


def test_client_disconnect_cancels_the_generation(api: Api) -> None:
    started = time.monotonic()
    with api.client() as client, client.stream("POST", "/v1/chat/completions", json=long_stream("disconnect-1")) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")
        # Leaving the block closes the connection after one chunk.
    entry = wait_for_log(api, "disconnect-1")
    assert entry.status == 499 and entry.completion_tokens < LONG
    # The worker is free again at once: a new request is served well before LONG tokens could finish.
    reply = api.client().post("/v1/chat/completions", json=chat("slow", max_tokens=5))
    assert reply.status_code == 200
    assert time.monotonic() - started < 5


def test_full_queue_is_429_with_retry_after(api: Api) -> None:
    with (
        api.client() as c1,
        api.client() as c2,
        c1.stream("POST", "/v1/chat/completions", json=long_stream("queue-1")) as first,
        c2.stream("POST", "/v1/chat/completions", json=long_stream("queue-2")) as second,
    ):
        assert first.status_code == 200 and second.status_code == 200
        response = api.client().post("/v1/chat/completions", json=chat())
        assert response.status_code == 429 and response.headers["retry-after"] == "3"
        assert response.json()["error"]["code"] == "server_busy"
    assert wait_for_log(api, "queue-2").status == 499
    assert api.client().post("/v1/chat/completions", json=chat()).status_code == 200


def test_runtime_queue_full_maps_to_429() -> None:
    error = from_exception(RuntimeBusy("model 'x' has too many requests waiting"))
    assert error.status == 429 and error.headers["Retry-After"]


def test_a_chat_request_without_max_tokens_gets_the_default_cap() -> None:
    from engine.api.convert import generation_params
    from engine.api.schemas import ChatCompletionRequest, CompletionRequest

    chat = ChatCompletionRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert generation_params(chat, ApiSettings()).max_tokens == 512
    assert generation_params(chat, ApiSettings(default_max_tokens=64)).max_tokens == 64
    asked = chat.model_copy(update={"max_tokens": 1000})
    assert generation_params(asked, ApiSettings(default_max_tokens=64)).max_tokens == 1000  # asked: honoured
    text = CompletionRequest.model_validate({"model": "m", "prompt": "hi"})
    assert generation_params(text, ApiSettings()).max_tokens == 16  # OpenAI's default for completions
