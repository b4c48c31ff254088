"""Tool calling: tools shown in a template's own syntax where it has one, and calls read back in the
shapes models write them (one or several), through the official `openai` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from engine.api.grammar import OutputPlan, tool_instructions
from engine.api.schemas import Tool
from engine.api.tool_calls import ToolCalls, read_tool_calls
from engine.models import ModelRegistry
from engine.models.call_syntax import AnswerGate
from engine.models.template_input import ToolOffer, prepare_messages
from engine.models.templates import ChatTemplate, render_chat
from tests.api.conftest import Api
from tests.tiny_gguf import write_tiny_gguf

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
# A ChatML template with Hermes/Qwen-style tool syntax, as Qwen 2.5 GGUFs carry (shortened).
TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n# Tools\n<tools>\n{% for t in tools %}{{ t | tojson }}\n{% endfor %}"
    "</tools><|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.tool_calls %}{% for c in m.tool_calls %}"
    "<tool_call>\n{{ c.function | tojson }}\n</tool_call>{% endfor %}{% else %}{{ m.content }}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ASK = [{"role": "user", "content": "Weather in Paris?"}]
# Tool syntax that fails on some conversations (here: more than two messages).
FUSSY_TEMPLATE = "{% if tools and messages | length > 2 %}{{ raise_exception('too long') }}{% endif %}" + TOOLS_TEMPLATE
# Like Gemma 2's: no system role, and turns must alternate (so no tool messages either).
STRICT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate') }}{% endif %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def plan(*tools: dict[str, object]) -> OutputPlan:
    return OutputPlan(tools_offered=tuple(Tool.model_validate(t) for t in tools))


# -- reading calls back ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}', ToolCalls((("get_weather", '{"city": "Paris"}'),))),
        ('{"name": "get_weather", "parameters": {"city": "Oslo"}}', ToolCalls((("get_weather", '{"city": "Oslo"}'),))),
        (
            '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Rome"}}, '
            '{"name": "get_time", "arguments": {}}]',
            ToolCalls((("get_weather", '{"city": "Rome"}'), ("get_time", "{}"))),
        ),
        (
            'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Kyiv"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>',
            ToolCalls((("get_weather", '{"city": "Kyiv"}'), ("get_time", "{}")), "Let me check."),
        ),
        (  # cut off before the closing tag (a stop sequence, or max_tokens at the very end)
            '<tool_call>\n{"name": "get_time", "arguments": {}}',
            ToolCalls((("get_time", "{}"),)),
        ),
        ('<|python_tag|>{"name": "get_time", "arguments": "{}"}', ToolCalls((("get_time", "{}"),))),
        (  # Qwen3-Coder and Qwen 3.5: parameters as XML, strings bare
            "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n</tool_call>",
            ToolCalls((("get_weather", '{"city": "Oslo"}'),)),
        ),
        (  # the closing tag inside an argument is text, not the end of the block
            '<tool_call>{"name": "get_weather", "arguments": {"city": "a</tool_call>b"}}</tool_call>',
            ToolCalls((("get_weather", '{"city": "a</tool_call>b"}'),)),
        ),
        (
            '{"name": "get_weather", "arguments": {"city": "<tool_call>"}}',
            ToolCalls((("get_weather", '{"city": "<tool_call>"}'),)),
        ),
        ('{"name": "get_time", "arguments": "{\\"tz\\": \\"UTC\\"}"}', ToolCalls((("get_time", '{"tz": "UTC"}'),))),
        ("[TOOL_CALLS]get_time{}", ToolCalls((("get_time", "{}"),))),
        (  # Mistral's [TOOL_CALLS]name[ARGS]{…} with its special tokens left out
            'get_weather{"city": "Bern"} get_time{}',
            ToolCalls((("get_weather", '{"city": "Bern"}'), ("get_time", "{}"))),
        ),
    ],
)
def test_calls_are_read_in_the_shapes_models_write(reply: str, expected: ToolCalls) -> None:
    assert read_tool_calls(reply, plan(WEATHER, TIME)) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "It is sunny in Paris.",
        '{"name": "delete_everything", "arguments": {}}',  # not offered
        '[{"name": "get_time", "arguments": {}}, {"name": "rm", "arguments": {}}]',  # one of them not offered
        '<tool_call>{"name": "get_time", "arguments": {}}</tool_call> and then some prose',
        "<tool_call>not json</tool_call>",
        "[]",
        '{"arguments": {}}',
        "get_time{} and that is all",
        '{"name": "get_time", "arguments": null}',  # clients parse arguments as a JSON object
        '{"name": "get_time", "arguments": "not json"}',
        'rm{"path": "/"}',
        "get_time{not json}",
    ],
)
def test_anything_else_is_an_answer(reply: str) -> None:
    assert read_tool_calls(reply, plan(WEATHER, TIME)) is None


def test_without_parallel_calls_only_the_first_is_kept() -> None:
    reply = '[{"name": "get_time", "arguments": {}}, {"name": "get_weather", "arguments": {"city": "Lima"}}]'
    assert read_tool_calls(reply, plan(WEATHER, TIME), parallel=False) == ToolCalls((("get_time", "{}"),))


def stream_through(gate: AnswerGate, pieces: list[str]) -> list[str]:
    return [gate.feed(piece) for piece in pieces]


def test_an_answer_streams_while_tools_are_offered() -> None:
    gate = AnswerGate(["get_time", "get_weather"])
    assert stream_through(gate, ["Sun", "ny in ", "Paris", " a < b", ", x <", " y."]) == [
        "Sun",
        "ny in ",
        "Paris",
        " a < b",
        ", x ",
        "< y.",
    ]
    assert gate.rest(None) == ""


@pytest.mark.parametrize(
    "pieces",
    [
        ['  {"name": "get_time",', ' "arguments": {}}'],
        ["[TOOL", '_CALLS] [{"name": "get_time", "arguments": {}}]'],
        ["get_", "time{}"],
    ],
)
def test_a_reply_that_opens_like_a_call_is_held_until_it_is_read(pieces: list[str]) -> None:
    gate = AnswerGate(["get_time"])
    assert stream_through(gate, pieces) == ["", ""]
    calls = read_tool_calls("".join(pieces), plan(TIME))
    assert calls == ToolCalls((("get_time", "{}"),)) and gate.rest(calls.content or "") == ""


def test_text_before_calls_streams_and_the_calls_do_not() -> None:
    gate = AnswerGate(["get_time"])
    pieces = ["Let me check.\n<tool", '_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>']
    assert stream_through(gate, pieces) == ["Let me check.\n", ""]
    calls = read_tool_calls("".join(pieces), plan(TIME))
    assert calls == ToolCalls((("get_time", "{}"),), "Let me check.") and gate.rest(calls.content or "") == ""


def test_held_text_that_is_no_call_after_all_comes_out_at_the_end() -> None:
    gate = AnswerGate(["get_time"])
    reply = ["get_", "ting late.", " <tool_call>oops"]
    assert stream_through(gate, reply) == ["", "get_ting late.", " "]
    assert read_tool_calls("".join(reply), plan(TIME)) is None and gate.rest(None) == "<tool_call>oops"


# -- through the server ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    """The official client; the server also has "tiny-tools", a tiny model whose GGUF carries a template
    with tool syntax (as Qwen 2.5's do), and "tiny-strict", whose template refuses system and tool turns."""
    folder = tmp_path_factory.mktemp("models")
    ModelRegistry().import_file(write_tiny_gguf(folder / "tools.gguf", chat_template=TOOLS_TEMPLATE), "tiny-tools")
    ModelRegistry().import_file(write_tiny_gguf(folder / "strict.gguf", chat_template=STRICT_TEMPLATE), "tiny-strict")
    ModelRegistry().import_file(write_tiny_gguf(folder / "fussy.gguf", chat_template=FUSSY_TEMPLATE), "tiny-fussy")
    yield openai.OpenAI(base_url=api.base, api_key=api.key, max_retries=0, timeout=60)


def shown_tokens(api: Api, messages: list[dict[str, object]], **extra: object) -> int:
    """Tokens the template writes for `extra` (tools) beyond the same messages without it."""
    template = ChatTemplate(TOOLS_TEMPLATE, "override", ())
    with_extra = render_chat(template, messages, extra=extra)
    without = render_chat(template, messages)
    return api.runtime.count_tokens(with_extra, model="tiny-tools") - api.runtime.count_tokens(
        without, model="tiny-tools"
    )


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_a_template_with_tool_syntax_is_shown_the_tools_in_it(api: Api, client: openai.OpenAI, choice: str) -> None:
    bare = client.chat.completions.create(model="tiny-tools", messages=ASK, max_tokens=1)
    offered = client.chat.completions.create(
        model="tiny-tools",
        messages=ASK,
        tools=[WEATHER, TIME],
        tool_choice=choice,
        max_tokens=40,
        seed=1,
    )
    assert bare.usage and offered.usage
    # Exactly the template's own tool block, and no system note besides.
    expected = shown_tokens(api, ASK, tools=[WEATHER, TIME])
    assert expected > 50
    assert offered.usage.prompt_tokens - bare.usage.prompt_tokens == expected


def test_past_calls_reach_such_a_template_as_calls(api: Api, client: openai.OpenAI) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    history = [*ASK, {"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "tool", "content": "sunny"}]
    reply = client.chat.completions.create(model="tiny-tools", messages=history, max_tokens=1)
    template = ChatTemplate(TOOLS_TEMPLATE, "override", ())
    native = render_chat(
        template,
        [
            *ASK,
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{**call, "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
            },
            {"role": "tool", "content": "sunny"},
        ],
    )
    assert reply.usage and reply.usage.prompt_tokens == api.runtime.count_tokens(native, model="tiny-tools")


# Two calls the random model cannot help making: a JSON schema for the reply, with the tools offered.
TWO_CALLS = {
    "type": "json_schema",
    "json_schema": {
        "name": "calls",
        "schema": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"const": "get_time"},
                    "arguments": {"type": "object", "properties": {}, "additionalProperties": False},
                },
                "required": ["name", "arguments"],
                "additionalProperties": False,
            },
        },
    },
}


