"""Sampling without the vocabulary copy (engine.runtime.nucleus): the same candidates and probabilities as
llama.cpp's native chain, used for sampled requests in the batch, reproducible with a seed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from llama_cpp._internals import LlamaSampler

from engine.models.registry import ModelRecord
from engine.runtime import CancelToken, Chunk, GenerationParams
from engine.runtime.batch import BatchedModel
from engine.runtime.loaded import PENALTY_WINDOW
from engine.runtime.nucleus import NucleusSampler, covers
from engine.runtime.speculative import Distribution

VOCAB = 262_144 + 100  # Gemma's size, plus a tail that is not a whole block

SETTINGS = [  # (top_k, top_p, min_p, temperature)
    (40, 0.95, 0.05, 0.8),  # the API's defaults with the bench's temperature and top_p
    (40, 0.9, 0.0, 1.0),
    (5, 1.0, 0.0, 1.3),
    (1000, 0.95, 0.0, 0.7),
    (40, 0.5, 0.2, 0.8),
    (1, 0.95, 0.05, 0.8),
]


def _native(n_vocab: int, top_k: int, top_p: float, min_p: float, temperature: float) -> Distribution:
    """The chain BatchedModel builds for such a request, without its final draw."""
    chain = LlamaSampler()
    chain.add_penalties(n_vocab, PENALTY_WINDOW, 1.0, 0.0, 0.0)
    chain.add_top_k(top_k)
    chain.add_top_p(top_p, 1)
    chain.add_min_p(min_p, 1)
    chain.add_temp(temperature)
    return Distribution(chain, n_vocab, greedy=False, seed=1)


def _rows(rng: np.random.Generator) -> list[np.ndarray]:
    """Logit rows shaped like a model's: a peaked one, a flat one, one with ties at the k-th place and
    masked tokens, one whose maximum sits in the tail past the last whole block."""
    peaked = (rng.standard_normal(VOCAB) * 2.0).astype(np.float32)
    peaked[rng.integers(0, VOCAB, 30)] += 12.0
    flat = (rng.standard_normal(VOCAB) * 0.3).astype(np.float32)
    tied = np.full(VOCAB, -5.0, dtype=np.float32)
    tied[:20] = np.linspace(10, 5, 20, dtype=np.float32)
    tied[100:200] = 4.0  # far more tokens at the k-th logit than places left
    tied[5000:6000] = -np.inf
    tail = (rng.standard_normal(VOCAB) * 2.0).astype(np.float32)
    tail[-3] = 30.0
    return [peaked, flat, tied, tail]


@pytest.mark.parametrize(("top_k", "top_p", "min_p", "temperature"), SETTINGS)
def test_the_candidates_and_probabilities_are_the_native_chains(
    top_k: int, top_p: float, min_p: float, temperature: float
) -> None:
    native = _native(VOCAB, top_k, top_p, min_p, temperature)
    fast = NucleusSampler(GenerationParams(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p))
    try:
        for index, logits in enumerate(_rows(np.random.default_rng(top_k))):
            ids, p = native.candidates(logits)
            got_ids, got_p = fast.candidates(logits)
            if index == 2 and len(ids) > 20:  # ties at the k-th logit: llama.cpp picks any of them
                assert list(got_ids[:20]) == list(ids[:20]) and len(got_ids) == len(ids)
                assert set(got_ids[20:]) <= set(range(100, 200))
            else:
                assert list(got_ids) == list(ids), (index, list(got_ids[:8]), list(ids[:8]))
            np.testing.assert_allclose(got_p, p, rtol=1e-5, atol=1e-6)
    finally:
        native.close()


def test_draws_follow_the_probabilities() -> None:
    logits = (np.random.default_rng(0).standard_normal(VOCAB) - 20.0).astype(np.float32)
    logits[[7, 70_000, 262_200]] = [2.0, 1.0, 0.0]  # one of them in the tail
    fast = NucleusSampler(GenerationParams(temperature=1.0, top_k=40, top_p=1.0, min_p=0.0, seed=3))
    draws = np.array([fast.sample(logits) for _ in range(3000)])
    ids, p = fast.candidates(logits)
    for token, expected in zip(ids[:3], p[:3], strict=True):
        assert abs(np.mean(draws == token) - expected) < 0.03


def test_requests_it_does_not_cover_keep_the_native_chain() -> None:
    base = GenerationParams(temperature=0.8)
    assert covers(base)
    for changed in (
        {"temperature": 0.0},
        {"top_k": 0},
        {"grammar": 'root ::= "a"'},
        {"logit_bias": ((5, 1.0),)},
        {"ignore_eos": True},
        {"repeat_penalty": 1.1},
        {"presence_penalty": 0.5},
    ):
        assert not covers(replace(base, **changed)), changed


def _run(model: BatchedModel, prompt: list[int], params: GenerationParams) -> list[Any]:
    out: list[Any] = []
    model.admit(prompt, params, CancelToken(), out.append, 0.0)
    while model.active:
        model.step()
    return [c for c in out if isinstance(c, Chunk)]


@pytest.mark.parametrize("speculation", ["off", "lookup"])
def test_a_seeded_sampled_request_stays_within_its_top_k_and_top_p(tiny_model: ModelRecord, speculation: str) -> None:
    model = BatchedModel(replace(tiny_model, settings=replace(tiny_model.settings, speculation=speculation)))
    try:
        prompt = model.tokenize("the cat sat on the mat. " * 6)
        params = GenerationParams(max_tokens=40, temperature=1.5, top_k=4, top_p=0.7, min_p=0.0, seed=5, logprobs=4)
        first = _run(model, prompt, params)
        assert [c.text for c in first] == [c.text for c in _run(model, prompt, params)]  # the seed's tokens
        logprobs = [lp for c in first for lp in c.logprobs]
        assert len(logprobs) >= 20
        off_top = 0
        for lp in logprobs:
            top = [text for text, _ in lp.top]
            values = np.exp([value for _, value in lp.top])
            cumulative = np.cumsum(values / values.sum())  # top-k first, then top-p over those k
            nucleus = top[: int(np.searchsorted(cumulative, 0.7)) + 1]
            assert lp.token in nucleus, (lp.token, lp.top)
            off_top += lp.token != top[0]
        assert off_top > 0  # sampled, not the argmax every time
    finally:
        model.close()
