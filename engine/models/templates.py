"""Chat templates: turning a list of messages into the prompt text a model was trained on.

Templates come from model files, which are untrusted (a peer's CVE-2024-34359 was code execution from a
GGUF template), so they are rendered only in Jinja's immutable sandbox. When a GGUF has no template,
a builtin one is chosen by architecture; a per-model override (builtin name or Jinja source) wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.compiler
import jinja2.ext
import jinja2.meta
import jinja2.nodes
import jinja2.parser
import jinja2.runtime
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import UserError

MAX_TEMPLATE_CHARS = 200_000
MAX_RENDERED_CHARS = 4_000_000
MAX_JSON_INDENT = 8
MAX_EXPONENT = 64
MAX_INT_BITS = 65_536

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


def _raise_exception(message: str) -> None:
    raise TemplateError(f"the chat template refused the conversation: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: Any = None,
    separators: Any = None,
    sort_keys: bool = False,
) -> str:
    # As transformers renders templates, so as models were trained: keys in their order and no HTML
    # escaping (Jinja's own filter sorts keys and writes < as \u003c), and the keyword arguments that
    # templates pass (GLM, MiniMax, Kimi and others use ensure_ascii=False). A template is untrusted:
    # indentation is a small number of spaces and separators are short, so neither can fill memory.
    if isinstance(value, Iterator):
        value = list(value)  # `tools | map(...)` gives a generator; transformers' templates expect a list
    indent = min(indent, MAX_JSON_INDENT) if isinstance(indent, int) and not isinstance(indent, bool) else None
    if not (
        isinstance(separators, (tuple, list))
        and len(separators) == 2
        and all(isinstance(part, str) and len(part) <= 4 for part in separators)
    ):
        separators = None
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class _CappedConcat(jinja2.compiler.CodeGenerator):
    """Compiles `a ~ b` to the sandbox's `capped_join` instead of a plain join."""

    def visit_Concat(self, node: jinja2.nodes.Concat, frame: jinja2.compiler.Frame) -> None:
        self.write("environment.capped_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, where operators cannot build huge values either: `'x' * 10**9`, or a
    text doubled in a loop (with `+` or `~`), would fill memory before the rendered prompt's length is
    checked. (Filters that pad to a width, such as `center`, are not capped.)"""

    intercepted_binops = frozenset({"*", "**", "+"})
    code_generator_class = _CappedConcat

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if _too_big(operator, left, right):
            raise TemplateError("the chat template builds an implausibly large value; refusing to render it")
        return super().call_binop(context, operator, left, right)

    def capped_join(self, parts: tuple[Any, ...]) -> str:
        text = "".join(map(str, parts))
        if len(text) > MAX_RENDERED_CHARS:
            raise TemplateError("the chat template builds an implausibly large value; refusing to render it")
        return text


def _too_big(operator: str, left: Any, right: Any) -> bool:
    numbers = all(isinstance(x, int) and not isinstance(x, bool) for x in (left, right))
    if operator == "**":
        if not isinstance(right, (int, float)):
            return False
        bits = abs(left).bit_length() if isinstance(left, int) else 64
        return abs(right) > MAX_EXPONENT or bits * abs(right) > MAX_INT_BITS
    if operator == "*" and numbers:
        return bool(left.bit_length() + right.bit_length() > MAX_INT_BITS)
    if operator == "*":
        return any(
            isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_RENDERED_CHARS
            for seq, n in ((left, right), (right, left))
        )
    if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        return len(left) + len(right) > MAX_RENDERED_CHARS
    return False


class _GenerationBlock(jinja2.ext.Extension):
    """`{% generation %}…{% endgeneration %}`, which transformers uses to mark the assistant's text for
    training, renders as its body (LFM 2.5 and Laguna templates have it)."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> list[jinja2.nodes.Node]:
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _environment() -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.loopcontrols", _GenerationBlock],
        autoescape=False,
    )
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.filters["tojson"] = _tojson
    return env


@lru_cache(maxsize=32)
def _compiled(source: str) -> jinja2.Template:
    # Compiling is most of the cost of rendering (the builtin Gemma template: ~4 ms compiled each time,
    # on the model's thread, for every chat request); a compiled template renders in a fraction of that.
    # Failures raise and so are not cached.
    return _environment().from_string(source)


@lru_cache(maxsize=32)
def _declares_tools(source: str) -> bool:
    try:
        return "tools" in jinja2.meta.find_undeclared_variables(_environment().parse(source))
    except jinja2.TemplateError:
        return False  # rendering will say what is wrong with it


def uses_tools(template: ChatTemplate) -> bool:
    """Whether the template has its own syntax for offered tools (it reads a `tools` variable).

    Models trained on such a template (Qwen 2.5, Llama 3.1, Mistral, Hermes…) call tools far more
    reliably when they see the tools written the way they were trained on than from a system note.
    """
    return len(template.source) <= MAX_TEMPLATE_CHARS and _declares_tools(template.source)


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
    try:
        compiled = _compiled(template.source)
        text = compiled.render(
            messages=[dict(m) for m in messages],
            bos_token=bos_token,
            eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
            **(extra or {}),
        )
    except TemplateError:
        raise
    except jinja2.exceptions.SecurityError:
        raise TemplateError("the model's chat template tried to reach Python internals; refused") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(
            f"the model's chat template failed to render: {exc.message or type(exc).__name__}"
        ) from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
        raise TemplateError(f"the model's chat template failed to render: {type(exc).__name__}") from None
    if len(text) > MAX_RENDERED_CHARS:
        raise TemplateError("the chat template produced an implausibly long prompt")
    return text


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
