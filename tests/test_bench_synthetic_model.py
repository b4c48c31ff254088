"""The serving bench's synthetic model: real llama.cpp loads it and streams full-length, all-text replies.

The bench compares servers by the text chunks they stream, so a reply cut short by end-of-text or split
into stray bytes would make its figures wrong. A small model of the same construction stands in for the
1.1B one here.
"""

from __future__ import annotations

from pathlib import Path

from bench.bench_serving import STORY
from bench.synthetic_gguf import CONTROL, Shape, vocabulary, write
from engine.models import ModelRegistry
from engine.runtime import GenerationParams, Runtime

SMALL = Shape("synthetic-small", 700, 64, 2, 4, 2, 128, 512)


def test_vocabulary_has_the_requested_size_and_only_text_after_the_bytes() -> None:
    tokens, scores, types = vocabulary(32000)
    assert len(tokens) == len(scores) == len(types) == 32000
    assert len(set(tokens)) == 32000
    text = tokens[len(CONTROL) + 256 :]
    assert all(not piece.startswith(b"<") or piece == b"<" for piece in text)
    assert scores[-1] > scores[len(CONTROL) + 256]  # longer pieces merge first


def test_greedy_replies_run_to_full_length_as_text(tmp_path: Path, registry: ModelRegistry) -> None:
    path = write(tmp_path / "synthetic-small.gguf", SMALL)
    registry.import_file(path, "synthetic")
    runtime = Runtime(registry)
    try:
        for day in range(3):
            prompt = f"{STORY} Day {day}."
            params = GenerationParams(max_tokens=48, temperature=0.0)
            chunks = list(runtime.complete(prompt, params, model="synthetic"))
            final = chunks[-1]
            assert final.finish_reason == "length"  # never end-of-text
            assert final.usage is not None and final.usage.completion_tokens == 48
            text = "".join(chunk.text for chunk in chunks)
            assert text.isprintable() and "\ufffd" not in text  # never a lone byte
            assert final.usage.prompt_tokens < len(prompt)  # pieces merge: not a token per character
    finally:
        runtime.close()