def ask_two_calls(client: openai.OpenAI, model: str = "tiny-tools", **options: Any) -> Any:
    return client.chat.completions.create(
        model=model, messages=ASK, tools=[WEATHER, TIME], response_format=TWO_CALLS, max_tokens=120, seed=2, **options
    )


@pytest.mark.parametrize("model", ["tiny", "tiny-tools"])
def test_several_calls_in_one_reply(client: openai.OpenAI, model: str) -> None:
    choice = ask_two_calls(client, model).choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_time", "get_time"]
    assert len({c.id for c in calls}) == 2 and all(json.loads(c.function.arguments) == {} for c in calls)


def test_several_calls_streamed_and_parallel_calls_off(client: openai.OpenAI) -> None:
    chunks = list(ask_two_calls(client, stream=True))
    deltas = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    assert [(d.index, d.function.name if d.function else None) for d in deltas] == [(0, "get_time"), (1, "get_time")]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    single = ask_two_calls(client, parallel_tool_calls=False)
    assert len(single.choices[0].message.tool_calls or []) == 1


def test_system_and_tool_turns_reach_a_template_that_refuses_them(api: Api, client: openai.OpenAI) -> None:
    call = {"id": "call_7", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    conversation = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "What time is it?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_7", "content": "12:00"},
    ]
    reply = client.chat.completions.create(model="tiny-strict", messages=conversation, tools=[TIME], max_tokens=1)
    folded = (
        "<|im_start|>user\nAnswer in French.\n\n"
        + tool_instructions((Tool.model_validate(TIME),))  # the offer, as templates without tool syntax get it
        + "\n\nWhat time is it?<|im_end|>\n"
        '<|im_start|>assistant\n[{"name": "get_time", "arguments": "{}"}]<|im_end|>\n'
        '<|im_start|>user\n{"tool_response": {"tool": "get_time", "content": "12:00"}}<|im_end|>\n'
        "<|im_start|>assistant\n"
    )
    assert reply.usage and reply.usage.prompt_tokens == api.runtime.count_tokens(folded, model="tiny-strict")


