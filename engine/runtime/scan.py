"""The sampler preselection's passes over a row of logits, in C where it was built (`Scan`).

Right after a decode the row (1 MB on the demo model's 262,144-token vocabulary) is cold in the CPU's
caches: one read of it costs about 80 µs there, whatever reads it. Numpy needs three passes and a gather
to find the logits at or above a threshold (0.16-0.21 ms a row, timed inside real decoding), another for
the largest logit when the guess misses, and a handful of calls (gather, partition, filter, merge) to pick
the tokens from what it found, each slowed by the cold caches as much. `engine/runtime/_scan.c` finds them
in one read, picks them in one call, and writes the candidate records in one loop. The install builds it
(optional: without a compiler numpy gives the same results, slower); tests compare the two.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

# The C part's contract this module calls (engine/runtime/_scan.c's SCAN_VERSION).
VERSION = 3

_native: ModuleType | None
try:
    import engine.runtime._scan as _native
except ImportError:  # (the optional C part was not built: numpy does the same)
    _native = None
if _native is not None and getattr(_native, "VERSION", None) != VERSION:
    _native = None  # (built from another checkout's source, left in place: numpy rather than a wrong call)

# Off: numpy does the passes (tests compare the two, bench/bench_overhead.py --numpy-scan times them).
NATIVE = _native is not None


class Scan:
    """The logits of a row of `n_vocab` at or above a threshold (`at_least`), and the preselection picked
    from them (`select`)."""

    def __init__(self, n_vocab: int) -> None:
        self.native = NATIVE and _native is not None
        # (np.empty: only the pages written are touched, and a row rarely has more than a few hundred)
        self._found = np.empty(n_vocab if self.native else 0, dtype=np.int32)
        self._out = np.empty(0, dtype=np.int32)
        self._count = 0  # what the last at_least found: in _found (C) or in _numpy_found
        self._counted_in_c = False
        self._numpy_found = np.empty(0, dtype=np.int64)
        self._flags = np.empty(0, dtype=bool)
        self._words = np.empty(0, dtype=bool)

    def at_least(self, logits: np.ndarray, threshold: np.floating) -> tuple[int, float | None]:
        """How many logits are >= threshold (kept for `select` and `found`), and the largest logit (NaN
        when the row holds a NaN) where that came at no cost (else None)."""
        if self.native and _float_row(logits) and len(logits) <= len(self._found):
            assert _native is not None
            self._count, top = _native.at_least(logits, float(threshold), self._found)
            self._counted_in_c = True
            return self._count, top
        self._numpy_found = self._numpy_at_least(logits, threshold)
        self._count, self._counted_in_c = len(self._numpy_found), False
        return self._count, None

    def found(self) -> np.ndarray:
        """The indices the last `at_least` found, ascending."""
        if self._counted_in_c:
            return self._found[: self._count].copy()
        return self._numpy_found

    def select(
        self, logits: np.ndarray, need: int, too_wide: int, touched: np.ndarray, threshold: np.floating
    ) -> tuple[np.ndarray, float]:
        """From the last `at_least(logits, threshold)` (at least `need` found): the need-th largest of their
        logits, nth, and the preselection: what was found (only those >= nth when more than too_wide * need
        beyond the need), with the `touched` tokens (int32, ascending) below the threshold kept, ascending."""
        if self._counted_in_c and _native is not None and touched.dtype == np.int32 and _float_row(logits):
            count = self._count
            if len(self._out) < count + len(touched):
                self._out = np.empty(max(2 * (count + len(touched)), 256), dtype=np.int32)
            n, nth = _native.select(logits, self._found, count, need, too_wide, touched, float(threshold), self._out)
            return self._out[:n].copy(), nth
        above = self.found()
        values = logits[above]
        at = len(values) - need
        nth = np.partition(values, at)[at]
        if at > too_wide * need:
            above, threshold = above[values >= nth], nth
        if len(touched) == 0:
            return above, float(nth)
        ids = np.concatenate((above, touched[logits[touched] < threshold]))
        ids.sort()
        return ids, float(nth)

    def _numpy_at_least(self, logits: np.ndarray, threshold: np.floating) -> np.ndarray:
        # (np.flatnonzero over 262k flags takes 80 µs; finding the few 8-flag words that hold any first
        # takes a third of that. The flags' buffers are kept: a fresh 256 kB array costs its page faults.)
        flags = self._flags
        if len(flags) != len(logits):
            flags = self._flags = np.empty(len(logits), dtype=bool)
            self._words = np.empty(len(logits) // 8, dtype=bool)
        np.greater_equal(logits, threshold, out=flags)
        if len(flags) % 8:
            return np.flatnonzero(flags)
        words = np.flatnonzero(np.not_equal(flags.view(np.uint64), 0, out=self._words))
        within = np.flatnonzero(flags.reshape(-1, 8)[words])
        found: np.ndarray = words[within >> 3] * 8 + (within & 7)
        return found


TIED = -1  # (draw: equal logits among top-k's candidates, see engine/runtime/candidates.py)


def draw(apply: int, accept: int, chain: int, steps: tuple[int, ...], split: int, array: int) -> int | None:
    """Run a sampler chain's steps on the candidates the array at `array` points to, through top-k (the
    first `split` steps) and, unless two of them have equal logits (then TIED), the rest; accept the selected
    token on the chain and return it (-2: none selected). None: the C part was not built or is off.
    `apply`, `accept`: the addresses of llama_sampler_apply and llama_sampler_accept."""
    if not NATIVE or _native is None:
        return None
    token: int = _native.draw(apply, accept, chain, steps, split, array)
    return token


def fill(data: np.ndarray, logits: np.ndarray, ids: np.ndarray) -> None:
    """llama_token_data records (`data`, at least len(ids) long) for the tokens `ids` of the row `logits`."""
    if NATIVE and _native is not None and ids.dtype == np.int32 and ids.flags.c_contiguous and _float_row(logits):
        _native.fill(logits, ids, data)
        return
    data = data[: len(ids)]
    data["id"] = ids
    data["logit"] = logits[ids]
    data["p"] = 0.0


def _float_row(logits: np.ndarray) -> bool:
    """Whether the C part can read the row as it is (llama.cpp's rows are; a test's may not be)."""
    return logits.dtype == np.float32 and logits.flags.c_contiguous
