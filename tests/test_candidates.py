"""The sampler chain on a preselection of the vocabulary (engine.runtime.candidates) gives exactly what
llama.cpp's chain gives on the whole vocabulary: the same candidates and probabilities, the same seeded
draws; and a real model's seeded sampled replies are token for token those of the full-vocabulary path."""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from engine.models.registry import ModelRecord
from engine.runtime import Chunk, GenerationParams
from engine.runtime import candidates as candidates_module
from engine.runtime.batch import BatchedModel
from engine.runtime.candidates import Chain, sampler_chain
from engine.runtime.loaded import PENALTY_WINDOW
from tests.stepping import run_together

N_VOCAB = 32768
EOG = (1, 2)
FAR_RAISED = 5  # far below the largest logit, raised by a bias of +60 into the top k
TOP_LOWERED = 7  # the largest logit, lowered by a bias of -100
NEAR = (9, 11, 13, 15)  # window tokens near the largest logit (penalties move them across the k-th)
FAR = (21, 23)  # window tokens far below (a negative penalty raises them)


def _distinct(x: np.ndarray) -> np.ndarray:
    """float32 logits shaped like `x`, all different (multiples of 2^-10), so no two tie at the k-th place."""
    order = np.argsort(x, kind="stable")
    q = np.round(x[order] * 1024).astype(np.int64)
    steps = np.arange(len(q))
    q = np.maximum.accumulate(q - steps) + steps  # strictly increasing
    out = np.empty(len(x), dtype=np.float32)
    out[order] = q / 1024
    return out


def _logits(rng: np.random.Generator, n: int, shape: str) -> np.ndarray:
    """Peaked (a real model's: a few tokens well above a broad mass) or flat logits, with the tokens the
    chain's early steps touch placed where those steps matter."""
    if shape == "peaked":
        x = rng.standard_normal(n) * 2.0
        x[rng.integers(0, n, 30)] += rng.uniform(6, 14, 30)
    else:
        x = rng.standard_normal(n) * 0.3
    logits = _distinct(x)
    top, bottom = float(logits.max()), float(logits.min())
    logits[TOP_LOWERED] = top + 1.0
    logits[list(EOG)] = [top + 2.0, top - 0.0009765625 / 2]  # (an EOG token at the top, one near it)
    logits[FAR_RAISED] = bottom - 1.0
    for i, token in enumerate(NEAR):
        logits[token] = top - 0.25 * (i + 1) + 0.0001220703125  # (off the 2^-10 grid: no ties)
    for i, token in enumerate(FAR):
        logits[token] = bottom - 2.0 - i
    return logits


CASES: list[tuple[str, GenerationParams, list[int]]] = [
    ("top-k 40", GenerationParams(temperature=0.8, top_k=40), []),
    ("top-k 1", GenerationParams(temperature=0.7, top_k=1), []),
    ("top-k 1000, hot", GenerationParams(temperature=1.5, top_k=1000, top_p=1.0, min_p=0.0), []),
    ("top-p, min-p", GenerationParams(temperature=1.0, top_k=40, top_p=0.5, min_p=0.1), []),
    (
        "bias up and down",
        GenerationParams(temperature=0.8, top_k=40, logit_bias=((FAR_RAISED, 60.0), (TOP_LOWERED, -100.0))),
        [],
    ),
    ("ignore_eos", GenerationParams(temperature=0.8, top_k=40, ignore_eos=True), []),
    (
        "repeat, frequency, presence",
        GenerationParams(temperature=0.8, top_k=40, repeat_penalty=1.3, frequency_penalty=0.5, presence_penalty=0.5),
        [*NEAR, *NEAR, 100, 200],
    ),
    (
        "negative frequency raises a far window token",
        GenerationParams(temperature=0.8, top_k=40, frequency_penalty=-2.0, presence_penalty=-2.0),
        [FAR[0]] * PENALTY_WINDOW,
    ),
    ("negative presence", GenerationParams(temperature=0.9, top_k=40, presence_penalty=-2.0), [*NEAR, *FAR]),
    ("repeat penalty below 1", GenerationParams(temperature=0.8, top_k=40, repeat_penalty=0.05), [*FAR, *NEAR]),
    ("greedy with penalties", GenerationParams(temperature=0.0, repeat_penalty=1.5), [*NEAR]),
    (
        "everything",
        GenerationParams(
            temperature=0.6, top_k=100, top_p=0.9, repeat_penalty=1.2, presence_penalty=-1.0,
            logit_bias=((FAR_RAISED, 40.0), (TOP_LOWERED, -5.0)), ignore_eos=True,
        ),
        [*NEAR, FAR[1]],
    ),
]


