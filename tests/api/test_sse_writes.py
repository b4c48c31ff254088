"""SSE writes: the events of chunks that wait together go out in one write, byte for byte as before.

A real server on loopback over the tiny model. The server's event loop is held up (a blocking wait in
its ASGI send) after the first token's write while the model decodes on: the chunks made meanwhile must
reach the client in one write, and every endpoint's events must be the same as in an undisturbed run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.protocols.http import h11_impl

from engine.api.streaming import SLOTS, SseTemplate, sse
from engine.runtime.batch import BatchedModel
from tests.api.conftest import Api

# Fields that differ between two runs of the same request (ids, times).
_VARYING = {
    "id", "created", "created_at", "item_id", "completed_at", "content_id", "tokens_per_s",
    # The second run finds the prompt in the cache.
    "cached_prompt_tokens", "cached_tokens", "cache_read_input_tokens",
}


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("*" if k in _VARYING else _normal(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _events(body: bytes) -> list[Any]:
    """The stream's events: (event name, data) with the varying fields masked."""
    events = []
    for block in body.decode().split("\n\n"):
        if not block:
            continue
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        assert data is not None, block
        events.append((name, data if data == "[DONE]" else _normal(json.loads(data))))
    return events


@pytest.fixture()
def writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Every response body write of the server (ASGI send), and a switch that holds the loop up once."""
    state: dict[str, Any] = {"bodies": [], "hold": False, "steps": 0}
    original = h11_impl.RequestResponseCycle.send
    original_step = BatchedModel.step

    def step(self: BatchedModel) -> None:
        original_step(self)
        state["steps"] += 1

    async def send(self: Any, message: Any) -> None:
        await original(self, message)
        if message["type"] == "http.response.body" and message.get("body"):
            state["bodies"].append(message["body"])
            if state["hold"] and len(state["bodies"]) == 2:
                # The loop is busy (a blocking call) while the model decodes 12 more steps, however
                # loaded the machine is: 12 chunks or more wait for the loop.
                start, deadline = state["steps"], time.monotonic() + 10
                while state["steps"] < start + 12 and time.monotonic() < deadline:
                    time.sleep(0.005)

    monkeypatch.setattr(h11_impl.RequestResponseCycle, "send", send)
    monkeypatch.setattr(BatchedModel, "step", step)
    yield state


ENDPOINTS = {
    "completions": ("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 40}),
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Tell a story"}], "max_tokens": 40}),
    "messages": ("/v1/messages", {"messages": [{"role": "user", "content": "Tell a story"}], "max_tokens": 40}),
    "responses": ("/v1/responses", {"input": "Tell a story", "max_output_tokens": 40, "store": False}),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_waiting_chunks_go_out_in_one_write_with_the_same_events(
    api: Api, writes: dict[str, Any], endpoint: str
) -> None:
    path, body = ENDPOINTS[endpoint]
    request = {"model": "tiny", "stream": True, "temperature": 0, **body}
    if endpoint == "completions":
        request["stream_options"] = {"include_usage": True}

    def run(hold: bool) -> tuple[list[bytes], bytes]:
        writes["bodies"].clear()
        writes["hold"] = hold
        headers = {"x-api-key": api.key, "anthropic-version": "2023-06-01"}
        with api.client(**headers) as client, client.stream("POST", path, json=request) as response:
            assert response.status_code == 200
            received = response.read()
        return list(writes["bodies"]), received

    plain_writes, plain = run(False)
    held_writes, held = run(True)
    assert b"".join(plain_writes) == plain and b"".join(held_writes) == held
    # The same events, in the same order (ids and times aside).
    for a, b in zip(_events(held), _events(plain), strict=True):
        assert a == b
    # Held up, the chunks made meanwhile share a write. (Counted from the second write: when the model runs
    # ahead of a busy loop, those chunks already share the write during which the hold starts.)
    tokens_in = [len(_events(w)) for w in held_writes]
    assert max(tokens_in[1:], default=0) >= 10, tokens_in


@pytest.mark.parametrize(
    "text",
    ["", "plain", ' "quoted" \\ back', "line\nbreak\ttab\r\x00\x1f", "héllo 世界 🎉", "\u2028\u2029", "</script>"],
)
def test_a_template_gives_the_bytes_of_the_whole_event(text: str) -> None:
    data = {"id": "cmpl-1", "choices": [{"text": SLOTS[0], "index": 0, "logprobs": None}], "n": SLOTS[1]}
    template = SseTemplate(sse(data))
    assert template(text, 7) == sse({**data, "choices": [{**data["choices"][0], "text": text}], "n": 7})
    one = SseTemplate(sse({"delta": {"content": SLOTS[0]}, "finish_reason": None}))
    assert one(text) == sse({"delta": {"content": text}, "finish_reason": None})
