"""A chat reply read back as tool calls under the request's plan (the reading itself: engine.replies)."""

from __future__ import annotations

import secrets

from engine.api.grammar import OutputPlan
from engine.api.schemas import ChatCompletionRequest
from engine.replies import ReplyRules, ToolCalls, read_calls

__all__ = ["ToolCalls", "new_call_id", "read_tool_calls", "reply_rules"]


def new_call_id() -> str:
    """An id for a tool call, in OpenAI's style."""
    return "call_" + secrets.token_urlsafe(18)


def rules_of(plan: OutputPlan, *, parallel: bool = True) -> ReplyRules:
    """The engine's reading rules for an OpenAI request's output plan."""
    return ReplyRules(
        constrained=plan.grammar is not None,
        forced_tool=plan.forced_tool,
        any_tool=plan.any_tool,
        offered=tuple(t.function.name for t in plan.tools_offered),
        parallel=parallel,
    )


def reply_rules(request: ChatCompletionRequest, plan: OutputPlan) -> ReplyRules:
    """How the engine reads the reply to `request` (its plan, and `parallel_tool_calls`)."""
    return rules_of(plan, parallel=request.parallel_tool_calls is not False)


def read_tool_calls(text: str, plan: OutputPlan, *, parallel: bool = True) -> ToolCalls | None:
    """The tool calls `text` makes under `plan`, or None if it is a plain answer.

    `parallel=False` (the request's `parallel_tool_calls`) keeps only the first call.
    """
    return read_calls(text, rules_of(plan, parallel=parallel))
