"""Speculative decoding inside continuous batching: prompt-lookup drafts, verified in the shared batch.

A decoding sequence whose last few tokens occurred before in its prompt or reply (a quoted document, a
code file returned with an edit, a repeated list) guesses that what followed them then follows now. In
the step's one `llama_decode` batch it adds its next token plus up to `MAX_LOOKUP_DRAFT` guessed tokens, each
with logits, and keeps the longest run of guesses the model itself would have produced, plus the model's
own token after that run: one decode then yields up to `MAX_LOOKUP_DRAFT + 1` tokens. The cells of the guesses
it did not keep are removed from the cache.

Exact. A greedy request takes the model's most likely token at each position, as it would without
drafts: the guesses only decide how many positions are evaluated at once. A sampled request uses the
speculative sampling rule (Leviathan et al. 2023, Chen et al. 2023) for a proposal that is certain
(q(d) = 1): the drafted token d is kept with probability p(d), otherwise a token is drawn from p with d
removed and renormalised, so every token is distributed as the target model's p. Here p is the request's
own sampler chain (bias, penalties, grammar, top-k, top-p, min-p, temperature) applied to the logits,
token by token, so the chain's state (penalty window, grammar) advances exactly as without drafts. The
draws use a generator seeded from the request's seed.

Cost-aware. Each loaded model measures (`StepCost`, an EMA per batch size, from steps whose every
token has logits) how long a decode takes as a function of the tokens in the batch; each sequence
estimates (`Drafter.acceptance_at`) the chance that a drafted token is kept, apart for each length of
the match it is drafted at (`MATCH_BUCKETS`): a 40-token verbatim match of a quoted document goes on far
more often than a chance 4-gram of a chat reply, and each kept token makes the match one longer. With
acceptance a_i at the i-th drafted position, a draft of k tokens yields 1 + a_0 + a_0 a_1 + ... tokens in
expectation; `best_draft_length` drafts the k (up to `MAX_LOOKUP_DRAFT` = 64, llama.cpp's n-gram drafter's
limit) that maximises tokens per unit of step time, and nothing when no k beats not drafting. The
estimates decay back towards optimistic priors while a sequence does not draft, so it tries again later.
Ordinary chat, where earlier n-grams rarely predict the reply, then decodes as it would without
speculation.

Deterministic requests (a seed, or a key's "reproducible" rule) speculate too, in the model's solo
context: what they draft, how long, and what they keep depend only on their own tokens and seed (their
policy uses the fixed prior step cost, never measured times), so the batches their tokens are decoded
in, and hence the tokens, are the same every time.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from llama_cpp._internals import LlamaContext

from engine.runtime.candidates import Chain

if TYPE_CHECKING:
    from engine.runtime.batch import BatchedModel
    from engine.runtime.requests import Request

# Longest match first: an 8-token match is usually the one place being quoted. Shorter matches than 4
# tokens guess wrong too often in chat to pay for the extra positions a step evaluates (on a CPU, each
# costs about half a token's decode).
NGRAM_SIZES = (8, 4)
# llama.cpp's n-gram drafter (ngram-mod) drafts up to 64 tokens: on a CPU, where the cost per token
# falls as the batch grows, long drafts of a long verbatim match pay most. (A draft model's drafts,
# engine.runtime.draft_model, cost a decode each: they stay within MAX_DRAFT.)
MAX_LOOKUP_DRAFT = 64
MAX_DRAFT = 16
# How far back a match is followed (its length predicts how long it goes on), and the match lengths
# whose drafts are counted apart: a quote's 40-token match goes on far more often than a chance 4-gram
# of a chat reply, and a few misses of the one must not stop the drafts of the other.
MAX_MATCH = 64
MATCH_BUCKETS = (4, 8, 16, 32)
# Acceptance priors by bucket (optimistic: a matched n-gram is usually a quote), each worth PRIOR_WEIGHT
# observations.
PRIOR_ACCEPTANCE = (0.7, 0.8, 0.9, 0.98)
PRIOR_WEIGHT = 2.0
# Observations fade by this factor per draft, and per step without one (so a sequence tries again later).
DECAY = 0.9
IDLE_DECAY = 0.9
# Before a batch size is measured: each extra token costs this share of a one-token step (a CPU's figure);
# past the largest measured size, the measured slope, within MIN_EXTRA_TOKEN_COST and this share.
PRIOR_EXTRA_TOKEN_COST = 0.5
MIN_EXTRA_TOKEN_COST = 0.1
# Weights of a new step time in its batch size's average, when below it and when above it: the average
# tracks a low quantile, the time a step takes when nothing else preempts it.
COST_EMA_DOWN = 0.3
COST_EMA_UP = 0.03
FORGET_AFTER_STEPS = 256  # a batch size's average is forgotten when not measured for this many steps
# The n-grams of at most this many recent tokens are indexed (a long document: its last 32k tokens).
MAX_INDEXED = 32768
# The draft lengths weighed (all short ones, then a coarse ladder: the rate is flat near its best).
DRAFT_LENGTHS = (*range(1, 9), 12, 16, 24, 32, 48, 64)
SPECULATION_CHOICES = ("lookup", "off")


def _bucket_weights() -> list[float]:
    return [0.0] * len(MATCH_BUCKETS)


@dataclass
class Drafter:
    """Prompt-lookup drafts for one sequence, and how long they should be (see the module docstring)."""

    history: list[int]  # the prompt, then every token taken
    index: dict[tuple[int, ...], int] = field(default_factory=dict)  # n-gram → where its latest continuation starts
    indexed: int = 0  # n-grams ending before this position are in `index`
    # Faded counts of drafted tokens kept and rejected, by the match length they were drafted at.
    kept_weight: list[float] = field(default_factory=_bucket_weights)
    missed_weight: list[float] = field(default_factory=_bucket_weights)
    length: int = 0  # the match length of the latest draft
    drafted: int = 0
    accepted: int = 0

    @property
    def acceptance(self) -> float:
        """The estimated chance that the first token of a draft like the latest is kept."""
        return self.acceptance_at(bucket_of(self.length))

    def acceptance_at(self, bucket: int) -> float:
        """The estimated chance that a token drafted at this match-length bucket is kept."""
        prior = PRIOR_ACCEPTANCE[bucket]
        kept = self.kept_weight[bucket] + prior * PRIOR_WEIGHT
        return kept / (kept + self.missed_weight[bucket] + (1 - prior) * PRIOR_WEIGHT)

    def push(self, token: int) -> None:
        """A token was taken (sampled or accepted)."""
        self.history.append(token)

    def draft(self, limit: int, cost: Callable[[int], float], others: float = 0.0) -> list[int]:
        """Up to `limit` tokens that followed the longest recent n-gram last time it occurred, as many as
        pay for themselves at the acceptance the match's length predicts for each (a drafted token kept
        makes the match one longer): `cost(k)` is the step time with k more tokens in the batch, `others`
        the tokens the rest of the step yields (see `best_draft_length`)."""
        limit = min(limit, MAX_LOOKUP_DRAFT)
        if limit <= 0:
            return []
        found = self.match()
        if found is None:
            return []
        start, length = found
        history = self.history
        limit = min(limit, len(history) - start)
        by_bucket = [self.acceptance_at(bucket) for bucket in range(len(MATCH_BUCKETS))]
        k = best_draft_length([by_bucket[bucket_of(length + i)] for i in range(limit)], cost, limit, others)
        if k <= 0:
            self._fade()
            return []
        self.length = length
        return history[start : start + k]

    def match(self) -> tuple[int, int] | None:
        """Where the continuation of the longest indexed n-gram ending the history starts, and how many
        tokens (up to MAX_MATCH) before it agree with the history's last ones."""
        self._extend_index()
        history = self.history
        for n in NGRAM_SIZES:
            start = self.index.get(tuple(history[-n:])) if len(history) > n else None
            if start is not None:
                length, end = n, len(history)
                while length < min(MAX_MATCH, start) and history[start - length - 1] == history[end - length - 1]:
                    length += 1
                return start, length
        return None

    def _fade(self) -> None:
        # Not drafting: the estimates drift back towards their priors, so the sequence tries again later.
        self.kept_weight = [w * IDLE_DECAY for w in self.kept_weight]
        self.missed_weight = [w * IDLE_DECAY for w in self.missed_weight]

    def _extend_index(self) -> None:
        # Only n-grams with a token after them are indexed, so the sequence's own last n-gram never
        # matches itself.
        history = self.history
        end = len(history) - 1
        begin = max(self.indexed, end - MAX_INDEXED)
        index = self.index
        for stop in range(begin + 1, end + 1):  # the n-gram history[stop - n:stop] is followed by history[stop]
            for n in NGRAM_SIZES:
                if stop >= n:
                    index[tuple(history[stop - n : stop])] = stop
        self.indexed = max(self.indexed, end)

    def record(self, drafted: int, kept: int) -> None:
        """Adapt the estimates to what was kept of the latest draft of `drafted` tokens: each drafted
        token counts at the match length it was drafted at, kept ones until the first one rejected."""
        if drafted == 0:
            return
        self.drafted += drafted
        self.accepted += kept
        self.kept_weight = [w * DECAY for w in self.kept_weight]
        self.missed_weight = [w * DECAY for w in self.missed_weight]
        for i in range(kept):
            self.kept_weight[bucket_of(self.length + i)] += 1
        if kept < drafted:
            self.missed_weight[bucket_of(self.length + kept)] += 1


