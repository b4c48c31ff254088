"""What a JSON schema may expand to, checked before it is converted to a grammar.

llama-cpp-python's converter writes repetition out: `"maxLength": n`, `"maxItems": n` and a regex
quantifier `{m,n}` each become n copies of a rule, optional properties a chain of rules each, every
`enum` value a literal, and rule names grow with nesting. A 221-byte schema could therefore ask for
gigabytes. Here the schema is first made canonical (local references only, each target hoisted under
a safe generated name, so recursive schemas such as a tree of nodes work and `#` may refer to the
root), then walked the way the converter walks it, adding up an upper estimate of the grammar text it
would write; counts, nesting (references included) and the estimate are bounded, each with its own 400.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

MAX_DEPTH = 32  # schema levels, counted through references
MAX_BOUND = 1000  # minLength … maxItems, and every regex quantifier count
MAX_PROPERTIES = 256  # properties of one object (the converter's work grows with their square)
MAX_ENUM = 1024  # values of one enum
MAX_PATTERN_DEPTH = 32  # nested groups in one regex pattern
MAX_ESTIMATE = 1024 * 1024  # estimated grammar text, in characters
BOUNDS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("additionalProperties", "items", "not")
_INVALID_RULE_CHARS = re.compile(r"[^a-zA-Z0-9-]+")


class SchemaRefused(ValueError):
    """The schema is outside the bounds; the message says which, in words for the client."""


def bounded_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The canonical form of `schema` for the converter, after checking what it expands to."""
    canonical = _Canonical(schema).result()
    _Estimate(canonical).run()
    return canonical


def _too_deep() -> SchemaRefused:
    return SchemaRefused(f"the JSON schema is nested too deeply (more than {MAX_DEPTH} levels, references included)")


