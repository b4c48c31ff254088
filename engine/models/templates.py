"""Chat templates: turning a list of messages into the prompt text a model was trained on.

Templates come from model files, which are untrusted (a peer's CVE-2024-34359 was code execution from a
GGUF template), so they are rendered only in Jinja's immutable sandbox, with every value capped
(engine.sandbox.jinja_env), in a child process under a time limit and a memory cap (engine.sandbox):
a template that loops for ever or builds gigabytes fails the request, never the server. When a GGUF
has no template, a builtin one is chosen by architecture; a per-model override (builtin name or Jinja
source) wins.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.errors import UserError
from engine.sandbox import SandboxError, SandboxRefused, SandboxTimeout, default_pool
from engine.sandbox.jinja_env import MAX_TEMPLATE_CHARS, MAX_VALUE_CHARS

MAX_RENDERED_CHARS = MAX_VALUE_CHARS
# When the template work of one request must end (time.monotonic()); None: each render gets the limit.
_deadline: ContextVar[float | None] = ContextVar("template_deadline", default=None)

BUILTIN_TEMPLATES: dict[str, str] = {
    "chatml": (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
    # Gemma has no system role: the system text is prepended to the first user turn.
    "gemma": (
        "{{ bos_token }}{% set sys = namespace(text='') %}"
        "{% for m in messages %}{% if m.role == 'system' %}{% set sys.text = m.content + '\n\n' %}"
        "{% else %}<start_of_turn>{{ 'model' if m.role == 'assistant' else 'user' }}\n"
        "{% if m.role == 'user' %}{{ sys.text }}{% set sys.text = '' %}{% endif %}"
        "{{ m.content }}<end_of_turn>\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n"
        "{{ m.content }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    ),
    "mistral": (
        "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]"
        "{% elif m.role == 'assistant' %}{{ m.content }}{{ eos_token }}{% else %}{{ m.content }}\n\n"
        "{% endif %}{% endfor %}"
    ),
}

# Strings that end a turn in each builtin format, used as stop sequences.
BUILTIN_STOPS: dict[str, tuple[str, ...]] = {
    "chatml": ("<|im_end|>", "<|im_start|>"),
    "gemma": ("<end_of_turn>", "<start_of_turn>"),
    "llama3": ("<|eot_id|>", "<|start_header_id|>"),
    "mistral": ("[INST]",),
}

_ARCH_FALLBACK = {
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3": "gemma",
    "gemma3n": "gemma",
    "mistral": "mistral",
    "mistral3": "mistral",
}


class TemplateError(UserError):
    """A chat template is malformed, tries something forbidden, or fails to render."""


@dataclass(frozen=True)
class ChatTemplate:
    """A resolved template: where it came from and the stop strings that end a turn."""

    source: str
    origin: str  # "override", "gguf" or "builtin:<name>"
    stops: tuple[str, ...]


class TemplateTimeout(TemplateError):
    """The template work of a request ran past its time limit (it ends the request: no fallback)."""


@contextmanager
def time_budget(seconds: float | None = None) -> Iterator[None]:
    """Every render inside shares one time limit (default: the sandbox's), as one request's do."""
    limit = default_pool().limits.timeout_s if seconds is None else seconds
    token = _deadline.set(time.monotonic() + limit)
    try:
        yield
    finally:
        _deadline.reset(token)


def _sandboxed(op: str, source: str, *args: Any) -> Any:
    deadline = _deadline.get()
    pool = default_pool()
    timeout = pool.limits.timeout_s if deadline is None else deadline - time.monotonic()
    try:
        # Keyed by the template: one hostile template never holds every sandbox process.
        return pool.run(op, source, *args, timeout=timeout, key=source)
    except SandboxTimeout:
        limit = pool.limits.timeout_s
        raise TemplateTimeout(f"the model's chat template took too long to render (limit {limit:g} s)") from None
    except SandboxRefused as exc:
        raise TemplateError(str(exc)) from None
    except SandboxError as exc:
        raise TemplateError(f"the model's chat template could not be rendered: it {exc}") from None


@lru_cache(maxsize=32)
def _declares_tools(source: str) -> bool:
    return bool(_sandboxed("declares_tools", source))


def uses_tools(template: ChatTemplate) -> bool:
    """Whether the template has its own syntax for offered tools (it reads a `tools` variable).

    Models trained on such a template (Qwen 2.5, Llama 3.1, Mistral, Hermes…) call tools far more
    reliably when they see the tools written the way they were trained on than from a system note.
    """
    if len(template.source) > MAX_TEMPLATE_CHARS:
        return False
    try:
        return _declares_tools(template.source)
    except TemplateTimeout:
        raise
    except TemplateError:
        return False  # rendering will say what is wrong with it


def fallback_name(architecture: str, vocab_tokens_hint: str | None = None) -> str:
    """The builtin template for a model without one, chosen by architecture."""
    if architecture in _ARCH_FALLBACK:
        return _ARCH_FALLBACK[architecture]
    if architecture == "llama" and vocab_tokens_hint == "llama3":
        return "llama3"
    return "chatml"


def resolve_template(
    *, override: str | None, embedded: str | None, architecture: str, vocab_hint: str | None = None
) -> ChatTemplate:
    """Pick the template: the user's override, else the GGUF's own, else the architecture's builtin."""
    if override:
        if override in BUILTIN_TEMPLATES:
            return ChatTemplate(BUILTIN_TEMPLATES[override], f"builtin:{override}", BUILTIN_STOPS[override])
        return ChatTemplate(override, "override", _guess_stops(override))
    if embedded:
        return ChatTemplate(embedded, "gguf", _guess_stops(embedded))
    name = fallback_name(architecture, vocab_hint)
    return ChatTemplate(BUILTIN_TEMPLATES[name], f"builtin:{name}", BUILTIN_STOPS[name])


def _guess_stops(source: str) -> tuple[str, ...]:
    """Turn-end markers a Jinja template uses, so generation stops at the end of the turn."""
    return tuple(stop for stops in BUILTIN_STOPS.values() for stop in stops if stop in source)


def render_chat(
    template: ChatTemplate,
    messages: Sequence[Mapping[str, Any]],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Render `messages` with the sandboxed template; any failure is one TemplateError."""
    if len(template.source) > MAX_TEMPLATE_CHARS:
        raise TemplateError("the chat template is implausibly large; refusing to render it")
    variables = {
        "messages": [dict(m) for m in messages],
        "bos_token": bos_token,
        "eos_token": eos_token,
        "add_generation_prompt": add_generation_prompt,
        **(extra or {}),
    }
    # In a sandbox child: time-limited (one budget per request, see time_budget) and memory-capped.
    return str(_sandboxed("render", template.source, variables))


# Stand-ins for a reply and the next message: private-use characters that no real conversation holds.
_REPLY_MARK = "\ue000"
_NEXT_MARK = "\ue001"


def turn_change(
    template: ChatTemplate,
    messages: Sequence[Mapping[str, Any]],
    prompt: str,
    *,
    bos_token: str = "",
    eos_token: str = "",
    extra: Mapping[str, Any] | None = None,
) -> str:
    """What the template writes between the reply to `messages` and the user's next message ("" if unsure).

    `prompt` is the rendered prompt of `messages`. A template that renders the history differently once
    a reply follows (some drop earlier reasoning) gives "": the next prompt would not continue this one.
    """
    probe = [*messages, {"role": "assistant", "content": _REPLY_MARK}, {"role": "user", "content": _NEXT_MARK}]
    try:
        text = render_chat(
            template, probe, bos_token=bos_token, eos_token=eos_token, add_generation_prompt=False, extra=extra
        )
    except TemplateError:
        return ""
    reply_at = text.find(_REPLY_MARK)
    next_at = text.find(_NEXT_MARK, reply_at + 1)
    if reply_at < 0 or next_at < 0 or text[:reply_at] != prompt:
        return ""
    return text[reply_at + 1 : next_at]