def _pair(params: GenerationParams, prompt: list[int], n_vocab: int, *, draw: bool) -> tuple[Chain, Chain]:
    """The same chain twice: on a preselection, and on the whole vocabulary."""
    fast = sampler_chain(params, n_vocab, prompt, eog=EOG, draw=draw)
    full = sampler_chain(params, n_vocab, prompt, eog=EOG, draw=draw)
    full.preselecting = False
    return fast, full


@pytest.mark.parametrize("shape", ["peaked", "flat"])
@pytest.mark.parametrize(("name", "params", "prompt"), CASES, ids=[c[0] for c in CASES])
def test_candidates_and_probabilities_equal_the_whole_vocabularys(
    name: str, params: GenerationParams, prompt: list[int], shape: str
) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{name} {shape}".encode()))
    fast, full = _pair(replace(params, seed=3), prompt, N_VOCAB, draw=False)
    try:
        for _ in range(25):
            logits = _logits(rng, N_VOCAB, shape)
            got, got_selected = fast.apply(logits)
            want, want_selected = full.apply(logits)
            if params.temperature == 0.0:  # greedy selects without truncating: the same token is chosen
                assert got["id"][got_selected] == want["id"][want_selected]
            else:
                assert got_selected == want_selected
                assert np.array_equal(got, want), (name, got[:5], want[:5])
            # The step's token (any of the candidates) goes into both chains' penalty windows.
            token = int(want["id"][rng.integers(0, len(want))])
            fast.accept(token)
            full.accept(token)
        # (A penalty can make two logits equal in the top k: such a token runs on the whole vocabulary.)
        assert fast.preselected >= 20 and fast.full == fast.ties
        assert full.preselected == 0
    finally:
        fast.close()
        full.close()


@pytest.mark.parametrize(("name", "params", "prompt"), CASES, ids=[c[0] for c in CASES])
def test_seeded_draws_equal_the_whole_vocabularys(name: str, params: GenerationParams, prompt: list[int]) -> None:
    """With the draw: the same seed gives the same tokens step after step (the window then holds them)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    fast, full = _pair(replace(params, seed=11), prompt, N_VOCAB, draw=True)
    try:
        tokens_fast, tokens_full = [], []
        for step in range(80):
            logits = _logits(rng, N_VOCAB, "peaked" if step % 3 else "flat")
            tokens_fast.append(fast.choose(logits))
            tokens_full.append(full.choose(logits))
        assert tokens_fast == tokens_full
        assert fast.preselected >= 70 and fast.full == fast.ties
        if name in ("top-k 40", "top-k 1000, hot"):
            assert len(set(tokens_full)) > 5  # (really sampled)
    finally:
        fast.close()
        full.close()


def test_the_threshold_adapts_to_a_models_logit_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Logits that spread little (each a distinct multiple of 1e-4, all within 3.3): a margin made for Gemma's
    logits lets in nearly the whole vocabulary; the chain narrows it until the preselection holds a few times
    the tokens top-k needs, and every draw stays the whole vocabulary's."""
    rng = np.random.default_rng(9)
    fast, full = _pair(GenerationParams(temperature=0.8, top_k=40, seed=4), [], N_VOCAB, draw=True)
    found: list[int] = []
    at_least = Chain._at_least

    def counting(self: Chain, logits: np.ndarray, threshold: np.floating) -> tuple[int, float | None]:
        count, top = at_least(self, logits, threshold)
        if self is fast:
            found.append(count)
        return count, top

    monkeypatch.setattr(Chain, "_at_least", counting)
    try:
        for _ in range(60):
            logits = rng.permutation(N_VOCAB).astype(np.float32) * np.float32(1e-4)
            assert fast.choose(logits) == full.choose(logits)
        assert found[1] > N_VOCAB // 2  # (the first guess after the first token)
        assert np.median(found[-30:]) < candidates_module.SHRINK_ABOVE * 40
        assert fast.preselected == 60
    finally:
        fast.close()
        full.close()


def test_the_demo_vocabulary_size_and_a_flat_row_stay_exact() -> None:
    """262,144 tokens (the demo model's vocabulary), k up to 1,000 out of a flat row."""
    rng = np.random.default_rng(5)
    params = GenerationParams(temperature=1.0, top_k=1000, top_p=1.0, min_p=0.0, seed=2, presence_penalty=-2.0)
    fast, full = _pair(params, [*NEAR, *FAR], 262144, draw=True)
    try:
        for shape in ("flat", "peaked", "flat"):
            logits = _logits(rng, 262144, shape)
            assert fast.choose(logits) == full.choose(logits)
    finally:
        fast.close()
        full.close()


def test_chains_that_cannot_preselect_use_the_whole_vocabulary() -> None:
    """top_k 0 keeps every token: nothing can be left out."""
    fast, full = _pair(GenerationParams(temperature=0.8, top_k=0, seed=1), [], 4096, draw=True)
    try:
        rng = np.random.default_rng(1)
        for _ in range(10):
            logits = _logits(rng, 4096, "peaked")
            assert fast.choose(logits) == full.choose(logits)
        assert fast.preselected == 0 and fast.full == 10
    finally:
        fast.close()
        full.close()


