"""Reading llama.cpp's logits: a batch position's row, the greedy choice, a token's log-probability.

`BatchedModel` (engine.runtime.batch) and speculative verification (engine.runtime.speculative) take
tokens from these rows after each decode; prompt log-probabilities (engine.runtime.prompt_logprobs)
score them. The arithmetic lives here, apart from the decode loop, as functions of the row.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable

import numpy as np
from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaContext

from engine.runtime.types import GenerationParams, TokenLogprob

# Views kept on llama.cpp's logits rows (one per batch position that gets logits, in practice).
MAX_LOGIT_VIEWS = 64


class LogitRows:
    """Numpy views on llama.cpp's logits rows, one made per place in its output buffer."""

    def __init__(self, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        self._views: dict[int, np.ndarray] = {}

    def row(self, ctx: LlamaContext, index: int) -> np.ndarray:
        """The logits of batch position `index` (a view into llama.cpp's buffer, valid until the next decode)."""
        pointer = C.llama_get_logits_ith(ctx.ctx, index)
        address = ctypes.addressof(pointer.contents)
        # Rows sit at a few fixed places in llama.cpp's output buffer: a view made once per place saves
        # numpy's ctypes conversion on every token (0.13 ms right after a decode, when caches are cold).
        view = self._views.get(address)
        if view is None:
            if len(self._views) >= MAX_LOGIT_VIEWS:
                self._views.clear()
            view = self._views[address] = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        return view


def greedy(logits: np.ndarray, params: GenerationParams, forbidden: frozenset[int]) -> int:
    """Greedy choice, as llama.cpp's bias + greedy samplers make it (first maximum wins); `forbidden`: the
    end-of-generation tokens when `params.ignore_eos` rules them out, else none."""
    best = int(np.argmax(logits))
    if not params.logit_bias and not params.ignore_eos:
        return best
    biases = dict(params.logit_bias)
    if best in biases or best in forbidden:
        # The raw winner itself is changed: redo the whole choice on a biased copy.
        logits = logits.copy()
        for token, bias in biases.items():
            logits[token] += bias
        if forbidden:
            logits[list(forbidden)] = -np.inf
        return int(np.argmax(logits))
    # Otherwise only a biased token can beat it: no 1 MB copy of the logits for every token.
    choice, value = best, logits[best]
    for token, bias in biases.items():
        if token in forbidden:
            continue
        biased = logits[token] + np.float32(bias)  # float32, as llama.cpp adds it
        if biased > value or (biased == value and token < choice):
            choice, value = token, biased
    return choice


def token_logprob(logits: np.ndarray, token: int, top_n: int, text: Callable[[int], str]) -> TokenLogprob:
    """`token`'s log-probability under `logits`, with the `top_n` likeliest tokens there (`text`: a token's text)."""
    shifted = logits - logits.max()
    log_probs = shifted - math.log(float(np.exp(shifted).sum()))
    top: tuple[tuple[str, float], ...] = ()
    if top_n:
        best = np.argpartition(-log_probs, top_n)[:top_n]
        best = best[np.argsort(-log_probs[best])]
        top = tuple((text(int(t)), float(log_probs[t])) for t in best)
    return TokenLogprob(text(token), float(log_probs[token]), top)
