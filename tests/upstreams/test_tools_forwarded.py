"""Tools on a request routed to an upstream model: forwarded as the client sent them, and the upstream's
tool calls come back in the client's API shape (chat completions, streamed or not, and Anthropic's
Messages), through the official SDKs and a real Enclave server on loopback."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from engine.upstreams import add_upstream
from tests.api.conftest import Api
from tests.upstreams.conftest import client
from tests.upstreams.fake import FakeUpstream

WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK: Any = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture(scope="module", autouse=True)
def registered(enclave: Api, fake: FakeUpstream) -> None:
    """`fake` serves the model `fake`."""
    add_upstream(enclave.vault, "fake", fake.url, api_key=fake.api_key, models=["fake=fake-model"])


def test_chat_tools_are_forwarded_and_the_call_comes_back(enclave: Api, fake: FakeUpstream) -> None:
    openai_client = client(enclave)
    reply = openai_client.chat.completions.create(model="fake", messages=ASK, tools=[WEATHER], tool_choice="auto")
    sent = fake.last_body
    assert sent["tools"] == [WEATHER] and sent["tool_choice"] == "auto" and sent["model"] == "fake-model"
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and not choice.message.content
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    # Streamed: the same call, in OpenAI's chunk shape.
    names, arguments, finish = "", "", None
    for chunk in openai_client.chat.completions.create(model="fake", messages=ASK, tools=[WEATHER], stream=True):
        for delta_call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            names += (delta_call.function.name or "") if delta_call.function else ""
            arguments += (delta_call.function.arguments or "") if delta_call.function else ""
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert (names, json.loads(arguments), finish) == ("get_weather", {"city": "Paris"}, "tool_calls")


def test_anthropic_tools_reach_the_upstream_and_come_back_as_tool_use(enclave: Api, fake: FakeUpstream) -> None:
    claude = anthropic.Anthropic(base_url=enclave.server.url, api_key=enclave.key, max_retries=0)
    tool: Any = {"name": "get_weather", "description": "The weather in a city.",
                 "input_schema": WEATHER["function"]["parameters"]}
    message = claude.messages.create(model="fake", max_tokens=50, messages=ASK, tools=[tool])
    sent_tools: Any = fake.last_body["tools"]
    assert [t["function"]["name"] for t in sent_tools] == ["get_weather"]
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "Paris"}
