"""Prompts that start the same (a system prompt shared by many conversations) share those tokens' KV cells
across sequences instead of each evaluating them: taken from a sequence that holds them, or, for requests
arriving together, from the one evaluating them first."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models.registry import ModelRecord
from engine.runtime import CancelToken, Chunk, GenerationParams
from engine.runtime.batch import BatchedModel
from engine.runtime.cache_moves import MIN_TOKENS_WORTH_SHARING

SYSTEM = "You are the records assistant of a small hospital. Answer briefly and cite the policy. "
REPLY = GenerationParams(max_tokens=6, temperature=0.0, ignore_eos=True, logprobs=0)


def _final(out: list[Any]) -> Chunk:
    (final,) = [c for c in out if isinstance(c, Chunk) and c.usage]
    return final


def _reply(model: BatchedModel, prompt: list[int]) -> list[Any]:
    out: list[Any] = []
    model.admit(prompt, REPLY, CancelToken(), out.append, 0.0)
    while model.active:
        model.step()
    return out


def _answer(out: list[Any]) -> tuple[str, list[float]]:
    chunks = [c for c in out if isinstance(c, Chunk)]
    return "".join(c.text for c in chunks), [lp.logprob for c in chunks for lp in c.logprobs]


@pytest.fixture()
def models(tiny_model: ModelRecord) -> Any:
    warm, cold = BatchedModel(tiny_model), BatchedModel(tiny_model)
    yield warm, cold
    warm.close()
    cold.close()


def test_a_new_conversation_takes_the_shared_start_from_another_sequence(models: Any) -> None:
    warm, cold = models
    system = warm.tokenize(SYSTEM)
    first = system + warm.tokenize("Q: How long do we keep X-rays?", add_bos=False)
    second = system + warm.tokenize("Q: Who may read a chart?", add_bos=False)
    _reply(warm, first)
    holder = next(s for s in warm.slots if s.tokens)
    held = holder.tokens + holder.ahead  # its reply's last token is evaluated ahead meanwhile
    out = _reply(warm, second)
    usage = _final(out).usage
    assert usage is not None
    shared = len(system) + len(warm.tokenize("Q: ", add_bos=False))
    assert usage.cached_prompt_tokens >= len(system) >= MIN_TOKENS_WORTH_SHARING
    assert usage.evaluated_prompt_tokens <= len(second) - len(system)
    assert usage.evaluated_prompt_tokens >= len(second) - shared
    # The other conversation keeps its sequence and its cache, and both answer as a cold model does.
    assert holder.tokens == held and sum(1 for s in warm.slots if s.tokens) == 2
    for prompt, answered in ((second, out), (first, None)):
        warm_text, warm_lp = _answer(answered or _reply(warm, prompt))
        cold_text, cold_lp = _answer(_reply(cold, prompt))
        assert warm_text == cold_text
        assert warm_lp == pytest.approx(cold_lp, rel=1e-2, abs=1e-3)


def test_requests_arriving_together_evaluate_their_shared_start_once(models: Any) -> None:
    warm, cold = models
    system = warm.tokenize(SYSTEM)
    prompts = [system + warm.tokenize(f"Q: case {i}, which form?", add_bos=False) for i in range(3)]
    outs: list[list[Any]] = [[], [], []]
    for prompt, out in zip(prompts, outs, strict=True):
        warm.admit(prompt, REPLY, CancelToken(), out.append, 0.0)
    warm.step()  # the first prompt alone: the others wait for the start they share with it
    assert warm.batch.batch.n_tokens == len(prompts[0])
    while warm.active:
        warm.step()
    evaluated = [_final(out).usage.evaluated_prompt_tokens for out in outs]  # type: ignore[union-attr]
    assert evaluated[0] == len(prompts[0])
    assert all(e < len(p) - len(system) + 8 for e, p in zip(evaluated[1:], prompts[1:], strict=True))
    for prompt, out in zip(prompts, outs, strict=True):
        cold_text, cold_lp = _answer(_reply(cold, prompt))
        assert _answer(out)[0] == cold_text
        assert _answer(out)[1] == pytest.approx(cold_lp, rel=1e-2, abs=1e-3)


def test_a_follower_whose_leader_is_cancelled_evaluates_the_start_itself(models: Any) -> None:
    warm, cold = models
    system = warm.tokenize(SYSTEM)
    leader_prompt = system + warm.tokenize("Q: one", add_bos=False)
    follower_prompt = system + warm.tokenize("Q: two", add_bos=False)
    cancel = CancelToken()
    warm.admit(leader_prompt, REPLY, cancel, lambda _c: None, 0.0)
    out: list[Any] = []
    warm.admit(follower_prompt, REPLY, CancelToken(), out.append, 0.0)
    cancel.cancel()  # before the leader has evaluated anything
    while warm.active:
        warm.step()
    usage = _final(out).usage
    assert usage is not None and usage.evaluated_prompt_tokens == len(follower_prompt)
    assert _answer(out)[0] == _answer(_reply(cold, follower_prompt))[0]


def test_a_model_with_a_recurrent_state_shares_nothing(models: Any) -> None:
    """Mamba, RWKV and hybrids keep one state per sequence, not a cell per position: the first n tokens
    cannot be taken from another sequence. (The tiny model is a transformer: told otherwise here.)"""
    warm, _cold = models
    assert warm.shares_prefixes
    warm.shares_prefixes = False
    system = warm.tokenize(SYSTEM)
    _reply(warm, system + warm.tokenize("Q: one", add_bos=False))
    second = system + warm.tokenize("Q: another one entirely, long enough to leave its own tail", add_bos=False)
    out: list[Any] = []
    warm.admit(system + warm.tokenize("Q: two", add_bos=False), REPLY, CancelToken(), out.append, 0.0)
    follower: list[Any] = []
    warm.admit(second, REPLY, CancelToken(), follower.append, 0.0)
    assert all(r.leader is None for r in warm.active)
    while warm.active:
        warm.step()
    usage = _final(follower).usage
    assert usage is not None and usage.cached_prompt_tokens < len(system)
