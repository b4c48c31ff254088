"""OpenAI's Responses API through the official `openai` client's `responses` against a real server."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.api.conftest import Api
from tests.api.test_limits import wait_for_log
from tests.vault.test_canary import _leaks

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 10}, "days": {"enum": [1, 2, 3]}},
        "required": ["city", "days"],
    },
}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 12}, "sunny": {"type": "boolean"}},
    "required": ["city", "sunny"],
    "additionalProperties": False,
}
NO_EOS = {"logit_bias": {"2": -100, "4": -100}}  # not a Responses field: ignored (the tiny model may stop at once)


@pytest.fixture(scope="module")
def client(api: Api) -> openai.OpenAI:
    """The official client pointed at the test server."""
    return openai.OpenAI(base_url=api.base, api_key=api.key, max_retries=0, timeout=60)


def test_plain_text_input(api: Api, client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model="tiny", input="Say hello plainly", instructions="Be terse.", max_output_tokens=8, store=False
    )
    assert raw.headers["x-enclave-ai-generated"] == "true"
    response = raw.parse()
    assert response.object == "response" and response.model == "tiny" and response.id.startswith("resp_")
    assert response.status in ("completed", "incomplete") and response.store is False
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens <= 8
    assert isinstance(response.output_text, str)
    assert all(item.type == "message" for item in response.output)
    with pytest.raises(openai.NotFoundError):  # store=False: nothing kept
        client.responses.retrieve(response.id)
    logged = wait_for_log(api, "Say hello plainly")
    assert logged.model == "tiny" and logged.prompt_tokens == response.usage.input_tokens


def test_items_input(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="tiny",
        input=[
            {"role": "developer", "content": "Be brief."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Again"},
        ],
        max_output_tokens=4,
        temperature=0.5,
        store=False,
    )
    assert response.usage is not None and response.usage.output_tokens <= 4


def test_streaming_events(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="tiny", input="Say hello", max_output_tokens=6, stream=True))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert [event.sequence_number for event in events] == list(range(len(events)))
    final = events[-1].response  # type: ignore[union-attr]
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert final.output_text == text
    if text:
        expected = ["response.output_item.added", "response.content_part.added", "response.output_text.delta"]
        assert [k for k in kinds if k in expected][:3] == expected
        closing = ["response.output_text.done", "response.content_part.done", "response.output_item.done"]
        assert [k for k in kinds if k in closing] == closing
    # A stored streamed response reads back the same.
    assert client.responses.retrieve(final.id).output_text == text


def test_function_tool_round_trip(client: openai.OpenAI) -> None:
    first = client.responses.create(
        model="tiny",
        input="Weather in Paris?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        max_output_tokens=60,
    )
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    assert first.status == "completed"  # the grammar bounds the call well within 60 tokens
    arguments = json.loads(call.arguments)
    assert set(arguments) >= {"city", "days"} and arguments["days"] in (1, 2, 3)
    second = client.responses.create(
        model="tiny",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"},
        ],
        tools=[WEATHER],
        max_output_tokens=5,
    )
    assert second.status in ("completed", "incomplete")
    # The same, continuing the stored first response instead of repeating its items.
    third = client.responses.create(
        model="tiny",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"}],
        tools=[WEATHER],
        max_output_tokens=5,
    )
    assert third.usage is not None and second.usage is not None
    assert third.usage.input_tokens == second.usage.input_tokens  # the same conversation reached the model


def test_streamed_function_call(client: openai.OpenAI) -> None:
    events = list(
        client.responses.create(
            model="tiny",
            input="Weather?",
            tools=[WEATHER],
            tool_choice={"type": "function", "name": "get_weather"},
            max_output_tokens=60,
            stream=True,
        )
    )
    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    done = next(event for event in events if event.type == "response.function_call_arguments.done")
    deltas = "".join(event.delta for event in events if event.type == "response.function_call_arguments.delta")
    assert done.arguments == deltas
    (item,) = events[-1].response.output  # type: ignore[union-attr]
    assert item.type == "function_call" and item.arguments == deltas


def test_json_schema_output(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="tiny",
        input="Weather as JSON",
        text={"format": {"type": "json_schema", "name": "weather", "schema": SCHEMA, "strict": True}},
        max_output_tokens=60,
    )
    assert response.text.format.type == "json_schema"  # type: ignore[union-attr]
    if response.status == "completed":
        data = json.loads(response.output_text)
        assert set(data) == {"city", "sunny"} and isinstance(data["sunny"], bool) and isinstance(data["city"], str)
    with pytest.raises(openai.BadRequestError) as caught:  # a schema the grammar path refuses
        client.responses.create(
            model="tiny",
            input="x",
            text={"format": {"type": "json_schema", "name": "bad", "schema": {"$ref": "http://example.com/s.json"}}},
        )
    assert caught.value.code == "invalid_schema"


def test_stored_continued_retrieved_deleted(api: Api, client: openai.OpenAI) -> None:
    first = client.responses.create(model="tiny", input="My name is Ada.", max_output_tokens=5)
    assert first.store is True
    again = client.responses.retrieve(first.id)
    assert again.id == first.id and again.output_text == first.output_text
    follow = client.responses.create(
        model="tiny", input="What is my name?", previous_response_id=first.id, max_output_tokens=5
    )
    assert follow.previous_response_id == first.id
    assert follow.usage is not None and first.usage is not None
    alone = client.responses.create(model="tiny", input="What is my name?", max_output_tokens=1, store=False)
    assert alone.usage is not None
    assert follow.usage.input_tokens > alone.usage.input_tokens  # the earlier turn went to the model again
    # Another key sees none of it.
    other = openai.OpenAI(base_url=api.base, api_key=api.vault.api_keys.create("other")[1], max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(first.id)
    with pytest.raises(openai.BadRequestError) as caught:
        other.responses.create(model="tiny", input="x", previous_response_id=first.id, max_output_tokens=2)
    assert caught.value.param == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(first.id)
    stored = api.vault.responses.count()
    client.responses.delete(first.id)
    assert api.vault.responses.count() == stored - 1
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(first.id)


def test_no_store_key_keeps_nothing(api: Api) -> None:
    _, secret = api.vault.api_keys.create("nostore", store_content=False)
    quiet = openai.OpenAI(base_url=api.base, api_key=secret, max_retries=0)
    stored = api.vault.responses.count()
    response = quiet.responses.create(model="tiny", input="secret", max_output_tokens=2)
    assert response.store is False and api.vault.responses.count() == stored


def test_refusals(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:  # file_search works: tests/documents/test_vector_stores.py
        client.responses.create(model="tiny", input="x", tools=[{"type": "file_search", "vector_store_ids": ["vs_1"]}])
    assert "no vector store 'vs_1'" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="tiny", input=[{"role": "user", "content": [{"type": "input_image"}]}])
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="nope", input="x")
    with pytest.raises(openai.BadRequestError) as empty:  # reasoning items only: nothing the model is shown
        client.responses.create(model="tiny", input=[{"type": "reasoning", "summary": [], "content": []}])  # type: ignore[list-item]
    assert "input holds nothing to answer" in empty.value.message
    body: dict[str, Any] = {"type": "function", "name": "nope"}
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="tiny", input="x", tools=[WEATHER], tool_choice=body)  # type: ignore[arg-type]


def test_canary_through_messages_and_responses(api: Api, api_home: Path, client: openai.OpenAI) -> None:
    """Text sent through both routes (logged, stored, continued) is never in any file in clear."""
    tag = secrets.token_hex(6)
    canaries = [f"CANARY-{tag}", f"金丝雀{tag}"]
    text = " ".join(canaries)
    first = client.responses.create(model="tiny", input=text, instructions=text, max_output_tokens=3)
    client.responses.create(model="tiny", input=text, previous_response_id=first.id, max_output_tokens=3, stream=True)
    claude = anthropic.Anthropic(base_url=api.server.url, api_key=api.key, max_retries=0)
    claude.messages.create(model="tiny", max_tokens=3, system=text, messages=[{"role": "user", "content": text}])
    claude.messages.count_tokens(model="tiny", messages=[{"role": "user", "content": text}])
    assert api.vault.responses.count() >= 2
    assert tag in (wait_for_log(api, tag).request_text or "")  # the control: it was kept, encrypted
    assert _leaks(api_home, canaries) == []
