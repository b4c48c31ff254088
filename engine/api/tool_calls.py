"""Tool calls read back out of a chat reply, in the shapes models are trained to write them.

- a bare JSON object `{"name": …, "arguments": …}` (what our system note asks for; Llama 3.1 writes
  `"parameters"` instead of `"arguments"`),
- a JSON array of such objects (Mistral: its `[TOOL_CALLS]` marker is a special token, so the text
  usually starts at the array),
- one or more `<tool_call>…</tool_call>` blocks, after optional text (Hermes, Qwen 2.5 and 3); a last
  block cut off before its closing tag still counts,
- a function's name straight followed by its arguments object, one call after another (newer Mistral
  models write `[TOOL_CALLS]name[ARGS]{…}`; both markers are special tokens, which replies leave out).

A reply that is none of these, or that names a function the request did not offer, is plain content.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.api.grammar import OutputPlan

_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.DOTALL)
_LEADING_MARKERS = ("[TOOL_CALLS]", "<|python_tag|>")
_NAME_THEN_OBJECT = re.compile(r"([A-Za-z0-9_.-]{1,64})(?=\{)")


@dataclass(frozen=True)
class ToolCalls:
    """The calls in a reply, and any text the model wrote before them."""

    calls: tuple[tuple[str, str], ...]  # (function name, arguments as JSON text)
    content: str | None = None


def new_call_id() -> str:
    """An id for a tool call, in OpenAI's style."""
    return "call_" + secrets.token_urlsafe(18)


def read_tool_calls(text: str, plan: OutputPlan, *, parallel: bool = True) -> ToolCalls | None:
    """The tool calls `text` makes under `plan`, or None if it is a plain answer.

    `parallel=False` (the request's `parallel_tool_calls`) keeps only the first call.
    """
    if plan.forced_tool is not None:
        return ToolCalls(((plan.forced_tool, text.strip()),))
    if not (plan.any_tool or plan.tools_offered):
        return None
    offered = {t.function.name for t in plan.tools_offered} if plan.tools_offered else None
    content, values = _split(text)
    if not values and offered:
        values = _named_arguments(text, offered)
    calls = [_call(value, offered) for value in values]
    if not calls or any(call is None for call in calls):
        return None
    found = tuple(call for call in calls if call is not None)
    return ToolCalls(found if parallel else found[:1], content or None)


def _split(text: str) -> tuple[str, list[Any]]:
    """(text before the calls, the calls' JSON values); no values if the reply is not calls."""
    stripped = text.strip()
    for marker in _LEADING_MARKERS:
        stripped = stripped.removeprefix(marker).lstrip()
    if "<tool_call>" in stripped:
        head, _, rest = stripped.partition("<tool_call>")
        rest = "<tool_call>" + rest
        if _BLOCK.sub("", rest).strip():  # anything but blocks after the first one: not a call
            return "", []
        try:
            return head.strip(), [json.loads(block) for block in _BLOCK.findall(rest)]
        except ValueError:
            return "", []
    try:
        value = json.loads(stripped)
    except ValueError:
        return "", []
    return "", value if isinstance(value, list) else [value]


def _named_arguments(text: str, offered: set[str]) -> list[Any]:
    """`name{…}name{…}` as call values; none unless the whole text is such calls of offered functions."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position, text = 0, text.strip()
    while position < len(text):
        match = _NAME_THEN_OBJECT.match(text, position)
        if match is None or match.group(1) not in offered:
            return []
        try:
            arguments, position = decoder.raw_decode(text, match.end(1))
        except ValueError:
            return []
        values.append({"name": match.group(1), "arguments": arguments})
        while position < len(text) and text[position].isspace():
            position += 1
    return values


def _call(value: Any, offered: set[str] | None) -> tuple[str, str] | None:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    if offered is not None and value["name"] not in offered:
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    return value["name"], arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


_CALL_OPENINGS = ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>")
_TAG = "<tool_call>"


class AnswerGate:
    """While a reply streams with tools offered: the text that is surely an answer, to send at once.

    A reply that opens like a call (JSON, a call marker, an offered function's name) is held until it
    ends and is read. One that opens as prose streams, except from a `<tool_call>` tag on (Qwen writes a
    sentence, then its calls), and a tail that could be the start of that tag.
    """

    def __init__(self, offered: Iterable[str]) -> None:
        self._names = tuple(offered)
        self._text = ""
        self._sent = 0  # characters of the reply sent as content
        self._answer = False

    def feed(self, piece: str) -> str:
        """Add `piece` of the reply; return the content that may be sent now."""
        self._text += piece
        if not self._answer:
            if self._may_open_call(self._text.lstrip()):
                return ""
            self._answer = True
        end = self._text.find(_TAG, self._sent)
        if end < 0:
            end = len(self._text) - _tag_start_at_end(self._text)
        out = self._text[self._sent : end] if end > self._sent else ""
        self._sent += len(out)
        return out

    def rest(self, calls: ToolCalls | None) -> str:
        """At the end, with the reply read: the content not sent yet (none of the calls' own text)."""
        if calls is None:
            return self._text[self._sent :]
        sent = self._text[: self._sent].strip()
        content = calls.content or ""
        return content[len(sent) :] if content.startswith(sent) else ""

    def _may_open_call(self, text: str) -> bool:
        if not text or text[0] in "{[":
            return True
        if any(o.startswith(text) or text.startswith(o) for o in _CALL_OPENINGS):
            return True
        return any(
            n.startswith(text) or (text.startswith(n) and text[len(n) : len(n) + 1] in ("", "{")) for n in self._names
        )


def _tag_start_at_end(text: str) -> int:
    """How many characters at the end of `text` could begin a `<tool_call>` tag."""
    for size in range(min(len(_TAG) - 1, len(text)), 0, -1):
        if text.endswith(_TAG[:size]):
            return size
    return 0
