"""A request's native sampler chain, applied to an exact preselection of the vocabulary (`Chain`).

llama.cpp's `llama_sampler_sample` copies every logit into a candidate array before the chain runs: on
the demo model's 262,144-token vocabulary that copy, and the chain's first pass over it, cost about half
a millisecond per token and stream, more than the rest of the host's work on a token together.

Most chains truncate early. Ours run logit bias, penalties, [grammar], then top-k (or greedy, a top-1), then
top-p, min-p, temperature and the draw. Only a few tokens' logits change before top-k: the biased ones
(and the end-of-generation tokens when `ignore_eos` bans them) and, when penalties are on, the tokens in
the penalty window (a presence or frequency penalty can be negative and raise one). Every other token
keeps its raw logit. So with `touched` those few tokens, m the largest raw logit and some width d such
that at least k untouched tokens have a logit >= m - d, an untouched token below m - d is beaten by k
untouched tokens and can never be among the k that top-k keeps. The chain therefore picks the same k
tokens (ties at the k-th place aside: llama.cpp's partial sort may order equal logits differently in a
different array) from

    S = {untouched tokens with logit >= m - d}  ∪  touched

as from the whole vocabulary, and every step after top-k is llama.cpp's own code on identical input:
the same candidates, the same probabilities, the same seeded draws. Equal logits among the k are the one
exception: llama.cpp's partial sort is not stable, so they may come out of a smaller array in another
order, and top-p or the seeded draw then take the other of two equally likely tokens. So the chain runs in
two parts: when the k that top-k keeps hold two equal logits (about 1 token in 200 on the demo model,
whose 4-bit weights make equal logits common), the steps up to top-k run again on the whole vocabulary
before the rest: the tokens stay those of `llama_sampler_sample`, ties included. `Chain` fills only S into a small
persistent candidate array (in token-id order, as the full array is, so a greedy chain breaks ties the
same way) and runs the native chain on it, as `llama_sampler_sample` does (apply, take the selected
token, accept it). It falls back to the whole vocabulary when the chain does not truncate (top_k 0),
holds a grammar (which may reject every preselected token), or no width gives the guarantee (a logit
that is not finite, a tiny vocabulary).

The penalty window is the last PENALTY_WINDOW tokens the chain accepted (the prompt's tail, then every
token taken), kept here on the Python side: every accept goes through `Chain.accept` or `Chain.sample`.
"""

from __future__ import annotations

import ctypes
import os
from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np
from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaContext, LlamaSampler

from engine.errors import UserError
from engine.runtime import scan
from engine.runtime.loaded import PENALTY_WINDOW
from engine.runtime.scan import Scan, fill
from engine.runtime.types import GenerationParams

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
assert TOKEN_DATA.itemsize == ctypes.sizeof(C.llama_token_data)

# Off: every chain runs on the whole vocabulary (tests and the bench compare the two paths).
ENABLED = True
# A token's threshold is first guessed from the last one's: a margin below the logit that was the need-th
# largest then (on the demo model the k-th largest logit moves by about 2 from one token to the next: a
# margin of 3 holds about two times in three). Otherwise: a width below the largest logit, doubled until wide
# enough (with k = 40, 8 below the largest takes 2 to 1,700 tokens, median 200, on the demo model).
GUESS_MARGIN = 3.0
FIRST_WIDTH = 4.0
MAX_WIDENINGS = 12
# More than this many times the tokens needed above the threshold: S is cut down to the needed ones.
TOO_WIDE = 4
# Logits come at each model's own scale: a margin that suits Gemma's took half of a 32,000-token vocabulary on
# a model whose logits spread less (the synthetic 1.1B model: 15,500 tokens above the guess, 42 needed). So each
# chain adapts its margin and width: doubled after a guess too narrow, halved after one that let in more than
# SHRINK_ABOVE times the tokens needed, within these factors of the starting values.
SHRINK_ABOVE = 16
SCALE_RANGE = (1 / 1024, 8.0)


