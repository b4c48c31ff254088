"""Speculative decoding inside continuous batching: prompt-lookup drafts, verified in the shared batch.

A decoding sequence whose last few tokens occurred before in its prompt or reply (a quoted document, a
code file returned with an edit, a repeated list) guesses that what followed them then follows now. In
the step's one `llama_decode` batch it adds its next token plus up to `MAX_DRAFT` guessed tokens, each
with logits, and keeps the longest run of guesses the model itself would have produced, plus the model's
own token after that run: one decode then yields up to `MAX_DRAFT + 1` tokens. The cells of the guesses
it did not keep are removed from the cache.

Exact. A greedy request takes the model's most likely token at each position, as it would without
drafts: the guesses only decide how many positions are evaluated at once. A sampled request uses the
speculative sampling rule (Leviathan et al. 2023, Chen et al. 2023) for a proposal that is certain
(q(d) = 1): the drafted token d is kept with probability p(d), otherwise a token is drawn from p with d
removed and renormalised, so every token is distributed as the target model's p. Here p is the request's
own sampler chain (bias, penalties, grammar, top-k, top-p, min-p, temperature) applied to the logits,
token by token, so the chain's state (penalty window, grammar) advances exactly as without drafts. The
draws use a generator seeded from the request's seed.

Adaptive. Each sequence's draft length grows while its guesses are kept and shrinks when they are not;
a sequence whose guesses keep failing pauses guessing for a growing number of steps. Ordinary chat,
where earlier n-grams rarely predict the reply, then decodes as it would without speculation.

Deterministic requests (a seed, or a key's "reproducible" rule) speculate too, in the model's solo
context: what they draft, how long, and what they keep depend only on their own tokens and seed, so the
batches their tokens are decoded in, and hence the tokens, are the same every time.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaContext, LlamaSampler

if TYPE_CHECKING:
    from engine.runtime.batch import BatchedModel, _Request

# Longest match first: an 8-token match is usually the one place being quoted. Shorter matches than 4
# tokens guess wrong too often in chat to pay for the extra positions a step evaluates (on a CPU, each
# costs about half a token's decode).
NGRAM_SIZES = (8, 4)
MAX_DRAFT = 16
START_DRAFT = 4
# After this many drafts in a row with nothing kept, a sequence stops guessing for this many steps at most.
MAX_PAUSE = 32
# The n-grams of at most this many recent tokens are indexed (a long document: its last 32k tokens).
MAX_INDEXED = 32768
SPECULATION_CHOICES = ("lookup", "off")

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
assert TOKEN_DATA.itemsize == ctypes.sizeof(C.llama_token_data)


@dataclass
class Drafter:
    """Prompt-lookup drafts for one sequence, and how long they should be (see the module docstring)."""

    history: list[int]  # the prompt, then every token taken
    index: dict[tuple[int, ...], int] = field(default_factory=dict)  # n-gram → where its latest continuation starts
    indexed: int = 0  # n-grams ending before this position are in `index`
    length: int = START_DRAFT
    misses: int = 0  # drafts in a row of which nothing was kept
    pause: int = 0  # steps left without guessing
    drafted: int = 0
    accepted: int = 0

    def push(self, token: int) -> None:
        """A token was taken (sampled or accepted)."""
        self.history.append(token)

    def draft(self, limit: int) -> list[int]:
        """Up to `limit` tokens that followed the longest recent n-gram last time it occurred."""
        if self.pause > 0:
            self.pause -= 1
            return []
        limit = min(limit, self.length)
        if limit <= 0:
            return []
        self._extend_index()
        history = self.history
        for n in NGRAM_SIZES:
            start = self.index.get(tuple(history[-n:])) if len(history) > n else None
            if start is not None:
                return history[start : start + limit]
        return []

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
        """Adapt the draft length to what was kept of a draft of `drafted` tokens."""
        if drafted == 0:
            return
        self.drafted += drafted
        self.accepted += kept
        if kept == drafted:
            self.length = min(MAX_DRAFT, self.length + 2)
        else:
            self.length = max(1, kept + 1)
        if kept == 0:
            self.misses += 1
            self.pause = min(MAX_PAUSE, 2**self.misses - 1)
        else:
            self.misses = 0


class Distribution:
    """A request's sampler chain without its final draw, applied to logits (for a sampled request)."""

    def __init__(self, chain: LlamaSampler, n_vocab: int, *, greedy: bool, seed: int | None) -> None:
        self.chain = chain
        self.greedy = greedy
        self.rng = np.random.default_rng(seed if seed is not None else int.from_bytes(os.urandom(8), "little"))
        self.data = np.zeros(n_vocab, dtype=TOKEN_DATA)
        self.data["id"] = np.arange(n_vocab, dtype=np.int32)
        self.pointer = self.data.ctypes.data_as(C.llama_token_data_p)

    def candidates(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray] | int:
        """The chain's candidates and their probabilities, or its choice for a greedy chain."""
        data = self.data
        data["id"] = np.arange(len(data), dtype=np.int32)  # the chain sorts the array in place
        data["logit"] = logits
        data["p"] = 0.0
        array = C.llama_token_data_array(data=self.pointer, size=len(data), selected=-1, sorted=False)
        C.llama_sampler_apply(self.chain.sampler, ctypes.byref(array))
        size = int(array.size)
        address = ctypes.cast(array.data, ctypes.c_void_p).value or 0
        if address == self.data.ctypes.data:
            kept = self.data[:size]
        else:  # (a sampler that moved the candidates to a buffer of its own)
            kept = np.frombuffer(ctypes.string_at(address, size * TOKEN_DATA.itemsize), dtype=TOKEN_DATA)
        if self.greedy:
            return int(kept["id"][array.selected])
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
        C.llama_sampler_accept(self.chain.sampler, token)

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