def _summary(out: list[Any]) -> tuple[str, str | None, int]:
    chunks = [c for c in out if isinstance(c, Chunk)]
    assert not [c for c in out if isinstance(c, BaseException)]
    final = chunks[-1]
    assert final.usage is not None
    return "".join(c.text for c in chunks), final.finish_reason, final.usage.completion_tokens


@pytest.mark.parametrize("speculation", ["off", "lookup"])
def test_seeded_sampled_replies_of_a_real_model_are_those_of_the_whole_vocabulary(
    tiny_model: ModelRecord, monkeypatch: pytest.MonkeyPatch, speculation: str
) -> None:
    """The suite's tiny GGUF, several seeded sampled requests at once (one deterministic): the same tokens
    with the preselection as with llama.cpp's own `llama_sampler_sample` over the whole vocabulary."""
    settings = replace(tiny_model.settings, speculation=speculation, parallel=8, context_size=4096, threads=1)
    record = replace(tiny_model, settings=settings)
    repeating = "the cat sat on the mat. " * 10
    params = [
        GenerationParams(max_tokens=40, temperature=0.8, seed=1, ignore_eos=True),
        GenerationParams(max_tokens=40, temperature=1.2, top_k=20, seed=2, repeat_penalty=1.3, presence_penalty=-0.5),
        GenerationParams(max_tokens=40, temperature=0.7, seed=3, logit_bias=((40, 5.0),), frequency_penalty=0.4),
        GenerationParams(max_tokens=40, temperature=0.0, repeat_penalty=1.2, ignore_eos=True),
        GenerationParams(max_tokens=30, temperature=0.8, seed=5, deterministic=True),
        # A reply of two biased tokens repeats its own n-grams: drafts, kept and rejected by sampling.
        GenerationParams(max_tokens=60, temperature=0.8, seed=6, ignore_eos=True, logit_bias=((300, 15), (301, 15))),
        GenerationParams(max_tokens=60, temperature=0.0, ignore_eos=True, repeat_penalty=1.01),
    ]
    used = [0]
    preselect = Chain.preselect

    def counting(self: Chain, logits: np.ndarray) -> np.ndarray | None:
        found = preselect(self, logits)
        used[0] += found is not None
        return found

    monkeypatch.setattr(Chain, "preselect", counting)
    replies = {}
    for enabled in (False, True):
        monkeypatch.setattr(candidates_module, "ENABLED", enabled)
        model = BatchedModel(record)
        # Fixed step costs, a GPU's (extra tokens nearly free): the unseeded streams draft as freely as the
        # seeded ones (whose drafts follow a fixed prior), whatever this machine's timings.
        model.step_cost.record = lambda *args, **kwargs: None  # type: ignore[method-assign]
        model.step_cost.of = lambda n_tokens: 1.0 + 0.05 * (n_tokens - 1)  # type: ignore[method-assign]
        try:
            stories = [model.tokenize(f"Story {i}: once upon a time") for i in range(3)]
            prompts = [model.tokenize(repeating), model.tokenize("Quote: " + repeating), *stories]
            prompts += [model.tokenize(repeating)] * 2
            replies[enabled] = [_summary(out) for out in run_together(model, prompts, params)]
            if speculation == "lookup":
                assert model.kept > 5 and model.drafted > model.kept, (model.drafted, model.kept)
        finally:
            model.close()
    assert used[0] > 100  # (the preselection was taken, not the fallback)
    assert replies[True] == replies[False]
    assert [replies[True][i][2] for i in (0, 3, 5, 6)] == [40, 40, 60, 60]


@pytest.mark.parametrize("top_k", [40, 200])
def test_equal_logits_among_the_top_k_give_llama_cpps_own_tokens(top_k: int) -> None:
    """llama.cpp's partial sort is not stable: equal logits in the top k come out of a smaller array in
    another order. Those tokens run on the whole vocabulary, so seeded draws stay token for token."""
    rng = np.random.default_rng(9)
    params = GenerationParams(temperature=1.0, top_k=top_k, top_p=0.99, min_p=0.0, seed=4)
    fast, full = _pair(params, [], N_VOCAB, draw=True)
    try:
        tokens_fast, tokens_full = [], []
        for _ in range(150):
            logits = _logits(rng, N_VOCAB, "peaked")
            best = np.argsort(logits)[::-1][:top_k]
            tied = rng.choice(best, 6, replace=False)
            logits[tied[3:]] = logits[tied[:3]]  # three pairs of equal logits among the top k
            tokens_fast.append(fast.choose(logits))
            tokens_full.append(full.choose(logits))
        assert tokens_fast == tokens_full
        assert fast.ties == 150
    finally:
        fast.close()
        full.close()