def _property_names(node: Any, names: set[str], depth: int = 0) -> None:
    if depth > 4 * MAX_DEPTH:
        raise _too_deep()
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            names.update(_INVALID_RULE_CHARS.sub("-", str(k)) for k in properties)
        for value in node.values():
            _property_names(value, names, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _property_names(value, names, depth + 1)


class _Canonical:
    """Local `$ref`s resolved (JSON pointers, `#` for the root) and their targets hoisted to `$defs`."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        names: set[str] = set()
        _property_names(root, names)
        # Generated names must not start like any property's rule name, or the converter would mix
        # the two rules up (it names rules after properties, and references by their last segment).
        self.prefix = "ref"
        while any(name.startswith(self.prefix) for name in names):
            self.prefix += "x"
        self.names: dict[str, str] = {}
        self.defs: dict[str, Any] = {}

    def result(self) -> dict[str, Any]:
        top = self.walk(self.root, 0)
        if not isinstance(top, dict):
            raise SchemaRefused("a JSON schema must be an object")
        if "#" in self.names:
            top = {"$ref": f"#/$defs/{self.names['#']}"}
        if "$ref" in top:  # the converter only follows references below a node without one
            top = {"anyOf": [top]}
        if _left_recursive(self.defs):
            # `a: {anyOf: [{$ref: a}, …]}`: a grammar rule that starts with itself, which llama.cpp
            # refuses (left recursion); a node that nests itself inside an object or array is fine.
            raise SchemaRefused("a JSON schema reference refers back to itself before any content")
        if self.defs:
            top["$defs"] = self.defs
        return top

    def resolve(self, ref: str) -> Any:
        target: Any = self.root
        pointer = unquote(ref[1:])
        if pointer and not pointer.startswith("/"):
            raise SchemaRefused("only JSON-pointer references ($ref \"#/…\") are supported in a JSON schema")
        for part in pointer.split("/")[1:] if pointer else ():
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise SchemaRefused(f"the JSON schema reference {ref[:100]!r} points at nothing")
        return target

    def reference(self, ref: Any, depth: int) -> dict[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaRefused("only local references ($ref starting with #) are allowed in a JSON schema")
        key = "#" if ref in ("#", "#/") else ref
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = f"{self.prefix}{len(self.names)}"
            self.defs[name] = {}  # taken before walking the target: a reference back to it is recursion
            self.defs[name] = self.walk(self.resolve(key), depth + 1)
        return {"$ref": f"#/$defs/{name}"}

    def walk(self, node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _too_deep()
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return self.reference(node["$ref"], depth)
        for bound in BOUNDS:
            value = node.get(bound)
            valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_BOUND
            if value is not None and not valid:
                raise SchemaRefused(f"{bound} must be an integer from 0 to {MAX_BOUND}")
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$defs", "definitions"):
                continue  # reached through references, under generated names
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: self.walk(child, depth + 1) for name, child in value.items()}
            elif key in _SCHEMA_LISTS and isinstance(value, list) or key in _SCHEMA_VALUES and isinstance(value, list):
                out[key] = [self.walk(child, depth + 1) for child in value]
            elif key in _SCHEMA_VALUES:
                out[key] = self.walk(value, depth + 1)
            else:
                out[key] = value
        return out


def _leading_refs(node: Any) -> set[str]:
    """The definitions `node` starts with directly: itself a reference, or one among its alternatives."""
    if not isinstance(node, dict):
        return set()
    if "$ref" in node:
        return {str(node["$ref"]).rsplit("/", 1)[-1]}
    alternatives = node.get("oneOf") or node.get("anyOf")
    if isinstance(alternatives, list):
        return set().union(*(_leading_refs(a) for a in alternatives))
    return set()


def _left_recursive(defs: dict[str, Any]) -> bool:
    """Whether some definition can start with itself (a cycle of leading references), in linear time."""
    edges = {name: _leading_refs(node) for name, node in defs.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    for start in edges:
        if start in state:
            continue
        stack = [(start, iter(edges[start]))]
        state[start] = 1
        while stack:
            name, pending = stack[-1]
            following = next(pending, None)
            if following is None:
                state[name] = 2
                stack.pop()
            elif state.get(following) == 1:
                return True
            elif following not in state and following in edges:
                state[following] = 1
                stack.append((following, iter(edges[following])))
    return False


class _Estimate:
    """Walks the canonical schema as the converter does, adding up what it would write."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.total = 0
        self.visited: set[str] = set()
        self.resolving: set[str] = set()

    def run(self) -> None:
        self.visit({k: v for k, v in self.schema.items() if k != "$defs"}, len("root"), 0)

    def add(self, size: int) -> None:
        self.total += size
        if self.total > MAX_ESTIMATE:
            raise SchemaRefused(
                f"the JSON schema expands to too large a grammar (over {MAX_ESTIMATE // 1024} KiB estimated)"
            )

    def visit(self, node: Any, name: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _too_deep()
        if not isinstance(node, dict):
            return  # the converter refuses it
        self.add(name + 8)
        kind = node.get("type")
        if "$ref" in node:
            self._reference(str(node["$ref"]), depth)
        elif "oneOf" in node or "anyOf" in node:
            alternatives = node.get("oneOf") or node.get("anyOf") or []
            for i, alternative in enumerate(alternatives if isinstance(alternatives, list) else ()):
                self.visit(alternative, name + len("alternative-") + len(str(i)), depth + 1)
        elif isinstance(kind, list):
            self.add(len(kind) * (name + 24))
        elif "const" in node:
            self.add(4 * len(json.dumps(node["const"])) + 8)
        elif "enum" in node:
            values = node["enum"] if isinstance(node["enum"], list) else []
            if len(values) > MAX_ENUM:
                raise SchemaRefused(f"an enum may have at most {MAX_ENUM} values")
            self.add(sum(4 * len(json.dumps(v)) + 3 for v in values))
        elif kind in (None, "object") and (
            "properties" in node or ("additionalProperties" in node and node["additionalProperties"] is not True)
        ):
            given = node.get("properties")
            properties: dict[str, Any] = given if isinstance(given, dict) else {}
            self._object(properties, node.get("additionalProperties"), name, depth)
        elif kind in (None, "object") and "allOf" in node:
            merged: dict[str, Any] = {}
            for part in node["allOf"] if isinstance(node["allOf"], list) else ():
                for component in part.get("anyOf", [part]) if isinstance(part, dict) else ():
                    if isinstance(component, dict) and "$ref" in component:
                        component = self.defs.get(str(component["$ref"]).rsplit("/", 1)[-1], {})
                    if isinstance(component, dict) and isinstance(component.get("properties"), dict):
                        merged.update(component["properties"])
            self._object(merged, None, name, depth)
        elif kind in (None, "array") and ("items" in node or "prefixItems" in node):
            items = node.get("items") or node.get("prefixItems")
            if isinstance(items, list):
                for i, item in enumerate(items):
                    self.visit(item, name + len("-tuple-") + len(str(i)), depth + 1)
            else:
                self.visit(items, name + len("-item"), depth + 1)
                self._repeat(node.get("minItems", 0), node.get("maxItems"), name + 16)
        elif kind in (None, "string") and "pattern" in node:
            pattern = node["pattern"]
            self.add(_pattern_cost(pattern, name) if isinstance(pattern, str) else 0)
        elif kind == "string" and ("minLength" in node or "maxLength" in node):
            self._repeat(node.get("minLength", 0), node.get("maxLength"), len("char") + 8)
        else:
            self.add(512)  # a builtin rule and what it depends on

    def _reference(self, ref: str, depth: int) -> None:
        target = ref.rsplit("/", 1)[-1]
        self.add(len(target) + 4)
        if target in self.visited or target in self.resolving:
            return  # written once, then referred to by name (recursion included)
        self.resolving.add(target)
        self.visit(self.defs.get(target), len(target), depth + 1)
        self.resolving.discard(target)
        self.visited.add(target)

    def _object(self, properties: dict[str, Any], additional: Any, name: int, depth: int) -> None:
        if len(properties) > MAX_PROPERTIES:
            raise SchemaRefused(f"an object in a JSON schema may have at most {MAX_PROPERTIES} properties")
        for key, child in properties.items():
            child_name = name + 1 + len(str(key))
            self.visit(child, child_name, depth + 1)
            self.add(4 * (child_name + 24) + 2 * len(json.dumps(key)))  # key-value rule, rest rule, references
        if additional is True or isinstance(additional, dict):
            self.visit(additional if isinstance(additional, dict) else {}, name + 24, depth + 1)
            self.add(3 * (name + 40))

    def _repeat(self, low: Any, high: Any, unit: int) -> None:
        count = max(low if isinstance(low, int) else 0, high if isinstance(high, int) else 0) + 1
        self.add(count * (unit + 8))


def _quantifier(spec: str) -> tuple[int, int | None]:
    parts = [part.strip() for part in spec.split(",")]
    try:
        if len(parts) == 1:
            return int(parts[0]), int(parts[0])
        if len(parts) == 2:
            return (int(parts[0]) if parts[0] else 0), (int(parts[1]) if parts[1] else None)
    except ValueError:
        pass
    raise SchemaRefused(f"the regex quantifier {{{spec[:20]}}} in a JSON schema pattern is not valid")


_NON_LITERAL = set("|.()[]{}*+?")


def _pattern_cost(pattern: str, name: int) -> int:
    """An upper estimate of the grammar text the converter writes for `pattern` (its regex walk, mirrored)."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        return len(pattern)  # the converter refuses it
    text = pattern[1:-1]
    length = len(text)
    at = 0
    extra = 0  # sub-rules: a repeated group or class is written once, then referred to by name

    def sequence(depth: int) -> int:
        nonlocal at, extra
        if depth > MAX_PATTERN_DEPTH:
            raise SchemaRefused(f"a JSON schema pattern nests groups more than {MAX_PATTERN_DEPTH} deep")
        items: list[tuple[int, bool]] = []  # (cost, is a literal)
        while at < length:
            char = text[at]
            if char == "(":
                at += 1
                items.append((sequence(depth + 1) + 2, False))
            elif char == ")":
                at += 1
                break
            elif char == "[":
                end = at + 1
                while end < length and text[end] != "]":
                    end += 2 if text[end] == "\\" else 1
                items.append((end - at + 1, False))
                at = end + 1
            elif char in ".|":
                items.append((8, False))
                at += 1
            elif char in "*+?":
                if items:
                    items[-1] = (items[-1][0] + 1, False)
                at += 1
            elif char == "{":
                end = text.find("}", at)
                if end < 0:
                    break  # the converter refuses it
                low, high = _quantifier(text[at + 1 : end])
                if max(low, high or 0) > MAX_BOUND or low < 0:
                    message = f"a regex quantifier in a JSON schema pattern may repeat at most {MAX_BOUND} times"
                    raise SchemaRefused(message)
                at = end + 1
                if not items:
                    continue
                cost, literal = items[-1]
                count = max(low, high if high is not None else low) + 1
                if literal:
                    items[-1] = (count * (cost + 6), False)
                else:
                    extra += cost + name + 16
                    items[-1] = (count * (name + 16), False)
            else:
                start = at
                while at < length:  # a run of literal characters, as the converter takes it
                    if text[at] == "\\" and at < length - 1:
                        at += 2
                    elif text[at] not in _NON_LITERAL and (
                        at == length - 1 or at == start or text[at + 1] == "." or text[at + 1] not in _NON_LITERAL
                    ):
                        at += 1
                    else:
                        break
                if at == start:
                    at += 1
                items.append((2 * (at - start) + 2, True))
        return sum(cost for cost, _ in items) + len(items)

    return sequence(0) + extra + name + 16
