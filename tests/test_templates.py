"""Chat templates are untrusted: rendered only in the sandbox; fallbacks by architecture; overrides."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from engine.models.template_input import ToolOffer, has_tool_syntax, prepare_messages
from engine.models.templates import (
    BUILTIN_TEMPLATES,
    ChatTemplate,
    TemplateError,
    render_chat,
    resolve_template,
    turn_change,
    uses_tools,
)

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ messages.append({'role': 'x'}) }}",  # the immutable sandbox forbids mutation too
    "{{ lipsum.__globals__['os'].system('touch MARKER') }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempts_fail_cleanly_and_execute_nothing(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    template = ChatTemplate(source.replace("MARKER", str(tmp_path / "pwned")), "gguf", ())
    with pytest.raises(TemplateError):
        text = render_chat(template, MESSAGES)
        # Some escapes render to nothing harmful instead of raising; they must not reach Python objects.
        assert "class" not in text and "function" not in text
        raise TemplateError("rendered harmlessly")
    assert not (tmp_path / "pwned").exists()


def test_raise_exception_from_template_is_a_clean_error() -> None:
    template = ChatTemplate("{{ raise_exception('only user and assistant roles') }}", "gguf", ())
    with pytest.raises(TemplateError, match="only user and assistant roles"):
        render_chat(template, MESSAGES)


def test_syntax_error_is_a_clean_error() -> None:
    with pytest.raises(TemplateError, match="failed to render"):
        render_chat(ChatTemplate("{% for %}", "gguf", ()), MESSAGES)


@pytest.mark.parametrize(
    ("architecture", "expected", "marker"),
    [
        ("gemma3", "builtin:gemma", "<start_of_turn>model"),
        ("llama", "builtin:chatml", "<|im_start|>assistant"),
        ("qwen2", "builtin:chatml", "<|im_start|>assistant"),
        ("mistral", "builtin:mistral", "[INST]"),
    ],
)
def test_fallback_by_architecture(architecture: str, expected: str, marker: str) -> None:
    template = resolve_template(override=None, embedded=None, architecture=architecture)
    assert template.origin == expected
    assert marker in render_chat(template, MESSAGES)


def test_gemma_folds_the_system_prompt_into_the_first_user_turn() -> None:
    template = resolve_template(override=None, embedded=None, architecture="gemma3")
    text = render_chat(template, MESSAGES, bos_token="<bos>")
    assert text == "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
    assert "<end_of_turn>" in template.stops


def test_override_beats_embedded_and_embedded_beats_fallback() -> None:
    embedded = "{% for m in messages %}{{ m.content }}|{% endfor %}"
    assert resolve_template(override=None, embedded=embedded, architecture="gemma3").origin == "gguf"
    assert (
        resolve_template(override="llama3", embedded=embedded, architecture="gemma3").source
        == BUILTIN_TEMPLATES["llama3"]
    )
    custom = resolve_template(override="{{ messages[-1].content }}!", embedded=embedded, architecture="x")
    assert custom.origin == "override" and render_chat(custom, MESSAGES) == "Hi!"


def test_a_template_is_compiled_once_then_only_rendered() -> None:
    # What the sandbox child runs for each render, called here in-process to read its cache.
    from engine.sandbox import jinja_env

    source = BUILTIN_TEMPLATES["chatml"] + "{# only this test's #}"
    before = jinja_env.compiled.cache_info()
    first = jinja_env.render(source, {"messages": MESSAGES, "add_generation_prompt": True})
    second = jinja_env.render(source, {"messages": [{"role": "user", "content": "Another"}]})
    after = jinja_env.compiled.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert "Be brief." in first and "Another" in second and "Be brief." not in second
    assert render_chat(ChatTemplate(source, "override", ()), MESSAGES) == first  # the same, through the sandbox


TOOLS_SOURCE = (
    "{% if tools %}<tools>{{ tools | tojson }}</tools>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{% for c in m.tool_calls or [] %}"
    "<tool_call>{{ c.function | tojson }}</tool_call>{% endfor %}{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
OFFER = ToolOffer(({"type": "function", "function": {"name": "now"}},), note="Call now() as JSON.")
CALL = {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": '{"tz": "UTC"}'}}
HISTORY = [{"role": "user", "content": "Time?"}, {"role": "assistant", "content": "", "tool_calls": [CALL]}]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (TOOLS_SOURCE, True),
        ("{% for m in messages %}{{ m.content }}{% endfor %}{# tools: none #}tools", False),  # text, not a variable
        ("{% set tools = [] %}{% for t in tools %}{{ t }}{% endfor %}", False),  # its own variable
        ("{% if %}", False),  # broken: rendering says so, not this check
        *((source, False) for source in BUILTIN_TEMPLATES.values()),
    ],
)
def test_tool_syntax_is_a_template_reading_tools(source: str, expected: bool) -> None:
    assert uses_tools(ChatTemplate(source, "gguf", ())) is expected


def test_a_template_with_tool_syntax_gets_the_tools_and_calls_as_objects() -> None:
    template = ChatTemplate(TOOLS_SOURCE, "gguf", ())
    before = copy.deepcopy(HISTORY)
    messages, extra = prepare_messages(template, HISTORY, OFFER)
    assert before == HISTORY  # the caller's messages are left as they were
    text = render_chat(template, messages, extra=extra)
    # As transformers writes JSON for templates: keys in order, nothing escaped.
    assert text.startswith('<tools>[{"type": "function", "function": {"name": "now"}}]</tools>')
    assert '<tool_call>{"name": "now", "arguments": {"tz": "UTC"}}</tool_call>' in text
    assert "Call now()" not in text
    # The turn change is found only if it is rendered with the same tools.
    assert turn_change(template, messages, text, extra=extra) == "<|im_end|>\n<|im_start|>user\n"


def test_other_templates_get_a_note_and_calls_as_json() -> None:
    template = resolve_template(override="chatml", embedded=None, architecture="llama")
    messages, extra = prepare_messages(template, [{"role": "system", "content": "Be brief."}, *HISTORY], OFFER)
    assert extra == {}
    assert messages[0] == {"role": "system", "content": "Be brief.\n\nCall now() as JSON."}
    assert messages[2] == {"role": "assistant", "content": '[{"name": "now", "arguments": "{\\"tz\\": \\"UTC\\"}"}]'}
    messages, _ = prepare_messages(template, HISTORY, ToolOffer(OFFER.specs))  # a forced call: no note
    assert [m["role"] for m in messages] == ["user", "assistant"]


def test_what_templates_from_transformers_use_renders() -> None:
    source = (
        "{% for m in messages %}{% generation %}{{ m.content | tojson(ensure_ascii=False, indent=None) }}"
        "{% endgeneration %}{% endfor %}{{ {'b': '<', 'a': 1} | tojson(separators=(',', ':')) }}"
    )
    text = render_chat(ChatTemplate(source, "gguf", ()), [{"role": "user", "content": "你好"}])
    assert text == '"你好"{"b":"<","a":1}'
    # Templates are untrusted: nothing in them may build a value big enough to fill memory.
    indented = ChatTemplate("{{ {'a': 1} | tojson(indent=10**9) }}{{ [1] | tojson(indent=' ' * 10**6) }}", "x", ())
    assert render_chat(indented, []) == '{\n        "a": 1\n}[1]'
    assert render_chat(ChatTemplate("{{ [2] | tojson(separators=(',' * 10**6, ':')) }}", "x", ()), []) == "[2]"
    # Each builds tens of megabytes at most without the caps, and shows only a length: so the caps, not
    # the rendered prompt's own size check, are what refuse them.
    grow = "{% set ns = namespace(s='xx', x=10**60) %}{% for i in range(25) %}{% set ns.s = ns.s OP ns.s %}{% endfor %}"
    square = "{% set ns = namespace(x=10**60) %}{% for i in range(12) %}{% set ns.x = ns.x * ns.x %}{% endfor %}"
    for bomb in (
        "{{ ('x' * 10**8) | length }}",
        "{{ ([0] * 10**7) | length }}",
        "{{ (10 ** 100000) > 0 }}",
        "{{ (7 ** 70) > 0 }}",
        grow.replace("OP", "+") + "{{ ns.s | length }}",
        grow.replace("OP", "~") + "{{ ns.s | length }}",
        square + "{{ ns.x > 0 }}",
    ):
        with pytest.raises(TemplateError, match="implausibly large value"):
            render_chat(ChatTemplate(bomb, "gguf", ()), [])


def test_mistral_templates_get_nine_character_call_ids_that_still_pair() -> None:
    source = (
        "{% for t in tools or [] %}{% endfor %}{% for m in messages %}{% for c in m.tool_calls or [] %}"
        "{% if c.id|length != 9 %}"
        "{{ raise_exception('Tool call IDs should be alphanumeric strings with length 9!') }}{% endif %}"
        "[TOOL_CALLS]{{ c.function.name }}[CALL_ID]{{ c.id }}[ARGS]{{ c.function.arguments | tojson }}"
        "{% endfor %}{% if m.tool_call_id %}[RESULT {{ m.tool_call_id }}: {{ m.content }}]{% endif %}{% endfor %}"
    )
    template = ChatTemplate(source, "gguf", ())
    assert has_tool_syntax(template)
    history = [*HISTORY, {"role": "tool", "tool_call_id": "call_1", "content": "12:00"}]
    messages, extra = prepare_messages(template, history, OFFER)
    text = render_chat(template, messages, extra=extra)
    call_id = text.split("[CALL_ID]")[1][:9]
    assert (
        call_id.isalnum() and text == f'[TOOL_CALLS]now[CALL_ID]{call_id}[ARGS]{{"tz": "UTC"}}[RESULT {call_id}: 12:00]'
    )
    assert render_chat(template, prepare_messages(template, history, OFFER)[0], extra=extra) == text  # stable


# Like Gemma 2's: no system role, and turns must alternate (so no tool messages either).
STRICT_SOURCE = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate') }}{% endif %}"
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{{ m['content'] }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def test_a_template_without_system_or_tool_turns_gets_their_text_in_the_users_turn() -> None:
    template = ChatTemplate(STRICT_SOURCE, "gguf", ())
    conversation = [
        {"role": "system", "content": "Be brief."},
        *HISTORY,
        {"role": "tool", "tool_call_id": "call_1", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_2", "content": "late"},
    ]
    with pytest.raises(TemplateError, match="System role not supported"):
        render_chat(template, conversation)
    messages, extra = prepare_messages(template, conversation, None)
    text = render_chat(template, messages, extra=extra)
    assert text == (
        "<start_of_turn>user\nBe brief.\n\nTime?<end_of_turn>\n"
        '<start_of_turn>model\n[{"name": "now", "arguments": "{\\"tz\\": \\"UTC\\"}"}]<end_of_turn>\n'
        '<start_of_turn>user\n{"tool_response": {"tool": "now", "content": "12:00"}}\n\n'
        '{"tool_response": {"tool": null, "content": "late"}}<end_of_turn>\n'
        "<start_of_turn>model\n"
    )


def test_a_system_message_a_template_drops_is_still_shown() -> None:
    template = ChatTemplate("{% for m in messages if m.role != 'system' %}{{ m.content }}|{% endfor %}", "gguf", ())
    messages, _ = prepare_messages(template, MESSAGES, None)
    assert render_chat(template, messages) == "Be brief.\n\nHi|"


def test_templates_that_write_every_role_get_the_messages_as_they_are() -> None:
    template = resolve_template(override="chatml", embedded=None, architecture="llama")
    conversation = [*MESSAGES, {"role": "assistant", "content": "Hello"}, {"role": "tool", "content": "x"}]
    assert prepare_messages(template, conversation, None) == (conversation, {})


def test_a_template_whose_calls_would_not_read_back_gets_the_note() -> None:
    # Tool syntax of its own, but calls in a shape the reply reader does not know (like gpt-oss's).
    source = (
        "{% for t in tools or [] %}<fn {{ t.function.name }}>{% endfor %}{% for m in messages %}{{ m.role }}: "
        "{% for c in m.tool_calls or [] %}CALL {{ c.function.name }} WITH {{ c.function.arguments }}{% endfor %}"
        "{{ m.content }}\n{% endfor %}"
    )
    template = ChatTemplate(source, "gguf", ())
    assert uses_tools(template) and not has_tool_syntax(template)
    messages, extra = prepare_messages(template, HISTORY, OFFER)
    assert extra == {} and messages[0] == {"role": "system", "content": "Call now() as JSON."}
    assert messages[2]["content"].startswith('[{"name": "now"')  # the past call as JSON text


def test_a_template_that_writes_arguments_as_text_gets_text() -> None:
    source = (
        "{% for t in tools or [] %}{% endfor %}{% for m in messages %}{% for c in m.tool_calls or [] %}"
        '{{ \'{"name": "\' + c.function.name + \'", "arguments": \' + c.function.arguments + "}" }}'
        "{% endfor %}{{ m.content }}{% endfor %}"
    )
    template = ChatTemplate(source, "gguf", ())
    assert has_tool_syntax(template)
    messages, extra = prepare_messages(template, HISTORY, OFFER)
    assert render_chat(template, messages, extra=extra) == 'Time?{"name": "now", "arguments": {"tz": "UTC"}}'
