"""Reply assembly, once for every backend: a stream of chunks read as thinking, answer and tool calls.

The HTTP routes, the CLI and the GUI only convert what `ReplyReader` gives them. It splits out a
reasoning model's thinking (`<think>…</think>`, or a block the prompt opened), holds back text that may
turn out to be a tool call until the reply is read, reads the calls (in the model's own call syntax,
`engine.models.call_syntax`, or as a remote backend reported them), and settles the finish reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.models.call_syntax import AnswerGate, Call, parse_calls
from engine.models.reasoning import ReasoningSplitter
from engine.runtime import Chunk, TokenLogprob


@dataclass(frozen=True)
class ReplyRules:
    """How a request wants its reply read."""

    constrained: bool = False  # generated under a grammar: plain output, no thinking tags to split
    forced_tool: str | None = None  # the reply is this function's arguments
    any_tool: bool = False  # the reply is a call of one of the tools (tool_choice "required")
    offered: tuple[str, ...] = ()  # functions the model may call (tool_choice "auto")
    parallel: bool = True  # False: only the first call counts

    @property
    def reads_calls(self) -> bool:
        """A reply may be calls of the model's own choosing (held back until read)."""
        return self.any_tool or bool(self.offered)


@dataclass(frozen=True)
class ToolCalls:
    """The calls in a reply, and any text the model wrote before them."""

    calls: tuple[Call, ...]  # (function name, arguments as JSON text)
    content: str | None = None


def read_calls(text: str, rules: ReplyRules) -> ToolCalls | None:
    """The tool calls `text` makes under `rules`, or None if it is a plain answer."""
    if rules.forced_tool is not None:
        return ToolCalls(((rules.forced_tool, text.strip()),))
    if not rules.reads_calls:
        return None
    parsed = parse_calls(text, set(rules.offered) if rules.offered else None)
    if parsed is None:
        return None
    head, calls = parsed
    return ToolCalls(calls if rules.parallel else calls[:1], head or None)


def finish_reason(final: Chunk | None) -> str:
    """What a client is told: "length" when cut by max_tokens, else "stop" ("cancelled" means it left)."""
    return "length" if final is not None and final.finish_reason == "length" else "stop"


@dataclass(frozen=True)
class Piece:
    """What of one chunk may be shown now."""

    thinking: str = ""
    answer: str = ""
    arguments: str = ""  # of the forced call, as they stream
    logprobs: tuple[TokenLogprob, ...] = ()  # of the answer text shown now


@dataclass(frozen=True)
class Reply:
    """A whole reply, read."""

    text: str  # as generated, thinking included (what the request log keeps)
    thinking: str
    content: str | None  # the answer (for a reply of calls: the text before them, or None)
    calls: tuple[Call, ...]
    finish_reason: str  # "stop", "length" or "tool_calls"
    final: Chunk | None
    rest: str = ""  # answer text held back while streaming, to show before the calls
    logprobs: tuple[TokenLogprob, ...] = ()  # of the answer's tokens
    arguments_streamed: bool = field(default=False)  # the forced call's arguments went out as pieces


class ReplyReader:
    """Feed it a reply's chunks in order (`feed`), then `finish()`."""

    def __init__(self, rules: ReplyRules, opens_thinking: bool = False) -> None:
        self.rules = rules
        self._splitter = None if rules.constrained else ReasoningSplitter(opens_thinking)
        self._gate = AnswerGate(rules.offered) if rules.reads_calls else None
        self._parts: list[str] = []
        self._thinking: list[str] = []
        self._answer: list[str] = []
        self._chunk_logprobs: list[tuple[int, tuple[TokenLogprob, ...]]] = []  # (text length, logprobs)
        self._final: Chunk | None = None
        self._arguments = False

    @property
    def text(self) -> str:
        """The reply so far, as generated."""
        return "".join(self._parts)

    def feed(self, chunk: Chunk) -> Piece:
        """Read one chunk; what of it may be shown now."""
        if chunk.finish_reason is not None:
            self._final = chunk
        self._parts.append(chunk.text)
        thought, piece = "", chunk.text
        if self._splitter is not None:
            thought, piece = self._splitter.feed(piece)
            if chunk.finish_reason:  # the last chunk's own text, then whatever was held back
                more_thought, more = self._splitter.finish()
                thought, piece = thought + more_thought, piece + more
        self._thinking.append(thought)
        self._answer.append(piece)
        # A token's logprob goes with the answer only if its text did (thinking has none in OpenAI's shape).
        answered = self._splitter is None or bool(piece)
        logprobs = chunk.logprobs if answered else ()
        self._chunk_logprobs.append((len(chunk.text), chunk.logprobs))
        if self._gate is not None:
            return Piece(thought, self._gate.feed(piece))
        if self.rules.forced_tool is not None:
            self._arguments = self._arguments or bool(piece)
            return Piece(thought, arguments=piece)
        return Piece(thought, piece, logprobs=logprobs)

    def finish(self) -> Reply:
        """The reply read: content, calls (the model's, or those a remote backend reported), finish."""
        final = self._final
        answer = "".join(self._answer)
        finish = finish_reason(final)
        calls: ToolCalls | None
        if final is not None and final.tool_calls:
            reported = final.tool_calls if self.rules.parallel else final.tool_calls[:1]
            calls = ToolCalls(reported, answer or None)
        else:
            calls = read_calls(answer, self.rules)
        rest = ""
        if self._gate is not None:
            rest = self._gate.rest(None if calls is None else calls.content or "")
        if calls is not None and finish == "stop":
            finish = "tool_calls"
        content = answer if calls is None else calls.content
        return Reply(self.text, "".join(self._thinking), content, calls.calls if calls else (), finish, final,
                     rest, self._answer_logprobs(len(answer)), self._arguments)

    def _answer_logprobs(self, answer_chars: int) -> tuple[TokenLogprob, ...]:
        """Logprobs of the chunks whose text is part of the answer: its last `answer_chars` characters
        (thinking comes before it)."""
        answer_from = sum(size for size, _ in self._chunk_logprobs) - answer_chars
        kept: list[TokenLogprob] = []
        at = 0
        for size, logprobs in self._chunk_logprobs:
            at += size
            if at > answer_from:
                kept.extend(logprobs)
        return tuple(kept)