def room_for_draft(model: BatchedModel, request: _Request) -> int:
    """How many drafted tokens could be useful: never past max_tokens or the sequence's context."""
    left = min(request.params.max_tokens, model.n_ctx_seq - len(request.prompt)) - request.generated
    return max(0, left - 1)


def verify(model: BatchedModel, request: _Request, ctx: LlamaContext) -> None:
    """Take the tokens of a speculating request after a decode: the model's token at each position, for as
    long as it equals the drafted one; then remove the cells of the drafted tokens not kept."""
    speculation = request.speculation
    assert speculation is not None
    draft, speculation.draft = speculation.draft, []
    slot = request.slot
    base = len(slot.tokens) - len(draft)  # the cache up to and including the token decoded for logits
    kept = 0
    for i in range(len(draft) + 1):
        index = request.batch_index + i
        guess = draft[i] if i < len(draft) else None
        token = _choose(model, request, index, ctx, guess)
        del slot.tokens[base + i :]
        if not model._take(request, token, index, ctx):
            break  # finished
        speculation.drafter.push(token)
        if token != guess:
            break  # the token is the next one to evaluate
        kept += 1
        slot.tokens.append(token)  # already in the cache
        request.next_token = None
    speculation.drafter.record(len(draft), kept)
    model.drafted += len(draft)
    model.kept += kept
    if draft:
        ctx.kv_cache_seq_rm(slot.seq_id, len(slot.tokens), -1)


def _choose(model: BatchedModel, request: _Request, index: int, ctx: LlamaContext, guess: int | None) -> int:
    speculation = request.speculation
    assert speculation is not None
    distribution = speculation.distribution
    if distribution is None:
        return model._argmax(index, request.params, ctx)
    if guess is None and request.sampler is not None:
        # Nothing drafted here: llama.cpp's own chain draws (and accepts) it; the copy follows.
        token = int(C.llama_sampler_sample(request.sampler.sampler, ctx.ctx, index))
    else:
        token = distribution.choose(model._logits(index, ctx), guess)
        if request.sampler is not None:
            C.llama_sampler_accept(request.sampler.sampler, token)
    distribution.accept(token)
    return token
