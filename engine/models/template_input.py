"""What a chat template is given to render: the messages, fitted to what it can write, and the tools.

OpenAI-style conversations have system and tool messages, assistant tool calls and offered tools; chat
templates differ in which of these they can write. Gemma 2's refuses a system message, strict ones
refuse a tool message between turns, and only some have syntax for tools. Here a conversation is fitted
to its template so that every model is shown everything, in its own syntax where it has one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.models.call_syntax import parse_calls
from engine.models.templates import ChatTemplate, TemplateError, TemplateTimeout, render_chat, uses_tools


@dataclass(frozen=True)
class ToolOffer:
    """The tools a chat request shows the model, and the system note for templates without tool syntax."""

    specs: tuple[Mapping[str, Any], ...]  # OpenAI tool objects: {"type": "function", "function": {…}}
    note: str = ""  # "" when the model is only to see tools in its template's own syntax


def prepare_messages(
    template: ChatTemplate,
    messages: Sequence[Mapping[str, Any]],
    tools: ToolOffer | None,
    *,
    native: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages and extra template variables for rendering, tool calls and offers included.

    A template with tool syntax whose calls read back (see `_call_form`) gets `tools` and each assistant
    message's `tool_calls`, arguments in the form it writes; `native=False` (or any other template) sees
    the calls as JSON in the message's content and the offer as a system note. A template that refuses
    (or drops) system or tool messages gets their text in the user's turn instead, as llama.cpp's server
    does.
    """
    form = _call_form(template.source) if native else None
    prepared = [_with_tool_calls(dict(m), form) for m in messages]
    extra: dict[str, Any] = {}
    if tools is not None and tools.specs and form is not None:
        extra["tools"] = [dict(spec) for spec in tools.specs]
    elif tools is not None and tools.note:
        if prepared and prepared[0].get("role") == "system":
            prepared[0]["content"] = f"{prepared[0].get('content') or ''}\n\n{tools.note}"
        else:
            prepared.insert(0, {"role": "system", "content": tools.note})
    called = {call.get("id"): call["function"].get("name") for m in messages for call in m.get("tool_calls") or ()}
    prepared = _fit_roles(template, prepared, called)
    if form is not None and _NINE_CHAR_IDS in template.source:
        prepared = [_with_nine_char_ids(m) for m in prepared]
    return prepared, extra


def has_tool_syntax(template: ChatTemplate) -> bool:
    """Whether `prepare_messages` shows this template the tools and calls in its own syntax."""
    return _call_form(template.source) is not None


_PROBE_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "probe_fn",
            "description": "A probe.",
            "parameters": {"type": "object", "properties": {"probe_arg": {"type": "string"}}},
        },
    }
]


@lru_cache(maxsize=32)
def _call_form(source: str) -> str | None:
    """How the template writes a past call so that it reads back as that call: with "object" arguments
    (what transformers expects) or "string" ones (a few templates concatenate them as text). None if the
    template has no tool syntax, or writes calls in a shape engine.models.call_syntax cannot read (the
    model would answer in that shape, so it is better shown the tools as a note that asks for JSON)."""
    template = ChatTemplate(source, "probe", ())
    if not uses_tools(template):
        return None
    arguments = {"probe_arg": _PROBE_A}
    expected = (("probe_fn", json.dumps(arguments, ensure_ascii=False)),)
    asked = [{"role": "user", "content": _PROBE_B}]
    for form, written in (("object", arguments), ("string", json.dumps(arguments, ensure_ascii=False))):
        call = {"id": "a1b2c3d4e", "type": "function", "function": {"name": "probe_fn", "arguments": written}}
        # The call against an empty reply, or against none (templates that refuse an empty reply),
        # with the content beside the call empty or null (templates differ in which they take).
        for content, empty_reply in (("", True), (None, True), ("", False), (None, False)):
            try:
                reply = [{"role": "assistant", "content": ""}] if empty_reply else []
                without = render_chat(
                    template, [*asked, *reply], add_generation_prompt=False, extra={"tools": _PROBE_TOOLS}
                )
                with_call = render_chat(
                    template,
                    [*asked, {"role": "assistant", "content": content, "tool_calls": [call]}],
                    add_generation_prompt=False,
                    extra={"tools": _PROBE_TOOLS},
                )
            except TemplateTimeout:
                raise  # the request's time is up: nothing is learnt (or cached) from this template
            except TemplateError:
                continue
            if _reads_back(without, with_call, expected):
                return form
    return None


