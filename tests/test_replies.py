"""Reply assembly (engine.replies), the same for every backend: thinking, answer, tool calls, finish."""

from __future__ import annotations

from engine.replies import ReplyReader, ReplyRules
from engine.runtime import Chunk, TokenLogprob, Usage

USAGE = Usage(5, 3, 0, 5)


def _read(rules: ReplyRules, texts: list[str], final: Chunk, opens_thinking: bool = False):  # type: ignore[no-untyped-def]
    reader = ReplyReader(rules, opens_thinking)
    pieces = [reader.feed(Chunk(t)) for t in texts] + [reader.feed(final)]
    return pieces, reader.finish()


def test_thinking_is_split_out_as_it_streams() -> None:
    pieces, reply = _read(ReplyRules(), ["<think>hm", "m</think>", "Yes."], Chunk("", "stop", USAGE))
    assert "".join(p.thinking for p in pieces) == reply.thinking == "hmm"
    assert "".join(p.answer for p in pieces) == reply.content == "Yes."
    assert reply.text == "<think>hmm</think>Yes." and reply.finish_reason == "stop" and reply.calls == ()


def test_a_grammar_reply_is_not_split() -> None:
    _, reply = _read(ReplyRules(constrained=True), ["<think>{}"], Chunk("", "length", USAGE))
    assert (reply.thinking, reply.content, reply.finish_reason) == ("", "<think>{}", "length")


def test_calls_in_the_text_are_held_back_then_read() -> None:
    rules = ReplyRules(offered=("get_time",))
    pieces, reply = _read(rules, ['{"name": "get_time", ', '"arguments": {}}'], Chunk("", "stop", USAGE))
    assert not any(p.answer for p in pieces)  # it might have been (and was) a call: nothing shown as text
    assert reply.calls == (("get_time", "{}"),) and reply.content is None and reply.finish_reason == "tool_calls"


def test_calls_a_remote_backend_reported_count_as_calls() -> None:
    final = Chunk("", "tool_calls", USAGE, tool_calls=(("get_time", '{"tz": "UTC"}'), ("get_date", "{}")))
    _, reply = _read(ReplyRules(offered=("get_time", "get_date")), [], final)
    assert reply.calls == final.tool_calls and reply.finish_reason == "tool_calls"
    _, first_only = _read(ReplyRules(offered=("get_time", "get_date"), parallel=False), [], final)
    assert first_only.calls == (("get_time", '{"tz": "UTC"}'),)
    _, forced = _read(ReplyRules(forced_tool="get_time"), [], final)
    assert forced.calls[0] == ("get_time", '{"tz": "UTC"}') and not forced.arguments_streamed


def test_a_forced_call_streams_its_arguments() -> None:
    pieces, reply = _read(ReplyRules(forced_tool="f"), ['{"a":', " 1}"], Chunk("", "stop", USAGE))
    assert "".join(p.arguments for p in pieces) == '{"a": 1}' and reply.arguments_streamed
    assert reply.calls == (("f", '{"a": 1}'),) and reply.finish_reason == "tool_calls"


def test_logprobs_go_with_the_answer_only() -> None:
    lp = (TokenLogprob("x", -0.1),)
    reader = ReplyReader(ReplyRules(), opens_thinking=True)
    assert reader.feed(Chunk("idea", logprobs=lp)).logprobs == ()  # thinking
    reader.feed(Chunk("</think>", logprobs=lp))
    assert reader.feed(Chunk("Answer", logprobs=lp)).logprobs == lp
    reply = reader.finish()
    assert (reply.thinking, reply.content) == ("idea", "Answer") and reply.logprobs == lp