class Chain:
    """A native sampler chain that runs on an exact preselection of the logits when that is possible."""

    def __init__(
        self,
        sampler: LlamaSampler,
        n_vocab: int,
        *,
        keep: int,
        top_k_at: int | None = None,
        biased: Iterable[int] = (),
        penalised: bool = False,
        grammar: bool = False,
    ) -> None:
        """`keep`: the k of the chain's first truncating step (top-k's k, 1 for greedy, 0 for none), which is
        top-k at step `top_k_at` of the chain (None: greedy, the last step);
        `biased`: the tokens the logit-bias step changes; `penalised`: whether the penalties step is on."""
        self.sampler = sampler
        self.n_vocab = n_vocab
        # (A grammar may reject every preselected token: such a chain always runs on the whole vocabulary.)
        self.keep = keep if keep > 0 and not grammar else 0
        self.biased = frozenset(int(t) for t in biased)
        self.penalised = penalised
        self.window: deque[int] = deque(maxlen=PENALTY_WINDOW)
        self._touched: np.ndarray | None = np.array(sorted(self.biased), dtype=np.int32)
        self.threshold: np.float32 | None = None  # the first guess for the next token's (see preselect)
        self.margin = GUESS_MARGIN  # (adapted to the model's logits: see SHRINK_ABOVE)
        self.width = FIRST_WIDTH
        self._data = np.zeros(256, dtype=TOKEN_DATA)
        self._pointers = [_pointer(self._data), (None, -1)]  # (pointer, address) of _data and of _full
        self._scan = Scan(n_vocab)
        self._steps: list[object] | None = None  # the chain's samplers, for running it in parts
        self._addresses: tuple[int, tuple[int, ...], int] | None = None  # the chain's, its steps', the array's
        # Where top-k is in the chain (None: no top-k, as in a greedy chain): a preselection whose top k holds
        # equal logits runs again on the whole vocabulary (see the module's docstring).
        self.top_k_at = top_k_at
        self._full: np.ndarray | None = None
        self._array = C.llama_token_data_array(data=None, size=0, selected=-1, sorted=False)
        self._array_p = ctypes.pointer(self._array)
        self.preselecting = ENABLED  # (off: always the whole vocabulary, the path tests compare with)
        self.preselected = 0  # chain runs on a preselection, and on the whole vocabulary
        self.full = 0
        self.ties = 0  # (of those on the whole vocabulary: equal logits in a preselection's top k)

    def accept(self, token: int) -> None:
        """Advance the chain's state (penalty window, grammar) by a token taken."""
        C.llama_sampler_accept(self.sampler.sampler, token)
        self.taken(token)

    def taken(self, token: int) -> None:
        """A token the native chain accepted itself (`llama_sampler_sample`): the penalty window follows."""
        if self.penalised:
            self.window.append(token)
            self._touched = None

    def touched(self) -> np.ndarray:
        """The tokens whose logits the steps before top-k may change, sorted, each once."""
        if self._touched is None:
            self._touched = np.array(sorted(self.biased.union(self.window)), dtype=np.int32)
        return self._touched

    def preselect(self, logits: np.ndarray) -> np.ndarray | None:
        """The token ids S (sorted) the chain's result depends on, or None when that cannot be told."""
        keep = self.keep
        if not self.preselecting or keep <= 0:
            return None
        touched = self.touched()
        # With `need` tokens at or above a threshold, at least `keep` of them are untouched.
        need = keep + len(touched)
        if need >= self.n_vocab:
            return None
        found = 0
        top: float | None = None
        threshold = self.threshold
        if threshold is not None:  # the last token's guess: right about two times in three, in one pass
            found, top = self._at_least(logits, threshold)
            if found < need:
                threshold = None
                self.margin = _scaled(self.margin * 2.0, GUESS_MARGIN)
            elif found > SHRINK_ABOVE * need:
                self.margin = _scaled(self.margin / 2.0, GUESS_MARGIN)
        if threshold is None:
            if top is None:
                top = float(logits.max())
            if not np.isfinite(top):
                return None
            width = self.width
            for _ in range(MAX_WIDENINGS):
                threshold = np.float32(np.float32(top) - np.float32(width))
                found, _ = self._at_least(logits, threshold)
                if found >= need:
                    break
                width *= 2.0
            else:
                return None
            self.width = _scaled(width / 2.0 if found > SHRINK_ABOVE * need else width, FIRST_WIDTH)
        assert threshold is not None
        # The need-th largest is the tightest threshold that would do: the next guess is a margin below it.
        # (A wide S costs its fill and top-k's sort: beyond TOO_WIDE times the need it is narrowed to that.)
        ids, nth = self._scan.select(logits, need, TOO_WIDE, touched, threshold)
        self.threshold = np.float32(np.float32(nth) - np.float32(self.margin)) if np.isfinite(nth) else None
        return ids

    def _at_least(self, logits: np.ndarray, threshold: np.floating) -> tuple[int, float | None]:
        """How many logits are >= threshold, and the largest logit where that came free (see Scan)."""
        return self._scan.at_least(logits, threshold)

    def apply(self, logits: np.ndarray, ids: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """Run the chain (without accepting) on the logits, or on the preselection `ids` of them (found here
        when not given): its candidates, and the index it selected (-1 when the chain has no selecting step)."""
        return self._apply(logits, self.preselect(logits) if ids is None else ids)

    def _apply(self, logits: np.ndarray, ids: np.ndarray | None) -> tuple[np.ndarray, int]:
        """`apply` on the preselection `ids` (None: on the whole vocabulary)."""
        if ids is None:
            self.full += 1
            self._run(self._fill_all(logits), 0, None)
        else:
            self.preselected += 1
            data = self._load(logits, ids)
            top_k = self.top_k_at
            if top_k is None:  # (greedy: the first largest logit in id order, from any superset)
                self._run(data, 0, None)
            else:
                self._run(data, 0, top_k + 1)
                if _tied(self._kept()["logit"]):
                    self.preselected -= 1
                    return self._apply_after_tie(logits)
                self._run(None, top_k + 1, None)
        return self._kept(), int(self._array.selected)

    def _apply_after_tie(self, logits: np.ndarray) -> tuple[np.ndarray, int]:
        """`apply` on the whole vocabulary, for a preselection whose top k held equal logits (see the module's
        docstring; the steps up to top-k keep no state: they run again)."""
        assert self.top_k_at is not None
        self.full += 1
        self.ties += 1
        self._run(self._fill_all(logits), 0, self.top_k_at + 1)
        self._run(None, self.top_k_at + 1, None)
        return self._kept(), int(self._array.selected)

    def _load(self, logits: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The preselection's candidate records, in the persistent array."""
        if len(self._data) < len(ids):
            self._data = np.zeros(max(2 * len(ids), 256), dtype=TOKEN_DATA)
            self._pointers[0] = _pointer(self._data)
        data = self._data[: len(ids)]
        fill(data, logits, ids)
        return data

    def _draw(self, logits: np.ndarray, ids: np.ndarray) -> int | None:
        """Choose and accept a token from the preselection `ids` in one C call (engine/runtime/_scan.c: the
        chain's steps, the check for equal logits among top-k's candidates, the accept); scan.TIED where two
        of those are equal (nothing accepted: those steps must run on the whole vocabulary), None where there
        is no C part."""
        assert self.top_k_at is not None
        if not scan.NATIVE or _SAMPLER_CALLS is None:
            return None
        addresses = self._addresses
        if addresses is None:
            steps = tuple(_address(step) for step in self._chain_steps())
            addresses = self._addresses = (_address(self.sampler.sampler), steps, ctypes.addressof(self._array))
        chain, steps, array_address = addresses
        self._point_at(self._load(logits, ids))
        token = scan.draw(*_SAMPLER_CALLS, chain, steps, self.top_k_at + 1, array_address)
        if token is None or token == scan.TIED:
            return token
        if token < 0:
            raise RuntimeError("the sampler chain selected no token")  # (llama.cpp would abort)
        self.preselected += 1
        self.taken(token)
        return token

    def _fill_all(self, logits: np.ndarray) -> np.ndarray:
        data = self._full
        if data is None:
            data = self._full = np.zeros(self.n_vocab, dtype=TOKEN_DATA)
            self._pointers[1] = _pointer(data)
        data["id"] = np.arange(self.n_vocab, dtype=np.int32)  # the chain sorts the array in place
        data["logit"] = logits
        data["p"] = 0.0
        return data

    def _run(self, data: np.ndarray | None, first: int, stop: int | None) -> None:
        """Apply the chain's steps first..stop-1 (all: 0, None) to `data` (None: the candidates as the last
        steps left them)."""
        if data is not None:
            self._point_at(data)
        if first == 0 and stop is None:
            C.llama_sampler_apply(self.sampler.sampler, self._array_p)
            return
        for step in self._chain_steps()[first:stop]:
            C.llama_sampler_apply(step, self._array_p)

    def _point_at(self, data: np.ndarray) -> None:
        """Make the candidate array the chain runs on `data` (a start of _data or of _full)."""
        array = self._array
        # (numpy's .ctypes costs microseconds a call: the two buffers' pointers are made once)
        array.data = self._pointers[0 if data.base is self._data else 1][0]  # type: ignore[assignment]
        array.size = len(data)
        array.selected = -1
        array.sorted = False

    def _chain_steps(self) -> list[object]:
        """The chain's samplers, in order."""
        steps = self._steps
        if steps is None:
            chain = self.sampler.sampler
            steps = self._steps = [C.llama_sampler_chain_get(chain, i) for i in range(C.llama_sampler_chain_n(chain))]
        return steps

    def _kept(self) -> np.ndarray:
        """The candidates as the chain's steps left them."""
        array = self._array
        size = int(array.size)
        address = ctypes.cast(array.data, ctypes.c_void_p).value or 0
        for (_, at), data in zip(self._pointers, (self._data, self._full), strict=True):
            if data is not None and at == address:
                return data[:size]
        # (a sampler that moved the candidates to a buffer of its own)
        return np.frombuffer(ctypes.string_at(address, size * TOKEN_DATA.itemsize), dtype=TOKEN_DATA)

    def choose(self, logits: np.ndarray, ids: np.ndarray | None = None) -> int:
        """Run the chain on the logits (see `apply`), and take and accept the token it selects (as
        `llama_sampler_sample` does)."""
        if ids is None:
            ids = self.preselect(logits)
        drawn = self._draw(logits, ids) if ids is not None and self.top_k_at is not None else None
        if drawn is not None and drawn >= 0:
            return drawn
        if drawn == scan.TIED:  # (equal logits in the preselection's top k: straight to the whole vocabulary)
            kept, selected = self._apply_after_tie(logits)
        else:
            kept, selected = self._apply(logits, ids)
        if not 0 <= selected < len(kept):
            raise RuntimeError("the sampler chain selected no token")  # (llama.cpp would abort)
        token = int(kept["id"][selected])
        self.accept(token)
        return token

    def sample(self, ctx: LlamaContext, index: int, logits: np.ndarray) -> int:
        """Choose and accept the next token from batch position `index` (`logits`: that row's)."""
        # On a preselection where that is exact: llama_sampler_sample copies the whole row into a 3 MB candidate
        # array and sorts its top k out of all 262,144 (with penalties on, it also looks every one up in the
        # window: 1.1 ms against 0.4-0.5 ms). Timed inside real decoding (demo model, 3 interleaved runs of 4
        # sampled streams): 0.22-0.25 ms a token against 0.32-0.40 ms, and the decodes ran 4-5 % faster too,
        # with no 3 MB array pushing their working set out of the CPU's caches. One stream: about even (0.36-0.38
        # against 0.33-0.44 ms), the decodes again faster. (A micro-benchmark that draws alone, without decodes in
        # between, bench/bench_sampling_call.py, sees the two as equal: it cannot see that effect.)
        ids = self.preselect(logits)
        if ids is not None:
            return self.choose(logits, ids)
        self.full += 1
        token = int(C.llama_sampler_sample(self.sampler.sampler, ctx.ctx, index))
        self.taken(token)
        return token

    def close(self) -> None:
        """Free the native chain."""
        self._addresses = self._steps = None  # (they pointed into it)
        self.sampler.close()


def sampler_chain(
    params: GenerationParams,
    n_vocab: int,
    prompt: Sequence[int],
    *,
    eog: Sequence[int] = (),
    vocab: object = None,
    draw: bool = True,
) -> Chain:
    """A request's native chain: bias (and `eog` banned for ignore_eos), penalties fed the prompt's tail,
    grammar (parsed against `vocab`), then greedy, or top-k, top-p, min-p, temperature and (when `draw`)
    the seeded draw."""
    sampler = LlamaSampler()
    bias = dict(params.logit_bias)
    if params.ignore_eos:
        bias.update(dict.fromkeys(eog, float("-inf")))
    if bias:
        sampler.add_logit_bias(n_vocab, bias)
    sampler.add_penalties(
        n_vocab, PENALTY_WINDOW, params.repeat_penalty, params.frequency_penalty, params.presence_penalty
    )
    penalised = (params.repeat_penalty, params.frequency_penalty, params.presence_penalty) != (1.0, 0.0, 0.0)
    # Top-k (greedy: a top-1) is the first step after bias, penalties and grammar.
    keep = 1 if params.temperature == 0.0 else params.top_k
    top_k_at = None if params.temperature == 0.0 else (1 if bias else 0) + 1 + (1 if params.grammar else 0)
    chain = Chain(
        sampler, n_vocab, keep=keep, top_k_at=top_k_at, biased=bias, penalised=penalised, grammar=bool(params.grammar)
    )
    # Penalties look at recent history, so they are fed the prompt's tail. The grammar joins the chain
    # only afterwards: fed prompt tokens, it would reject them and abort the process.
    for token in prompt[-PENALTY_WINDOW:]:
        chain.accept(token)
    if params.grammar:
        # llama.cpp parses the grammar here and returns NULL when it fails; a NULL in the chain crashes.
        grammar = C.llama_sampler_init_grammar(vocab, params.grammar.encode("utf-8"), b"root")
        if not grammar:
            sampler.close()
            raise UserError("the response format could not be turned into a valid grammar")
        C.llama_sampler_chain_add(sampler.sampler, grammar)
    if params.temperature == 0.0:
        sampler.add_greedy()
    else:
        seed = params.seed if params.seed is not None else int.from_bytes(os.urandom(4), "little")
        sampler.add_top_k(params.top_k)
        sampler.add_top_p(params.top_p, 1)
        sampler.add_min_p(params.min_p, 1)
        sampler.add_temp(params.temperature)
        if draw:
            sampler.add_dist(seed)
    return chain


def _address(pointer: object) -> int:
    """A ctypes pointer's address."""
    address = ctypes.cast(pointer, ctypes.c_void_p).value  # type: ignore[arg-type]
    if not address:
        raise RuntimeError("a null sampler")
    return address


def _sampler_calls() -> tuple[int, int] | None:
    """The addresses of llama_sampler_apply and llama_sampler_accept, for the C draw (None: not found)."""
    library = getattr(C, "_lib", None)
    try:
        calls = [
            ctypes.cast(getattr(library, name), ctypes.c_void_p).value
            for name in ("llama_sampler_apply", "llama_sampler_accept")
        ]
    except (AttributeError, TypeError):
        return None
    return (calls[0], calls[1]) if calls[0] and calls[1] else None


_SAMPLER_CALLS = _sampler_calls()


def _pointer(data: np.ndarray) -> tuple[object, int]:
    """A llama_token_data pointer to the array's start, and its address."""
    address = data.ctypes.data
    return ctypes.cast(address, C.llama_token_data_p), address


def _scaled(value: float, start: float) -> float:
    """`value` kept within SCALE_RANGE times `start`."""
    low, high = SCALE_RANGE
    return min(max(value, start * low), start * high)


def _tied(logits: np.ndarray) -> bool:
    """Whether two of top-k's candidates (sorted by logit) have the same logit."""
    return len(logits) > 1 and bool(np.any(logits[1:] == logits[:-1]))