def test_an_answer_is_streamed_when_tools_are_offered(client: openai.OpenAI) -> None:
    # The random model made to write "a" pieces (token 261): an answer, not a call.
    stream = client.chat.completions.create(
        model="tiny", messages=ASK, tools=[WEATHER, TIME], max_tokens=6, logit_bias={"261": 100}, stream=True
    )
    contents = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(contents) > 1 and "".join(contents).startswith("aa")


def test_when_a_templates_tool_syntax_fails_the_tools_are_shown_as_a_note(api: Api, client: openai.OpenAI) -> None:
    conversation = [*ASK, {"role": "assistant", "content": "Which day?"}, {"role": "user", "content": "Today."}]
    reply = client.chat.completions.create(model="tiny-fussy", messages=conversation, tools=[TIME], max_tokens=1)
    template = ChatTemplate(FUSSY_TEMPLATE, "gguf", ())
    offer = ToolOffer((TIME,), tool_instructions((Tool.model_validate(TIME),)))
    messages, extra = prepare_messages(template, conversation, offer, native=False)
    assert extra == {} and messages[0]["role"] == "system"
    expected = render_chat(template, messages, extra=extra)
    assert reply.usage and reply.usage.prompt_tokens == api.runtime.count_tokens(expected, model="tiny-fussy")
