"""Anthropic's Messages and OpenAI's Responses routes over an upstream model (the scripted upstream):
its separate thinking becomes thinking blocks / reasoning items, and a failure mid-stream ends the stream
with the API's own error event, scrubbed."""

from __future__ import annotations

import json

import anthropic
import pytest

from engine.upstreams import add_upstream
from tests.api.conftest import Api
from tests.upstreams.conftest import client, log_count, logged_after
from tests.upstreams.fake import FakeUpstream


@pytest.fixture(scope="module", autouse=True)
def registered(enclave: Api, fake: FakeUpstream) -> None:
    """`fake` serves the model `fake`."""
    add_upstream(enclave.vault, "fake", fake.url, api_key=fake.api_key, models=["fake=fake-model"])


def _events(enclave: Api, path: str, body: dict[str, object]) -> list[tuple[str, dict[str, object]]]:
    with enclave.client() as http, http.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        blocks = response.read().decode().strip().split("\n\n")
    pairs = []
    for block in blocks:
        name, data = block.split("\n", 1)
        pairs.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return pairs


def test_thinking_blocks_from_an_upstream_reasoning_model(enclave: Api, fake: FakeUpstream) -> None:
    claude = anthropic.Anthropic(base_url=enclave.server.url, api_key=enclave.key, max_retries=0)
    think = [{"role": "user", "content": "think"}]
    deltas = []
    with claude.messages.stream(model="fake", max_tokens=50, messages=think) as stream:  # type: ignore[arg-type]
        for event in stream:
            if event.type == "content_block_delta":
                deltas.append(event.delta.type)
        final = stream.get_final_message()
    assert deltas[0] == "thinking_delta" and deltas[-1] == "text_delta"
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Let me see. Yes." and final.content[1].text == "It is so."  # type: ignore[union-attr]
    fake.gate.set()  # its plain stream runs to the end at once
    plain = claude.messages.create(model="fake", max_tokens=5, messages=[{"role": "user", "content": "hello"}])
    assert plain.content[0].text == "first second" and plain.stop_reason == "end_turn"  # type: ignore[union-attr]
    quiet = {"model": "fake", "max_tokens": 50, "messages": think, "stream": True, "thinking": {"type": "disabled"}}
    hidden = _events(enclave, "/v1/messages", quiet)
    assert all(data.get("delta", {}).get("type") != "thinking_delta" for _, data in hidden)  # type: ignore[union-attr]


def test_reasoning_items_from_an_upstream_reasoning_model(enclave: Api) -> None:
    events = list(client(enclave).responses.create(model="fake", input="think", stream=True, store=False))
    reasoning = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert reasoning == "Let me see. Yes." and final.output_text == "It is so."
    assert [item.type for item in final.output] == ["reasoning", "message"]


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/responses"])
def test_an_upstream_failing_mid_stream_ends_with_the_apis_error_event(
    enclave: Api, fake: FakeUpstream, path: str
) -> None:
    before = log_count(enclave)
    body: dict[str, object] = {"model": "fake", "stream": True}
    if path == "/v1/messages":
        body |= {"max_tokens": 20, "messages": [{"role": "user", "content": "break"}]}
    else:
        body |= {"input": "break"}
    events = _events(enclave, path, body)
    name, data = events[-1]
    assert name == "error"
    text = json.dumps(data)
    assert "ran out of memory" in text
    if path == "/v1/messages":
        assert data["error"]["type"] == "api_error"  # type: ignore[index]
    for secret in (fake.api_key, fake.url, str(fake.port)):
        assert secret not in json.dumps(events)
    entry = logged_after(enclave, before)
    assert (entry.upstream, entry.response_text) == ("fake", "first")
