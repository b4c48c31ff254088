"""JSON schema to GBNF, in the sandbox child: llama-cpp-python's converter, without loading llama.cpp.

The converter is pure Python, but importing it through its package loads the llama.cpp libraries
(a hundred megabytes of address space the child does not need), so the module is loaded from its file
when it is a file, and through the package otherwise (a frozen bundle). The schema it gets was bounded
and made canonical by engine.api.schema_bounds first.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any


class SchemaRefused(Exception):
    """The converter cannot express this schema."""


@cache
def _converter() -> ModuleType:
    spec = importlib.util.find_spec("llama_cpp")
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        path = Path(location) / "llama_grammar.py"
        if path.is_file():
            module_spec = importlib.util.spec_from_file_location("_enclave_llama_grammar", path)
            if module_spec is not None and module_spec.loader is not None:
                module = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
                return module
    import llama_cpp.llama_grammar

    return llama_cpp.llama_grammar


def schema_to_gbnf(schema: Any) -> str:
    """The GBNF text for a (bounded, canonical) JSON schema; SchemaRefused if it cannot be converted."""
    try:
        return str(_converter().json_schema_to_gbnf(json.dumps(schema)))
    except RecursionError:
        raise
    except Exception as exc:  # the converter raises assorted errors (asserts, KeyError) on what it cannot express
        raise SchemaRefused(type(exc).__name__) from None
