"""Anthropic's Messages API through the official `anthropic` SDK against a real server on loopback."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from tests.api.conftest import Api
from tests.api.test_limits import wait_for_log

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 10}, "days": {"enum": [1, 2, 3]}},
        "required": ["city", "days"],
    },
}
FORCED: Any = {"type": "tool", "name": "get_weather"}
HELLO: list[Any] = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def client(api: Api) -> anthropic.Anthropic:
    """The official SDK pointed at the test server (it sends x-api-key and anthropic-version)."""
    return anthropic.Anthropic(base_url=api.server.url, api_key=api.key, max_retries=0, timeout=60)


def test_plain_message(api: Api, client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model="tiny",
        max_tokens=8,
        system="You are terse.",
        messages=[{"role": "user", "content": "Say hello, Claude"}],
        extra_body={"temperature": 0.0, "top_k": 5, "top_p": 0.9},  # this SDK version has no sampling kwargs
    )
    assert raw.headers["x-enclave-ai-generated"] == "true"
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant" and message.model == "tiny"
    assert message.id.startswith("msg_")
    assert all(block.type == "text" for block in message.content)
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens <= 8
    assert (message.model_extra or {})["enclave_label"]["model"] == "tiny"
    # The request is logged under the key, as every route's requests are.
    logged = wait_for_log(api, "Say hello, Claude")
    assert logged.key_name == "test" and logged.model == "tiny" and logged.prompt_tokens == message.usage.input_tokens


def test_system_blocks_and_multi_turn(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model="tiny",
        max_tokens=4,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Again"},
        ],
        stop_sequences=["zz"],
    )
    assert message.usage.output_tokens <= 4


def test_structured_output(client: anthropic.Anthropic) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    message = client.messages.create(
        model="tiny",
        max_tokens=30,
        messages=HELLO,
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    if message.stop_reason == "end_turn":
        assert isinstance(json.loads(message.content[0].text)["ok"], bool)  # type: ignore[union-attr]


def test_a_stop_sequence_that_ends_the_reply_is_named(client: anthropic.Anthropic) -> None:
    # The schema makes the reply open with "{", so the client's stop sequence "{" ends it at once.
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    request: dict[str, Any] = {
        "model": "tiny",
        "max_tokens": 30,
        "messages": HELLO,
        "stop_sequences": ["never-seen", "{"],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }
    message = client.messages.create(**request)
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "{")
    with client.messages.stream(**request) as stream:
        for _ in stream:
            pass
        final = stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "{")
    # Without the stop sequence the same reply runs on: the reason is the model's or the length's.
    request["stop_sequences"] = ["never-seen"]
    assert client.messages.create(**request).stop_sequence is None


def test_streaming_event_sequence(api: Api, client: anthropic.Anthropic) -> None:
    names = []
    started_with = -1
    with client.messages.stream(model="tiny", max_tokens=6, messages=HELLO) as stream:
        for event in stream:
            names.append(event.type)
            if event.type == "message_start":
                started_with = event.message.usage.input_tokens
        final = stream.get_final_message()
    # message_start already counts the prompt, as the reply's final usage and count_tokens do.
    assert started_with == final.usage.input_tokens > 0
    assert started_with == client.messages.count_tokens(model="tiny", messages=HELLO).input_tokens
    assert names[:2] == ["message_start", "ping"] or names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert final.stop_reason in ("end_turn", "max_tokens") and final.usage.output_tokens <= 6
    # The raw stream, as a client without the SDK reads it: `event:` names and the data's type agree.
    body = {"model": "tiny", "max_tokens": 6, "messages": HELLO, "stream": True}
    with httpx.Client(base_url=api.server.url, headers={"x-api-key": api.key}, timeout=30) as http:
        response = http.post("/v1/messages", json=body)
    events = [block.split("\n") for block in response.text.strip().split("\n\n")]
    for lines in events:
        assert lines[0].startswith("event: ") and json.loads(lines[1].removeprefix("data: "))["type"] == lines[0][7:]
    order = [lines[0][7:] for lines in events]
    assert order[:2] == ["message_start", "ping"] and order[-2:] == ["message_delta", "message_stop"]
    starts, stops = order.count("content_block_start"), order.count("content_block_stop")
    assert starts == stops and (starts == 0 or order.count("content_block_delta") >= 1)


def test_tool_round_trip(client: anthropic.Anthropic) -> None:
    asked: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(
        model="tiny", max_tokens=60, messages=asked, tools=[WEATHER], tool_choice=FORCED
    )
    assert first.stop_reason == "tool_use"  # the grammar bounds the call well within 60 tokens
    (call,) = first.content
    assert call.type == "tool_use" and call.name == "get_weather" and call.id.startswith("toolu_")
    assert set(call.input) >= {"city", "days"} and call.input["days"] in (1, 2, 3)
    second = client.messages.create(
        model="tiny",
        max_tokens=5,
        tools=[WEATHER],
        messages=[
            *asked,
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}]},
        ],
    )
    assert second.role == "assistant" and second.stop_reason in ("end_turn", "max_tokens", "tool_use")


def test_streamed_tool_use(client: anthropic.Anthropic) -> None:
    kinds = []
    with client.messages.stream(
        model="tiny", max_tokens=60, messages=HELLO, tools=[WEATHER], tool_choice=FORCED
    ) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                kinds.append(event.delta.type)
        final = stream.get_final_message()
    assert kinds and set(kinds) == {"input_json_delta"}
    (block,) = final.content
    assert block.type == "tool_use" and block.name == "get_weather"
    assert final.stop_reason == "tool_use" and "city" in block.input


def test_count_tokens(client: anthropic.Anthropic) -> None:
    plain = client.messages.count_tokens(model="tiny", messages=HELLO)
    with_tools = client.messages.count_tokens(model="tiny", messages=HELLO, tools=[WEATHER], system="Be brief.")
    assert 0 < plain.input_tokens < with_tools.input_tokens
    reply = client.messages.create(model="tiny", max_tokens=1, messages=HELLO)
    assert reply.usage.input_tokens == plain.input_tokens


def test_errors_in_anthropic_shape(api: Api, client: anthropic.Anthropic) -> None:
    wrong = anthropic.Anthropic(base_url=api.server.url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        wrong.messages.create(model="tiny", max_tokens=5, messages=HELLO)
    assert caught.value.status_code == 401
    error: Any = caught.value.body
    assert error["type"] == "error" and set(error["error"]) == {"type", "message"}
    assert error["error"]["type"] == "authentication_error" and "x-api-key" in error["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model="tiny", max_tokens=0, messages=HELLO)
    body: Any = bad.value.body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="nope", max_tokens=5, messages=HELLO)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError):  # images are not for a local text model
        client.messages.create(
            model="tiny",
            max_tokens=5,
            messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "http://x"}}]}],
        )
    # Bearer works too (Claude Code's ANTHROPIC_AUTH_TOKEN); the OpenAI routes keep OpenAI's shape.
    bearer = anthropic.Anthropic(base_url=api.server.url, auth_token=api.key, max_retries=0)
    assert bearer.messages.count_tokens(model="tiny", messages=HELLO).input_tokens > 0
    with httpx.Client(base_url=api.server.url, timeout=30) as http:
        openai_shape = http.post("/v1/chat/completions", json={})
    assert set(openai_shape.json()["error"]) == {"message", "type", "param", "code"}


def test_rate_limit_and_body_cap_in_anthropic_shape(api: Api) -> None:
    _, secret = api.vault.api_keys.create("anthropic-rpm", rpm=1)
    limited = anthropic.Anthropic(base_url=api.server.url, api_key=secret, max_retries=0)
    limited.messages.count_tokens(model="tiny", messages=HELLO)
    with pytest.raises(anthropic.RateLimitError) as caught:
        limited.messages.count_tokens(model="tiny", messages=HELLO)
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    _, narrow = api.vault.api_keys.create("anthropic-narrow", models=["other"])
    with pytest.raises(anthropic.PermissionDeniedError) as refused:  # the key's model rule holds here too
        anthropic.Anthropic(base_url=api.server.url, api_key=narrow, max_retries=0).messages.create(
            model="tiny", max_tokens=1, messages=HELLO
        )
    assert refused.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    huge = {"model": "tiny", "max_tokens": 1, "messages": [{"role": "user", "content": "x" * (5 * 1024 * 1024)}]}
    with httpx.Client(base_url=api.server.url, headers={"x-api-key": api.key}, timeout=30) as http:
        response = http.post("/v1/messages", json=huge)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


def test_a_full_queue_is_overloaded_on_anthropic_routes_only() -> None:
    from engine.api.errors import ApiError, for_path

    busy = ApiError(429, "the server has too many requests in progress", code="server_busy")
    status, body = for_path(busy, "/v1/messages")
    assert status == 529 and json.loads(body)["error"]["type"] == "overloaded_error"
    status, body = for_path(busy, "/v1/chat/completions")
    assert status == 429 and json.loads(body)["error"]["code"] == "server_busy"
    limited = ApiError(429, "over this key's requests per minute", code="rate_limited")
    assert for_path(limited, "/v1/messages/count_tokens")[0] == 429
