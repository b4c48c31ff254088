"""Skip grammar tests while the runtime aborts on grammar-constrained sampling.

llama.cpp aborts the whole process (not an exception) when a grammar sampler is fed prompt tokens,
so the check runs once, in a child process.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import sys, tempfile, pathlib, os
    os.environ["ENCLAVE_HOME"] = tempfile.mkdtemp()
    from tests.tiny_gguf import write_tiny_gguf
    from engine.models import ModelRegistry
    from engine.runtime import Runtime, GenerationParams
    from llama_cpp.llama_grammar import JSON_GBNF
    registry = ModelRegistry()
    registry.import_file(write_tiny_gguf(pathlib.Path(tempfile.mkdtemp()) / "t.gguf"), "tiny")
    runtime = Runtime(registry)
    params = GenerationParams(max_tokens=5, grammar=JSON_GBNF)
    runtime.chat([{"role": "user", "content": "hi"}], params, model="tiny").text()
    runtime.close()
    """
)


@functools.cache
def grammar_works() -> bool:
    """True when a grammar-constrained generation completes without killing the process."""
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, timeout=120, check=False)
    return result.returncode == 0


def needs_grammar(test):  # type: ignore[no-untyped-def]
    """Run `test` only when grammar sampling works in this runtime."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not grammar_works():
            pytest.skip("the runtime aborts on grammar sampling (prompt tokens fed to the grammar sampler)")
        return test(*args, **kwargs)

    return wrapper
