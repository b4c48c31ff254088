"""Sampling with top-k first without copying the vocabulary (`NucleusSampler`), exact to llama.cpp's chain.

A sampled request's native chain (top-k → top-p → min-p → temperature → draw) starts by copying every
logit into a candidate array and partially sorting it: on a 262k-token vocabulary (Gemma) that is about
0.7 ms per token and sequence, on the model's thread, while every other stream waits for the next step.
With top-k on (the default, 40, as llama-server's), only the k largest logits can ever be drawn, and
finding them needs no copy: the logits at least `gap` below the maximum are found with one vectorised
comparison (`gap` adapts to what the last token needed, and widens until at least k are in), and only
those few are sorted. Top-p, min-p and temperature then apply to the k survivors exactly as llama.cpp
applies them (same order, same rules, the same `min_keep` of 1), and the draw uses a generator seeded
from the request's seed. The distribution is the chain's; the random stream is numpy's rather than
llama.cpp's Mersenne twister, so a seed picks different (equally distributed) tokens than the native
chain would. Ties at the k-th logit are broken by token id (llama.cpp's partial sort leaves them to its
implementation). Requests the sampler does not cover (top-k off, a grammar, penalties, a logit bias,
ignore_eos) keep the native chain.
"""

from __future__ import annotations

import math
import os

import numpy as np

from engine.runtime.speculative import Distribution
from engine.runtime.types import GenerationParams

# Where the threshold starts, in logits below the maximum, before a request's first token tells more.
START_GAP = 8.0
# The next threshold sits this many logits further below the maximum than the k-th logit was (the next
# token's logits are spread a little differently), so one pass usually finds enough and few more.
GAP_SLACK = 1.0
# Too few found: the gap widens by this factor (and GAP_SLACK) and the blocks are searched again.
GAP_GROWTH = 1.5
MAX_GAP = 1e4  # past this, every finite logit is in (the threshold is -inf)
BLOCK = 256  # logits per block whose maximum is taken first


def covers(params: GenerationParams) -> bool:
    """Whether `NucleusSampler` samples this request exactly as its native chain would."""
    return (
        params.temperature > 0.0
        and params.top_k > 0
        and params.grammar is None
        and not params.logit_bias
        and not params.ignore_eos
        and params.repeat_penalty == 1.0
        and params.frequency_penalty == 0.0
        and params.presence_penalty == 0.0
    )


class NucleusSampler(Distribution):
    """top-k → top-p → min-p → temperature → draw on one row of logits (see the module docstring)."""

    def __init__(self, params: GenerationParams) -> None:  # noqa: D107 - no native chain to set up
        # (Distribution's array of the whole vocabulary and native chain are exactly what this avoids.)
        self.greedy = False
        seed = params.seed if params.seed is not None else int.from_bytes(os.urandom(8), "little")
        self.rng = np.random.default_rng(seed)
        self.top_k = params.top_k
        self.top_p = params.top_p
        # llama.cpp compares float32 logits with max + logf(min_p), in float32.
        self.min_p_offset = np.float32(math.log(params.min_p)) if params.min_p > 0.0 else None
        self.temperature = params.temperature
        self.gap = START_GAP

    def top(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The top-k token ids, likeliest first (ties: lower id first), and their logits."""
        k = min(self.top_k, len(logits))
        # Each block's maximum, in one pass: only the blocks that reach the threshold are searched (on
        # 262k logits, a comparison of the whole row and numpy's nonzero cost 0.3 ms; this, 0.1 ms).
        whole = len(logits) - len(logits) % BLOCK
        block_max = logits[:whole].reshape(-1, BLOCK).max(axis=1) if whole else np.empty(0, np.float32)
        tail = np.arange(whole, len(logits))
        best = max(block_max.max(initial=-np.inf), logits[whole:].max(initial=-np.inf))
        gap = self.gap
        while True:
            threshold = best - np.float32(gap) if gap < MAX_GAP else -np.inf
            hot = np.flatnonzero(block_max >= threshold)
            near = np.concatenate([(hot[:, None] * BLOCK + np.arange(BLOCK)).ravel(), tail])
            ids = near[logits[near] >= threshold]
            if len(ids) >= k or threshold == -np.inf:
                break
            gap = gap * GAP_GROWTH + GAP_SLACK
        values = logits[ids]
        if len(ids) > k:
            # The k largest, as a set: the (k-1)-th smallest of the negated values and all below it.
            kth = values[np.argpartition(-values, k - 1)[k - 1]]
            # Ties at the k-th logit: the lower ids (argpartition would pick among them arbitrarily).
            above = np.flatnonzero(values > kth)
            tied = np.flatnonzero(values == kth)[: k - len(above)]
            part = np.concatenate([above, tied])
            ids, values = ids[part], values[part]
        order = np.lexsort((ids, -values))  # by logit descending, then id
        ids, values = ids[order], values[order]
        if len(values) and np.isfinite(values[-1]):
            self.gap = float(best - values[-1]) + GAP_SLACK
        return ids, values

    def candidates(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tokens the chain keeps and their probabilities (after temperature)."""
        ids, values = self.top(logits)
        n = len(ids)
        if self.top_p < 1.0 and n > 1:
            # llama.cpp: softmax over the survivors, keep up to the first token where the sum reaches p.
            shifted = np.exp(values.astype(np.float64) - float(values[0]))
            cumulative = np.cumsum(shifted / shifted.sum())
            n = min(n, int(np.searchsorted(cumulative, self.top_p, side="left")) + 1)
        if self.min_p_offset is not None and n > 1:
            # Sorted: keep the prefix whose logits are at least the maximum + log(min_p) (the first always).
            threshold = values[0] + self.min_p_offset
            n = max(1, int(np.count_nonzero(values[:n] >= threshold)))
        ids, kept = ids[:n], values[:n].astype(np.float64) / self.temperature
        probabilities = np.exp(kept - kept[0])
        return ids, probabilities / probabilities.sum()

    def sample(self, logits: np.ndarray) -> int:
        """Draw the next token."""
        return self.choose(logits, None)

    def accept(self, token: int) -> None:
        """Nothing to advance: the sampler has no state that depends on the tokens taken."""

    def close(self) -> None:
        """Nothing native to free."""
