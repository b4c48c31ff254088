"""What a JSON schema may expand to is bounded before conversion; recursive schemas work within a depth bound."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from engine.api.errors import ApiError
from engine.api.grammar import MAX_GRAMMAR_BYTES, schema_grammar
from engine.api.schema_bounds import MAX_BOUND, MAX_DEPTH, MAX_ENUM, MAX_PROPERTIES, SchemaRefused, bounded_schema

PARAM = "response_format.json_schema.schema"
TREE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}},
    "required": ["name", "children"],
}


def refused(schema: dict[str, Any]) -> str:
    """The 400's message for `schema` (which must be refused quickly)."""
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        schema_grammar(schema, PARAM)
    assert time.monotonic() - started < 2.0
    assert caught.value.status == 400 and caught.value.param == PARAM and caught.value.code == "invalid_schema"
    return caught.value.message


def pattern(regex: str) -> dict[str, Any]:
    return {"type": "string", "pattern": regex}


@pytest.mark.parametrize(
    "regex",
    [
        "^(ab|c){1,30000000}$",  # the reported attack
        "^a{30000000}$",  # a literal, exact count
        "^[a-z]{5,}x{2000,}$",  # open-ended, after another
        "^(?:x){1001}$".replace("?:", ""),  # a group, just over the bound
        "^\\d{0,99999999999999999999}$",  # an escape, a count beyond any integer type
        "^((a{1000}){1000}){1001}$",  # nested groups, the outer one over
    ],
)
def test_every_form_of_regex_quantifier_is_bounded(regex: str) -> None:
    assert f"at most {MAX_BOUND} times" in refused(pattern(regex))


def test_counts_within_the_bound_still_add_up_to_a_bounded_grammar() -> None:
    # Nested quantifiers each within the bound: the converter writes sub-rules, so the grammar grows
    # with their sum, which the estimate follows; many of them together are refused by the estimate.
    assert len(schema_grammar(pattern("^((a{1000}){1000}){1000}$"), PARAM)) < MAX_GRAMMAR_BYTES
    many = {"type": "object", "properties": {f"p{i}": pattern("^[a-z]{1000}$") for i in range(120)}}
    assert "too large a grammar" in refused(many)
    lengths = {"type": "object", "properties": {f"p{i}": {"type": "string", "maxLength": 1000} for i in range(200)}}
    assert "too large a grammar" in refused(lengths)
    inner = {"type": "array", "items": {"type": "integer"}, "maxItems": 1000}
    items = {"type": "array", "items": inner, "maxItems": 1000}
    assert len(schema_grammar(items, PARAM)) < MAX_GRAMMAR_BYTES  # nesting does not multiply
    assert "too large a grammar" in refused({"anyOf": [items] * 200})


def test_nesting_counts_and_sizes_are_bounded() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH + 1):
        deep = {"type": "array", "items": deep}
    assert "nested too deeply" in refused(deep)
    wide = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(MAX_PROPERTIES + 1)}}
    assert f"at most {MAX_PROPERTIES} properties" in refused(wide)
    assert f"at most {MAX_ENUM} values" in refused({"enum": list(range(MAX_ENUM + 1))})
    assert "from 0 to" in refused({"type": "string", "maxLength": 10_000_000})
    assert "from 0 to" in refused({"type": "array", "items": {"type": "integer"}, "minItems": -1})
    assert "too large" in refused({"enum": ["x" * 70_000]})
    assert "groups more than" in refused(pattern("^" + "(" * 40 + "a" + ")" * 40 + "$"))


def test_a_recursive_schema_gives_a_recursive_grammar() -> None:
    for schema in (
        TREE,  # "#": the root
        {"$ref": "#/$defs/node", "$defs": {"node": TREE | {"properties": {
            "name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}},
        {"type": "object", "properties": {"root": {"$ref": "#/definitions/n~1ode"}},
         "definitions": {"n/ode": {"type": "object", "properties": {"next": {"$ref": "#/definitions/n~1ode"}}}}},
    ):
        grammar = schema_grammar(schema, PARAM)
        # One rule for the node, referred to from inside itself: written once, not unrolled.
        node = next(line.split(" ::= ")[0] for line in grammar.splitlines() if line.startswith("ref0 "))
        assert any(line.endswith(f"::= {node}") for line in grammar.splitlines() if not line.startswith("alternative"))
        assert len(grammar) < 2000


def test_an_over_deep_chain_of_references_is_refused() -> None:
    defs: dict[str, Any] = {f"d{i}": {"type": "object", "properties": {"x": {"$ref": f"#/$defs/d{i + 1}"}}}
                            for i in range(MAX_DEPTH)}
    defs[f"d{MAX_DEPTH}"] = {"type": "string"}
    assert "references included" in refused({"$ref": "#/$defs/d0", "$defs": defs})
    shallow = {k: v for k, v in defs.items() if int(k[1:]) < 8} | {"d8": {"type": "string"}}
    assert schema_grammar({"$ref": "#/$defs/d0", "$defs": shallow}, PARAM)


def test_references_that_cannot_work_are_refused_clearly() -> None:
    aliases = {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}
    assert "before any content" in refused({"$ref": "#/$defs/a", "$defs": aliases})
    assert "before any content" in refused({"anyOf": [{"$ref": "#"}, {"type": "string"}]})
    assert "before any content" in refused({"$ref": "#/$defs/a", "$defs": {"a": {"oneOf": [
        {"type": "integer"}, {"anyOf": [{"$ref": "#/$defs/b"}]}]}, "b": {"$ref": "#/$defs/a"}}})
    assert "points at nothing" in refused({"$ref": "#/$defs/missing"})
    assert "only local references" in refused({"$ref": "https://example.com/s.json"})
    assert "JSON-pointer" in refused({"$ref": "#anchor"})


def test_generated_names_never_collide_with_property_rules() -> None:
    # A property named like a generated definition name pushes the generated names aside; otherwise the
    # converter, which refers to a definition by its name, would take the property's rule for it.
    obj = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    target = {"type": "object", "properties": {"b": {"type": "boolean"}}, "required": ["b"]}
    schema = {"type": "object", "properties": {"ref0": obj, "t": {"$ref": "#/$defs/s"}},
              "required": ["ref0", "t"], "$defs": {"s": target}}
    assert list(bounded_schema(schema)["$defs"]) == ["refx0"]
    rules = dict(line.split(" ::= ", 1) for line in schema_grammar(schema, PARAM).splitlines())
    assert rules["t"] == "refx0" and "refx0-b-kv" in rules["refx0"] and "ref0-a-kv" in rules["ref0"]


def test_bounds_are_checked_without_converting() -> None:
    # The estimate alone refuses (no sandbox process is asked): a bound, not a post-hoc size check.
    with pytest.raises(SchemaRefused):
        bounded_schema(pattern("^(ab|c){1,30000000}$"))
    assert json.dumps(bounded_schema(TREE)).count("$ref") == 2
