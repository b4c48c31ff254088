"""The Jinja environment chat templates render in: the immutable sandbox, with every value capped.

Templates are untrusted (a peer's CVE-2024-34359 was code execution from a GGUF template). Jinja's
immutable sandbox keeps them away from Python internals; on top of it nothing a template builds may
exceed MAX_VALUE_CHARS: operators (`*`, `**`, `+`, `%`, `~`), every filter, every method call and the
output itself are checked, and widths, fills and separators are checked before the work is done (a
`center(10**9)` would allocate its gigabyte before any check after it). This module runs inside the
sandbox child process (engine.sandbox.child), which adds the wall-clock limit and the memory cap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
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

MAX_TEMPLATE_CHARS = 200_000
MAX_VALUE_CHARS = 4_000_000  # any string, list or mapping a template builds, and the rendered prompt
MAX_JSON_INDENT = 8
MAX_EXPONENT = 64
MAX_INT_BITS = 65_536
MAX_STRFTIME_CHARS = 256
TOO_BIG = "the chat template builds an implausibly large value; refusing to render it"


class TemplateRefused(Exception):
    """The template failed, tried something forbidden, or built something too large (one clear message)."""


def _raise_exception(message: str) -> None:
    raise TemplateRefused(f"the chat template refused the conversation: {message}")


def _strftime_now(fmt: str) -> str:
    if len(str(fmt)) > MAX_STRFTIME_CHARS:
        raise TemplateRefused(TOO_BIG)
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


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) else 0


def _check(value: Any) -> Any:
    if _size(value) > MAX_VALUE_CHARS:
        raise TemplateRefused(TOO_BIG)
    return value


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_DIGITS = re.compile(r"\d+")


def _format_estimate(fmt: Any, args: Iterable[Any]) -> int:
    """An upper bound of what `fmt % args` or `fmt.format(*args)` writes: every number in the format
    (a width or precision) and every integer argument (a `*` width) might be a width."""
    text = str(fmt)
    widths = sum(min(int(d), 10**12) for d in _DIGITS.findall(text) if len(d) < 13)
    if any(len(d) >= 13 for d in _DIGITS.findall(text)):
        return MAX_VALUE_CHARS + 1
    total = len(text) + widths
    for arg in args:
        values = arg.values() if isinstance(arg, Mapping) else (arg,)
        for value in values:
            total += _size(value) if _size(value) else 32 + max(0, _int(value))
    return total


def _pre_check(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse a filter or string method whose arguments would make it build too large a value."""

    def arg(index: int, key: str, default: Any) -> Any:
        return args[index] if len(args) > index else kwargs.get(key, default)

    size = _size(value) if isinstance(value, str) else len(str(value)) if name in ("indent", "wordwrap") else 0
    estimate = 0
    if name in ("center", "ljust", "rjust", "zfill"):
        estimate = _int(arg(0, "width", 0))
    elif name == "expandtabs":
        estimate = size * max(1, _int(arg(0, "tabsize", 8)))
    elif name == "indent":
        width = arg(0, "width", 4)
        width = len(width) if isinstance(width, str) else _int(width)
        estimate = size + (str(value).count("\n") + 1) * width
    elif name == "wordwrap":
        wrap = arg(2, "wrapstring", None)
        estimate = size + (size // max(1, _int(arg(0, "width", 79))) + 1) * (_size(wrap) + 1)
    elif name == "replace" and isinstance(value, str):
        old, new, count = arg(0, "old", ""), arg(1, "new", ""), arg(2, "count", None)
        hits = value.count(old) if isinstance(old, str) and old else size + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        estimate = size + hits * _size(new)
    elif name in ("format", "format_map"):
        estimate = _format_estimate(value, (*args, *kwargs.values()))
    elif name == "join":
        items = value if name == "join" and not isinstance(value, str) else args[0] if args else ()
        separator = value if isinstance(value, str) else arg(0, "d", "")
        if isinstance(items, (list, tuple, str)):
            estimate = sum(_size(item) for item in items) + len(items) * _size(separator)
    elif name == "translate":
        table = arg(0, "table", {})
        longest = max((_size(v) for v in table.values()), default=1) if isinstance(table, Mapping) else 1
        estimate = size * max(1, longest)
    elif name in ("batch", "slice"):
        estimate = _int(arg(0, "linecount" if name == "batch" else "slices", 0))
    elif name == "sum" and not isinstance(arg(1, "start", 0), (int, float)):
        estimate = MAX_VALUE_CHARS + 1  # summing lists or strings is quadratic concatenation
    if estimate > MAX_VALUE_CHARS:
        raise TemplateRefused(TOO_BIG)


def _capped_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (a Jinja filter) with its arguments checked before and its result after."""
    pass_arg = getattr(function, "jinja_pass_arg", None)

    def capped(*args: Any, **kwargs: Any) -> Any:
        first = 1 if pass_arg is not None else 0  # context/environment/eval context comes first
        if len(args) > first:
            value = args[first]
            if name == "join" and not isinstance(value, (str, list, tuple)):
                value = list(value)
                args = (*args[:first], value, *args[first + 1 :])
            _pre_check(name, value, args[first + 1 :], kwargs)
        return _check(function(*args, **kwargs))

    if pass_arg is not None:
        capped.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return capped


class _CappedConcat(jinja2.compiler.CodeGenerator):
    """Compiles `a ~ b` to the sandbox's `capped_join` instead of a plain join."""

    def visit_Concat(self, node: jinja2.nodes.Concat, frame: jinja2.compiler.Frame) -> None:
        self.write("environment.capped_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, where nothing a template does can build a huge value: `'x' * 10**9`,
    a text doubled in a loop (with `+` or `~`), `'%9999999999s' % x`, `s.center(10**9)`, a filter with a
    huge width, a macro or block whose output grows in a loop, all stop at MAX_VALUE_CHARS."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CappedConcat

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if _too_big(operator, left, right):
            raise TemplateRefused(TOO_BIG)
        return _check(super().call_binop(context, operator, left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A call from template code: string methods that pad, fill or repeat are checked first."""
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _pre_check(getattr(__obj, "__name__", ""), owner, args, kwargs)
        return _check(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`s.format(…)` and `s.format_map(…)`, which Jinja wraps when they are looked up: widths checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        owner, name = value.__self__, value.__name__

        def checked(*args: Any, **kwargs: Any) -> str:
            _pre_check(name, owner, args, kwargs)
            return str(_check(wrapped(*args, **kwargs)))

        return checked

    def capped_join(self, parts: tuple[Any, ...]) -> str:
        text = "".join(map(str, parts))
        return str(_check(text))

    def concat(self, parts: Iterable[str]) -> str:
        """Output of the template, a macro, a block or `{% set %}…{% endset %}`, stopped once too long."""
        pieces, total = [], 0
        for piece in parts:
            total += len(piece)
            if total > MAX_VALUE_CHARS:
                raise TemplateRefused(TOO_BIG)
            pieces.append(piece)
        return "".join(pieces)


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
            isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_VALUE_CHARS
            for seq, n in ((left, right), (right, left))
        )
    if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        return len(left) + len(right) > MAX_VALUE_CHARS
    if operator == "%" and isinstance(left, str):
        values = right if isinstance(right, tuple) else (right,)
        return _format_estimate(left, values) > MAX_VALUE_CHARS
    return False


class _GenerationBlock(jinja2.ext.Extension):
    """`{% generation %}…{% endgeneration %}`, which transformers uses to mark the assistant's text for
    training, renders as its body (LFM 2.5 and Laguna templates have it)."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> list[jinja2.nodes.Node]:
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


# Filters that chat templates have no use for and whose cost grows with arguments (urlize inserts its
# `target` per link, lipsum writes as many paragraphs as asked).
_DROPPED_FILTERS = ("urlize",)


def _environment() -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.loopcontrols", _GenerationBlock],
        autoescape=False,
    )
    env.globals.pop("lipsum", None)
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.filters["tojson"] = _tojson
    for name in _DROPPED_FILTERS:
        env.filters.pop(name, None)
    env.filters = {name: _capped_filter(name, function) for name, function in env.filters.items()}
    return env


@lru_cache(maxsize=32)
def compiled(source: str) -> jinja2.Template:
    """The compiled template (cached: compiling is most of the cost of rendering; failures raise)."""
    return _environment().from_string(source)


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render `source` with `variables`; TemplateRefused with one clear message on any failure."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateRefused("the chat template is implausibly large; refusing to render it")
    try:
        text = compiled(source).render(**variables)
    except TemplateRefused:
        raise
    except jinja2.exceptions.SecurityError:
        raise TemplateRefused("the model's chat template tried to reach Python internals; refused") from None
    except jinja2.TemplateError as exc:
        message = exc.message or type(exc).__name__
        raise TemplateRefused(f"the model's chat template failed to render: {message}") from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
        raise TemplateRefused(f"the model's chat template failed to render: {type(exc).__name__}") from None
    if len(text) > MAX_VALUE_CHARS:
        raise TemplateRefused("the chat template produced an implausibly long prompt")
    return text


def declares_tools(source: str) -> bool:
    """Whether the template reads a `tools` variable it does not set itself."""
    try:
        return "tools" in jinja2.meta.find_undeclared_variables(_environment().parse(source))
    except (jinja2.TemplateError, RecursionError):
        return False  # rendering will say what is wrong with it
