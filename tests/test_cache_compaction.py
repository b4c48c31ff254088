"""Once running requests have settled, idle conversations' caches go to RAM and the running sequences to
the start of llama.cpp's unified KV cache (attention visits every cell up to the highest occupied one, so
cells anywhere else slow every token). What was moved answers exactly as before, and a conversation that
was moved out comes back from RAM."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models.registry import ModelRecord
from engine.runtime import CancelToken, Chunk, GenerationParams, cache_moves
from engine.runtime.batch import BatchedModel
from engine.runtime.cache_moves import COMPACT_AFTER_TOKENS, MIN_TOKENS_WORTH_SAVING
from tests.test_prefix_sharing import _answer

SHORT = GenerationParams(max_tokens=6, temperature=0.0, ignore_eos=True, logprobs=0)
LONG = GenerationParams(max_tokens=COMPACT_AFTER_TOKENS + 24, temperature=0.0, ignore_eos=True, logprobs=0)
SYSTEM = "You are the records assistant of a small hospital. Answer briefly and cite the policy. "


def _run(model: BatchedModel, prompts: list[list[int]], params: GenerationParams) -> list[list[Any]]:
    """Admit `prompts` together and step until all are done; each one's chunks."""
    outs: list[list[Any]] = [[] for _ in prompts]
    for prompt, out in zip(prompts, outs, strict=True):
        model.admit(prompt, params, CancelToken(), out.append, 0.0)
    while model.active:
        model.step()
    return outs


def _cached(out: list[Any]) -> int:
    (usage,) = [c.usage for c in out if isinstance(c, Chunk) and c.usage]
    return usage.cached_prompt_tokens


def _same_as_cold(cold: BatchedModel, prompt: list[int], out: list[Any], params: GenerationParams) -> None:
    cold_text, cold_lp = _answer(_run(cold, [prompt], params)[0])
    warm_text, warm_lp = _answer(out)
    assert warm_text == cold_text
    assert warm_lp == pytest.approx(cold_lp, rel=1e-2, abs=1e-3)


@pytest.fixture()
def restores(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sequence ids whose state is written back into the cache (a move, or a restore from RAM)."""
    seen: list[int] = []
    real = cache_moves.C.llama_state_seq_set_data

    def recording(ctx: Any, src: Any, size: int, seq_id: int) -> int:
        seen.append(seq_id)
        return int(real(ctx, src, size, seq_id))

    monkeypatch.setattr(cache_moves.C, "llama_state_seq_set_data", recording)
    return seen


@pytest.fixture()
def cold(tiny_model: ModelRecord) -> Any:
    model = BatchedModel(tiny_model)
    yield model
    model.close()


def _conversations(model: BatchedModel) -> list[list[int]]:
    return [model.tokenize(f"Conversation {c}: the ward asks about visiting hours on day {c}.") for c in range(2)]


def test_a_long_reply_moves_idle_conversations_to_ram_and_they_come_back(
    tiny_model: ModelRecord, cold: Any, restores: list[int]
) -> None:
    warm = BatchedModel(tiny_model)
    try:
        idle = _conversations(warm)
        assert all(len(p) >= MIN_TOKENS_WORTH_SAVING for p in idle)
        _run(warm, idle[:1], SHORT)
        _run(warm, idle[1:], SHORT)
        assert not warm.saved and not restores  # short replies leave the caches where they are
        assert sum(1 for slot in warm.slots if slot.tokens) == 2

        prompt = warm.tokenize("A long answer about the records policy, please.")
        (out,) = _run(warm, [prompt], LONG)
        assert len(warm.saved) == 2  # both idle conversations, in RAM now
        running = [slot.seq_id for slot in warm.slots if slot.tokens]
        assert len(running) == 1 and restores == running  # moved once, not at every step
        _same_as_cold(cold, prompt, out, LONG)
        restores.clear()  # (the cold model moves its own sequence too)

        returning = idle[0] + warm.tokenize(" And on Sundays?", add_bos=False)
        (back,) = _run(warm, [returning], SHORT)
        assert _cached(back) >= len(idle[0]) - 1  # restored from RAM, not evaluated again
        assert len(restores) == 1
        _same_as_cold(cold, returning, back, SHORT)
    finally:
        warm.close()


def test_requests_running_together_move_with_their_shared_start(
    tiny_model: ModelRecord, cold: Any, restores: list[int]
) -> None:
    warm = BatchedModel(tiny_model)
    try:
        _run(warm, _conversations(warm), SHORT)  # other caches first: the running ones land further up
        system = warm.tokenize(SYSTEM)
        prompts = [system + warm.tokenize(f"Q: case {i}, which form?", add_bos=False) for i in range(2)]
        copies: list[tuple[int, int, int, int]] = []
        share = warm.ctx.kv_cache_seq_cp

        def recording(src: int, dst: int, p0: int, p1: int) -> None:
            copies.append((src, dst, p0, p1))
            share(src, dst, p0, p1)

        warm.ctx.kv_cache_seq_cp = recording  # type: ignore[method-assign]
        outs = _run(warm, prompts, LONG)
        # Shared once when the second waited for the first to evaluate the start, and again after both moved.
        assert len(copies) == 2 and len(restores) == 2
        src, dst, p0, p1 = copies[1]
        assert (src, dst) == (restores[0], restores[1]) and p0 == 0 and p1 >= len(system)
        assert warm.saved  # the idle conversations went to RAM
        for prompt, out in zip(prompts, outs, strict=True):
            _same_as_cold(cold, prompt, out, LONG)
    finally:
        warm.close()


def test_an_idle_cache_over_the_ram_budget_stays_in_place(tiny_model: ModelRecord, cold: Any) -> None:
    warm = BatchedModel(tiny_model, ram_cache_bytes=1024)  # no sequence's state fits
    try:
        idle = _conversations(warm)[0]
        _run(warm, [idle], SHORT)
        prompt = warm.tokenize("A long answer about the records policy, please.")
        (out,) = _run(warm, [prompt], LONG)
        _same_as_cold(cold, prompt, out, LONG)
        assert not warm.saved
        returning = idle + warm.tokenize(" And on Sundays?", add_bos=False)
        (back,) = _run(warm, [returning], SHORT)
        assert _cached(back) >= len(idle) - 1  # its cache was kept, not dropped
        _same_as_cold(cold, returning, back, SHORT)
    finally:
        warm.close()