def bucket_of(length: int) -> int:
    """The acceptance bucket of a draft position whose match is `length` tokens long."""
    return max(0, bisect_right(MATCH_BUCKETS, length) - 1)


def expected_tokens(acceptance: float | Sequence[float], k: int) -> float:
    """Tokens one step yields in expectation with a draft of k tokens, each kept (while all before it
    were) with `acceptance`, or acceptance[i] for the i-th: 1 + a0 + a0 a1 + ... (1 + a + ... + a^k)."""
    if isinstance(acceptance, float | int):
        if acceptance >= 1.0:
            return float(k + 1)
        return (1.0 - acceptance ** (k + 1)) / (1.0 - acceptance)
    total, kept = 1.0, 1.0
    for a in acceptance[:k]:
        kept *= a
        total += kept
    return total


def best_draft_length(
    acceptance: float | Sequence[float], cost: Callable[[int], float], limit: int, others: float = 0.0
) -> int:
    """The draft length (0 = none) with the most expected tokens per unit of step time (`acceptance`: as
    for `expected_tokens`), where `cost(k)` is the step's time with k drafted tokens added (weighed at
    DRAFT_LENGTHS and at `limit`) and `others` the tokens the rest of the step's batch yields: a draft
    slows every sequence in the step, so it pays only if the step as a whole makes tokens faster with it."""
    if isinstance(acceptance, float | int):
        expected = [expected_tokens(acceptance, k) for k in range(max(0, limit) + 1)]
    else:  # (one pass: 1, 1 + a0, 1 + a0 + a0 a1, ...)
        limit = min(limit, len(acceptance))
        expected, kept = [1.0], 1.0
        for a in acceptance[: max(0, limit)]:
            kept *= a
            expected.append(expected[-1] + kept)
    best, best_rate = 0, 0.0
    for k in (*(k for k in DRAFT_LENGTHS if k < limit), limit) if limit > 0 else ():
        rate = (others + expected[k]) / cost(k)
        if rate > best_rate:
            best, best_rate = k, rate
    # (A margin: the estimates are noisy, and not drafting is the safe side.)
    return best if best_rate > 1.02 * (others + 1) / cost(0) else 0


