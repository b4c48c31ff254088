"""The endpoint driven by the official `openai` client: models, chat, streaming, JSON, tools, embeddings."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import openai
import pytest

from engine.api.grammar import schema_grammar
from engine.runtime import worker as worker_module
from tests.api.conftest import Api

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 12},
        "sunny": {"type": "boolean"},
        "level": {"enum": ["low", "high"]},
    },
    "required": ["city", "sunny", "level"],
    "additionalProperties": False,
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 10}, "days": {"enum": [1, 2, 3]}},
            "required": ["city", "days"],
        },
    },
}
HELLO = [{"role": "user", "content": "Say hello"}]
# The tiny model's weights are random: forbid its end-of-generation tokens (</s>, <|im_end|>) where a test
# needs at least one generated token.
NO_EOS = {"2": -100, "4": -100}


@pytest.fixture(scope="module")
def client(api: Api) -> openai.OpenAI:
    """The official client pointed at the test server."""
    return openai.OpenAI(base_url=api.base, api_key=api.key, max_retries=0, timeout=60)


def test_list_and_retrieve_models(client: openai.OpenAI) -> None:
    models = client.models.list().data
    assert [m.id for m in models] == ["tiny"]
    assert models[0].owned_by == "enclave" and models[0].created > 0
    assert client.models.retrieve("tiny").id == "tiny"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("nope")
    assert caught.value.code == "model_not_found"


def test_chat_plain(api: Api, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="tiny", messages=HELLO, max_tokens=12, seed=1, logit_bias=NO_EOS
    )
    assert raw.headers["x-enclave-ai-generated"] == "true"
    reply = raw.parse()
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and reply.model == "tiny"
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 12
    label = (reply.model_extra or {})["enclave_label"]
    assert label["producer"] == "Enclave" and label["model"] == "tiny" and len(label["model_sha256"]) == 64


def test_chat_content_parts_system_and_seed(client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [{"type": "text", "text": "Say"}, {"type": "text", "text": " hello"}]},
    ]
    first = client.chat.completions.create(model="tiny", messages=messages, max_tokens=10, seed=7, temperature=0.9)
    again = client.chat.completions.create(model="tiny", messages=messages, max_tokens=10, seed=7, temperature=0.9)
    assert first.choices[0].message.content == again.choices[0].message.content


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=20, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens <= 20
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    assert isinstance(text, str)


def test_chat_stop_and_logprobs(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=8, logprobs=True, top_logprobs=3, temperature=0.0, stop=["zzz", "qq"]
    )
    content = reply.choices[0].logprobs.content
    assert content and all(len(item.top_logprobs) == 3 and item.logprob <= 0 for item in content)
    assert "zzz" not in (reply.choices[0].message.content or "")


def test_chat_json_schema(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "Weather as JSON"}],
        max_tokens=120,
        seed=1,
        response_format={"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA}},
    )
    data = json.loads(reply.choices[0].message.content or "")
    assert set(data) == {"city", "sunny", "level"}
    # Random byte tokens can form invalid UTF-8 (decoded as U+FFFD, one per byte): count the rest.
    assert isinstance(data["city"], str) and len(data["city"].replace("\ufffd", "")) <= 12
    assert isinstance(data["sunny"], bool) and data["level"] in ("low", "high")


def test_schema_grammar_keeps_control_characters_out_of_strings() -> None:
    grammar = schema_grammar({"type": "object", "properties": {"a": {"type": "string"}}}, "response_format")
    char_rule = next(line for line in grammar.splitlines() if line.startswith("char ::="))
    assert "\\x00-\\x1F" in char_rule


def test_chat_json_object(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=200, seed=3, response_format={"type": "json_object"}
    )
    if reply.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_chat_forced_tool_call(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=80,
        seed=4,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    arguments = json.loads(call.function.arguments)
    assert isinstance(arguments["city"], str) and arguments["days"] in (1, 2, 3)


def test_chat_forced_tool_call_streamed(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=80,
        seed=5,
        stream=True,
    )
    chunks = list(stream)
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name == "get_weather"
    arguments = json.loads("".join(tc.function.arguments or "" for tc in calls))
    assert set(arguments) >= {"city", "days"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_history_is_accepted(client: openai.OpenAI) -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo","days":1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"sunny": true}'},
    ]
    reply = client.chat.completions.create(model="tiny", messages=messages, tools=[WEATHER_TOOL], max_tokens=8)
    assert reply.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_completions_plain_and_streamed(client: openai.OpenAI) -> None:
    reply = client.completions.create(
        model="tiny", prompt="Once upon a time", max_tokens=10, logprobs=2, logit_bias=NO_EOS
    )
    assert reply.object == "text_completion" and isinstance(reply.choices[0].text, str)
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 10
    assert reply.choices[0].logprobs is not None and len(reply.choices[0].logprobs.tokens or []) >= 1
    stream = client.completions.create(
        model="tiny", prompt="Once upon a time", max_tokens=10, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 10
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_embeddings_float_and_base64(client: openai.OpenAI) -> None:
    floats = client.embeddings.create(model="tiny", input=["hello world", "goodbye"], encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1]
    first = np.asarray(floats.data[0].embedding)
    assert first.shape == (64,) and abs(float(np.linalg.norm(first)) - 1.0) < 1e-4
    assert floats.usage.prompt_tokens > 0
    single = client.embeddings.create(model="tiny", input="hello world")
    assert np.allclose(single.data[0].embedding, first, atol=1e-5)
    # The SDK decodes base64 itself; ask for the raw bytes to check our encoding.
    raw = client.embeddings.with_raw_response.create(model="tiny", input="hello world", encoding_format="base64")
    encoded = json.loads(raw.text)["data"][0]["embedding"]
    decoded = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    assert np.allclose(decoded, first, atol=1e-5)


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="missing", messages=HELLO)
    assert caught.value.code == "model_not_found"
    assert caught.value.body["param"] == "model"  # type: ignore[index]


def test_streams_tell_the_model_when_the_first_chunk_is_out(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The model holds its next step until the first chunk is delivered, up to this limit: a stream that
    # never said so would take the whole five seconds.
    monkeypatch.setattr(worker_module, "FIRST_CHUNK_HANDOFF_S", 5.0)
    started = time.perf_counter()
    usage = {"include_usage": True}
    chat = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=5, stream=True, logit_bias=NO_EOS, stream_options=usage
    )
    assert list(chat)[-1].usage.completion_tokens == 5  # type: ignore[union-attr]
    text = client.completions.create(model="tiny", prompt="Once", max_tokens=5, stream=True, logit_bias=NO_EOS)
    assert any(c.choices and c.choices[0].finish_reason == "length" for c in text)
    whole = client.completions.create(model="tiny", prompt="Once", max_tokens=5, logit_bias=NO_EOS)
    assert whole.usage is not None and whole.usage.completion_tokens == 5
    assert time.perf_counter() - started < 4.0


def test_a_raw_transcript_has_its_framing_evaluated_between_turns(api: Api, client: openai.OpenAI) -> None:
    """A client keeping a /v1/completions transcript: once two turns have come back after a reply as it
    was produced, the framing they began with ("\\nUser: ") is evaluated while the client is away.

    Every reply is the end of turn at once: the tiny model's random text would not survive a round trip.
    """
    worker = api.runtime.load("tiny")
    transcript = "A transcript kept by the client, long enough for its cache to be kept too."
    evaluated = []
    for question in ("Why?", "Ask?", "Can?", "Did?"):  # the same length, nothing in common
        transcript += f"\nUser: {question}\nBot:"
        reply = client.completions.create(
            model="tiny", prompt=transcript, max_tokens=4, temperature=0, logit_bias={"2": 100}
        )
        assert reply.choices[0].text == "" and reply.choices[0].finish_reason == "stop"
        usage = reply.usage
        assert usage is not None and usage.prompt_tokens_details is not None
        evaluated.append(usage.prompt_tokens - (usage.prompt_tokens_details.cached_tokens or 0))
        deadline = time.monotonic() + 10
        while worker.call(lambda m: m.has_work_ahead) and time.monotonic() < deadline:
            time.sleep(0.01)
        transcript += reply.choices[0].text
    # The framing's tokens where it stands (a space before a word is part of the word's token).
    before, after = (len(worker.call(lambda m, t=t: m.tokenize(t))) for t in ("Bot:", "Bot:\nUser:"))
    assert evaluated[1] == evaluated[2]  # the whole new turn, framing included
    assert evaluated[2] - evaluated[3] == after - before > 0
