"""A chat reply read back as tool calls under the request's plan (the shapes: engine.models.call_syntax)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from engine.api.grammar import OutputPlan
from engine.models.call_syntax import Call, parse_calls


@dataclass(frozen=True)
class ToolCalls:
    """The calls in a reply, and any text the model wrote before them."""

    calls: tuple[Call, ...]  # (function name, arguments as JSON text)
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
    parsed = parse_calls(text, offered)
    if parsed is None:
        return None
    head, calls = parsed
    return ToolCalls(calls if parallel else calls[:1], head or None)