class StepCost:
    """One model's decode time by the number of tokens in the batch, measured online: an EMA per batch
        size, interpolated between measured sizes and extended by the prior's cost per token past them.

        On a CPU the curve is far from a line (measured on the demo model, 2 threads: 1 token 15 ms, 2 tokens
        29 ms, 9 tokens 81 ms, 17 tokens 128 ms), so sizes are kept apart. A sample is capped at twice its
        size's average and weighs less above it than below it (a step the scheduler preempted says nothing
    about drafts: the average follows the unhindered time), and a size not measured for
        `FORGET_AFTER_STEPS` steps is forgotten, so a bad estimate cannot rule drafts out for good."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = {}
        self.seen: dict[int, int] = {}  # size → the step it was last measured at
        self.steps = 0

    def record(self, n_tokens: int, seconds: float, outputs: int | None = None) -> None:
        """A decode of `n_tokens` tokens, `outputs` of them with logits (None: all), took `seconds`."""
        self.steps += 1
        if n_tokens <= 0 or n_tokens > 4 * MAX_LOOKUP_DRAFT or seconds <= 0:
            return  # (long prompt chunks: a draft never makes a batch that big)
        if outputs is not None and outputs < n_tokens:
            return  # a prompt chunk in the batch: tokens without logits cost far less than a draft's
        for n in [n for n, at in self.seen.items() if self.steps - at > FORGET_AFTER_STEPS]:
            del self.seconds[n], self.seen[n]
        old = self.seconds.get(n_tokens)
        if old is None:
            smaller = [(n, t) for n, t in self.seconds.items() if n < n_tokens]
            if smaller:  # never more than evaluating the tokens one by one
                n, t = max(smaller)
                seconds = min(seconds, t * n_tokens / n)
            self.seconds[n_tokens] = seconds
        else:  # a low quantile: the other processes on the machine only ever add time
            rate = COST_EMA_DOWN if seconds < old else COST_EMA_UP
            self.seconds[n_tokens] = old + rate * (min(seconds, 2 * old) - old)
        self.seen[n_tokens] = self.steps

    def of(self, n_tokens: int) -> float:
        """The expected time of a decode of `n_tokens` (the prior's, in one-token steps, before any)."""
        known = self.seconds
        if n_tokens in known:
            return known[n_tokens]
        below = max((n for n in known if n < n_tokens), default=None)
        above = min((n for n in known if n > n_tokens), default=None)
        if below is not None and above is not None:
            share = (n_tokens - below) / (above - below)
            return known[below] + share * (known[above] - known[below])
        if below is not None:
            return known[below] + self._slope(below) * (n_tokens - below)
        if above is not None:
            return known[above] * prior_cost(n_tokens) / prior_cost(above)
        return prior_cost(n_tokens)

    def _slope(self, largest: int) -> float:
        # Past the largest measured size: its last segment's cost per token, within the prior's bounds (on
        # a CPU the cost per token falls as the batch grows, so the prior's half a step is pessimistic
        # for long drafts, and a size never measured would never be tried).
        known = self.seconds
        unit = known[min(known)] / prior_cost(min(known))  # a one-token step, by the smallest size
        below = max((n for n in known if n < largest), default=None)
        if below is None:
            return unit * PRIOR_EXTRA_TOKEN_COST
        slope = (known[largest] - known[below]) / (largest - below)
        return min(max(slope, unit * MIN_EXTRA_TOKEN_COST), unit * PRIOR_EXTRA_TOKEN_COST)

    def marginal(self, base: int) -> Callable[[int], float]:
        """cost(k): the step time of a batch of `base` tokens with k more."""
        return lambda k: self.of(base + k)


def prior_cost(n_tokens: int) -> float:
    """A step's time in units of a one-token step, before anything is measured (and for deterministic
    requests, always: their drafts must not depend on timings)."""
    return 1.0 + PRIOR_EXTRA_TOKEN_COST * (max(1, n_tokens) - 1)


class Distribution:
    """A request's sampler chain without its final draw, applied to logits (for a sampled request)."""

    def __init__(self, chain: Chain, *, greedy: bool, seed: int | None) -> None:
        self.chain = chain
        self.greedy = greedy
        self.rng = np.random.default_rng(seed if seed is not None else int.from_bytes(os.urandom(8), "little"))

    def candidates(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray] | int:
        """The chain's candidates and their probabilities, or its choice for a greedy chain (on a
        preselection of the logits where that is exact: see engine.runtime.candidates)."""
        kept, selected = self.chain.apply(logits)
        if self.greedy:
            return int(kept["id"][selected])
        logit = kept["logit"].astype(np.float64)
        probabilities = np.exp(logit - logit.max())
        return kept["id"].copy(), probabilities / probabilities.sum()

    def choose(self, logits: np.ndarray, draft: int | None) -> int:
        """The token at one position: the draft kept with probability p(draft), else a draw from the rest."""
        found = self.candidates(logits)
        if isinstance(found, int):
            return found
        ids, p = found
        if draft is not None:
            where = np.flatnonzero(ids == draft)
            p_draft = float(p[where[0]]) if len(where) else 0.0
            if self.rng.random() < p_draft:
                return draft
            if len(where) and p_draft < 1.0:
                p = p.copy()
                p[where[0]] = 0.0
                p /= p.sum()
        cumulative = np.cumsum(p)
        at = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1], side="right"))
        return int(ids[min(at, len(ids) - 1)])

    def accept(self, token: int) -> None:
        """Advance the chain's state (penalty window, grammar) by the token taken."""
        self.chain.accept(token)

    def close(self) -> None:
        """Free the native chain."""
        self.chain.close()


