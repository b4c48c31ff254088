"""Tool calls as models write them, read back into (function name, arguments JSON) pairs.

The shapes read:
- a bare JSON object `{"name": …, "arguments": …}` (what our system note asks for; Llama 3.1 writes
  `"parameters"` instead of `"arguments"`), or a JSON array of such objects (Mistral, Granite);
- one or more `<tool_call>…</tool_call>` blocks after optional text, each holding such an object
  (Hermes, Qwen 2.5 and 3) or `<function=name><parameter=p>value</parameter></function>` (Qwen3-Coder,
  Qwen 3.5); a last block cut off before its closing tag still counts;
- a function's name straight followed by its arguments object, call after call (newer Mistral models
  write `[TOOL_CALLS]name[ARGS]{…}`).
Call markers that are special tokens (`[TOOL_CALLS]`, `<|python_tag|>`…) are usually left out of a reply
and are skipped where they are not. A reply that is anything else, or names a function that was not
offered, is an answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from typing import Any

from engine.models.reasoning import tag_start_at_end

# Markers before the calls, and between a name and its arguments (Mistral's [ARGS]): special tokens in
# the models that use them, so replies rarely show them, but rendered prompts do.
LEADING_MARKERS = ("[TOOL_CALLS]", "<|python_tag|>", "<|tool_call|>")
_ARGS = "[ARGS]"
_CALL_ID = re.compile(r"\[CALL_ID\][A-Za-z0-9]*(?=\[ARGS\])")  # in rendered history, not in replies
_OPEN, _CLOSE = "<tool_call>", "</tool_call>"
_NAME_THEN_OBJECT = re.compile(r"([A-Za-z0-9_.-]{1,64})(?=\{)")
_XML_FUNCTION = re.compile(r"<function=([^>\n]{1,64})>(.*?)(?:</function>|\Z)", re.DOTALL)
_XML_PARAMETER = re.compile(r"<parameter=([^>\n]{1,64})>\n?(.*?)\n?(?:</parameter>|\Z)", re.DOTALL)
_decoder = json.JSONDecoder()

Call = tuple[str, str]  # (function name, arguments as JSON text of an object)


def parse_calls(text: str, offered: Collection[str] | None) -> tuple[str, tuple[Call, ...]] | None:
    """(the text before the calls, the calls) if `text` is tool calls of `offered` functions (any
    function if None), else None."""
    stripped = _strip_leading_markers(text.strip())
    head, values = "", _whole_json(stripped)
    if values is None and _OPEN in stripped:
        head, _, rest = stripped.partition(_OPEN)
        values = _blocks(rest)
    if values is None and offered:
        values = _named_arguments(stripped, offered)
    if not values:
        return None
    calls = [_call(value, offered) for value in values]
    if any(call is None for call in calls):
        return None
    return head.strip(), tuple(call for call in calls if call is not None)


def _strip_leading_markers(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for marker in LEADING_MARKERS:
            if text.startswith(marker):
                text, changed = text[len(marker) :].lstrip(), True
    return text


def _whole_json(text: str) -> list[Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) and value else None


def _blocks(rest: str) -> list[Any] | None:
    """The calls of `<tool_call>` blocks (`rest` follows the first opening tag); None if anything but
    blocks follows."""
    values: list[Any] = []
    position = 0
    while True:
        position = _skip_space(rest, position)
        if rest.startswith("<function=", position):
            match = _XML_FUNCTION.match(rest, position)
            if match is None:
                return None
            values.append({"name": match.group(1).strip(), "arguments": _xml_arguments(match.group(2))})
            position = match.end()
        else:
            try:
                value, position = _decoder.raw_decode(rest, position)
            except ValueError:
                return None
            values.append(value)
        position = _skip_space(rest, position)
        if rest.startswith(_CLOSE, position):
            position = _skip_space(rest, position + len(_CLOSE))
        if position >= len(rest):
            return values
        if not rest.startswith(_OPEN, position):
            return None  # prose after the calls: an answer that mentions a call
        position += len(_OPEN)


def _xml_arguments(body: str) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for name, raw in _XML_PARAMETER.findall(body):
        try:
            arguments[name.strip()] = json.loads(raw)  # numbers, booleans, objects, lists
        except ValueError:
            arguments[name.strip()] = raw  # strings are written bare
    return arguments


def _named_arguments(text: str, offered: Collection[str]) -> list[Any] | None:
    """`name{…} name{…}` as call values; None unless the whole text is such calls of offered functions."""
    text = _CALL_ID.sub("", text).replace(_ARGS, "")
    values: list[Any] = []
    position = 0
    while position < len(text):
        match = _NAME_THEN_OBJECT.match(text, position)
        if match is None or match.group(1) not in offered:
            return None
        try:
            arguments, position = _decoder.raw_decode(text, match.end(1))
        except ValueError:
            return None
        values.append({"name": match.group(1), "arguments": arguments})
        position = _skip_space(text, _strip_leading_offset(text, _skip_space(text, position)))
    return values


def _strip_leading_offset(text: str, position: int) -> int:
    for marker in LEADING_MARKERS:
        if text.startswith(marker, position):
            return position + len(marker)
    return position


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _call(value: Any, offered: Collection[str] | None) -> Call | None:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    if offered is not None and value["name"] not in offered:
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):  # some models write the arguments as JSON text
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None  # clients parse the arguments as a JSON object
    return value["name"], json.dumps(arguments, ensure_ascii=False)


_CALL_OPENINGS = (_OPEN, *LEADING_MARKERS)


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
        end = self._text.find(_OPEN, self._sent)
        if end < 0:
            end = len(self._text) - tag_start_at_end(self._text, _OPEN)
        out = self._text[self._sent : end] if end > self._sent else ""
        self._sent += len(out)
        return out

    def rest(self, head: str | None) -> str:
        """At the end, with the reply read: the content not sent yet. `head` is the text before the calls
        if the reply was calls (none of the calls' own text is content), else None."""
        if head is None:
            return self._text[self._sent :]
        sent = self._text[: self._sent].strip()
        return head[len(sent) :] if head.startswith(sent) else ""

    def _may_open_call(self, text: str) -> bool:
        if not text or text[0] in "{[":
            return True
        if any(o.startswith(text) or text.startswith(o) for o in _CALL_OPENINGS):
            return True
        return any(
            n.startswith(text) or (text.startswith(n) and text[len(n) : len(n) + 1] in ("", "{")) for n in self._names
        )