def _reads_back(without: str, with_call: str, expected: tuple[tuple[str, str], ...]) -> bool:
    """Whether what `with_call` adds to `without` reads back as the `expected` call.

    The added text sits between the two renders' common start and common end, give or take a few
    characters the call's markup shares with what follows it (`<tool_call>` and `<|im_end|>` both
    begin with "<"), so cuts up to eight characters either way are tried too."""
    start = 0
    while start < min(len(without), len(with_call)) and without[start] == with_call[start]:
        start += 1
    end = 0
    while end < min(len(without), len(with_call)) - start and without[-1 - end] == with_call[-1 - end]:
        end += 1
    for back in range(-8, min(start, 8) + 1):
        for forward in range(-8, min(end, 8) + 1):
            parsed = parse_calls(with_call[start - back : len(with_call) - end + forward], {"probe_fn"})
            if parsed is not None and parsed[1] == expected:
                return True
    return False


def _with_tool_calls(message: dict[str, Any], form: str | None) -> dict[str, Any]:
    calls = message.pop("tool_calls", None)
    if not calls:
        return message
    if form is not None:
        message["tool_calls"] = [
            {**call, "function": {**call["function"], "arguments": _arguments(call["function"]["arguments"], form)}}
            for call in calls
        ]
    elif not message.get("content"):
        # Templates without tool syntax still see what the assistant asked for.
        message["content"] = json.dumps(
            [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in calls],
            ensure_ascii=False,
        )
    return message


# Mistral's templates refuse tool call ids other than nine letters or digits; OpenAI clients send back
# the ids the server gave them ("call_…"). Each id maps to the same nine characters every time, so calls
# still pair with their results and a conversation's prompt stays the same from turn to turn.
_NINE_CHAR_IDS = "alphanumeric strings with length 9"


def _nine_chars(call_id: str) -> str:
    return hashlib.sha256(call_id.encode()).hexdigest()[:9]


def _with_nine_char_ids(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("tool_calls"):
        message["tool_calls"] = [{**call, "id": _nine_chars(str(call.get("id", "")))} for call in message["tool_calls"]]
    if message.get("tool_call_id"):
        message["tool_call_id"] = _nine_chars(str(message["tool_call_id"]))
    return message


def _arguments(arguments: str, form: str) -> Any:
    if form == "string":
        return arguments
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments  # not JSON: the template gets the text as it came
    return parsed if isinstance(parsed, dict) else arguments


# Probe texts: private-use characters that no real conversation holds.
_PROBE_A, _PROBE_B, _PROBE_C = "\ue002", "\ue003", "\ue004"


@lru_cache(maxsize=32)
def _writes_role(source: str, role: str) -> bool:
    """Whether the template writes a `role` message at all: "system" first, or "tool" after a call."""
    if role == "system":
        probe = [{"role": "system", "content": _PROBE_A}, {"role": "user", "content": _PROBE_B}]
    else:
        call_id = "a1b2c3d4e"  # nine letters and digits, which Mistral's templates insist on
        form = _call_form(source)
        arguments: Any = {} if form == "object" else "{}"
        call = {"id": call_id, "type": "function", "function": {"name": "probe", "arguments": arguments}}
        asked: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": [call]}
        if form is None:
            asked = {"role": "assistant", "content": _PROBE_C}
        probe = [
            {"role": "user", "content": _PROBE_B},
            asked,
            {"role": "tool", "content": _PROBE_A, "tool_call_id": call_id},
        ]
    try:
        return _PROBE_A in render_chat(ChatTemplate(source, "probe", ()), probe)
    except TemplateTimeout:
        raise
    except TemplateError:
        return False


def _fit_roles(
    template: ChatTemplate, messages: list[dict[str, Any]], called: Mapping[Any, Any]
) -> list[dict[str, Any]]:
    """System and tool messages the template cannot write, as user text (merged into a user turn);
    `called` names the function of each call id, for the results."""
    roles = {m.get("role") for m in messages}
    fold_system = "system" in roles and not _writes_role(template.source, "system")
    fold_tool = "tool" in roles and not _writes_role(template.source, "tool")
    if not (fold_system or fold_tool):
        return messages
    fitted: list[dict[str, Any]] = []
    pending_system: list[str] = []
    for message in messages:
        role = message.get("role")
        if fold_system and role == "system":
            pending_system.append(str(message.get("content") or ""))
            continue
        if fold_tool and role == "tool":
            result = {"tool": called.get(message.get("tool_call_id")), "content": message.get("content")}
            message = {"role": "user", "content": json.dumps({"tool_response": result}, ensure_ascii=False)}
        if message.get("role") == "user" and pending_system:
            message = {**message, "content": "\n\n".join([*pending_system, str(message.get("content") or "")])}
            pending_system = []
        if fitted and message.get("role") == "user" and fitted[-1].get("role") == "user":
            # Several results in a row (or a result after the user's text): one user turn, as templates
            # that refuse tool messages mostly insist that turns alternate.
            fitted[-1] = {**fitted[-1], "content": f"{fitted[-1].get('content') or ''}\n\n{message['content']}"}
            continue
        fitted.append(message)
    if pending_system:  # a system message and no user turn after it
        fitted.append({"role": "user", "content": "\n\n".join(pending_system)})
    return fitted