@dataclass
class Speculation:
    """One request's speculative state: its drafter, the draft in the current batch, its distribution."""

    drafter: Drafter
    distribution: Distribution | None  # None: plain greedy (argmax of the logits)
    draft: list[int] = field(default_factory=list)

    def close(self) -> None:
        """Free native state."""
        if self.distribution is not None:
            self.distribution.close()


def room_for_draft(model: BatchedModel, request: Request) -> int:
    """How many drafted tokens could be useful: never past max_tokens or the sequence's context."""
    left = min(request.params.max_tokens, model.n_ctx_seq - len(request.prompt)) - request.generated
    return max(0, left - 1)


def verify(model: BatchedModel, request: Request, ctx: LlamaContext) -> None:
    """Take the tokens of a speculating request after a decode: the model's token at each position, for as
    long as it equals the drafted one; then remove the cells of the drafted tokens not kept."""
    speculation = request.speculation
    assert speculation is not None
    draft, speculation.draft = speculation.draft, []
    slot = request.slot
    base = len(slot.tokens) - len(draft)  # the cache up to and including the token decoded for logits
    kept, finished = 0, False
    for i in range(len(draft) + 1):
        index = request.batch_index + i
        guess = draft[i] if i < len(draft) else None
        token = _choose(model, request, index, ctx, guess)
        del slot.tokens[base + i :]
        if not model._take(request, token, index, ctx):
            finished = True
            break
        speculation.drafter.push(token)
        if token != guess:
            break  # the token is the next one to evaluate
        kept += 1
        slot.tokens.append(token)  # already in the cache
        request.next_token = None
    speculation.drafter.record(len(draft), kept)
    model.drafted += len(draft)
    model.kept += kept
    # A finished deterministic request's slot lists nothing any more (its cache's prompt chunks stay, for
    # the next one to reuse, and it trims the rest itself: see deterministic.lane_request); removing from
    # len(slot.tokens) would empty the cache under that bookkeeping.
    if draft and not (finished and request.solo):
        ctx.kv_cache_seq_rm(slot.seq_id, len(slot.tokens), -1)


def _choose(model: BatchedModel, request: Request, index: int, ctx: LlamaContext, guess: int | None) -> int:
    speculation = request.speculation
    assert speculation is not None
    distribution = speculation.distribution
    if distribution is None:
        return model._argmax(index, request.params, ctx)
    if guess is None and request.sampler is not None:
        # Nothing drafted here: llama.cpp's own chain draws (and accepts) it; the copy follows.
        token = request.sampler.sample(ctx, index, model._logits(index, ctx))
    else:
        token = distribution.choose(model._logits(index, ctx), guess)
        if request.sampler is not None:
            request.sampler.accept(token)
    distribution.accept(token)
    return token
