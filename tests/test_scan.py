"""The preselection's pass over a row of logits (engine.runtime.scan): the C part finds exactly what numpy
finds, on rows shaped like a model's and on the odd ones (NaN, infinities, lengths that are no multiple of
its 16-float steps), and a sampler chain draws the same tokens with either."""

from __future__ import annotations

import numpy as np
import pytest

from engine.runtime import scan
from engine.runtime.candidates import TOKEN_DATA, Chain
from engine.runtime.types import GenerationParams
from tests.test_candidates import _logits, _pair

native = pytest.mark.skipif(not scan.NATIVE, reason="engine/runtime/_scan.c was not built (no C compiler or headers)")


def _both(monkeypatch: pytest.MonkeyPatch, n_vocab: int) -> tuple[scan.Scan, scan.Scan]:
    fast = scan.Scan(n_vocab)
    monkeypatch.setattr(scan, "NATIVE", False)
    slow = scan.Scan(n_vocab)
    monkeypatch.setattr(scan, "NATIVE", True)
    assert fast.native and not slow.native
    return fast, slow


def _rows(rng: np.random.Generator) -> list[np.ndarray]:
    rows = [rng.standard_normal(n).astype(np.float32) * 3 for n in (0, 1, 7, 15, 16, 17, 31, 33, 1000, 262144)]
    odd = rng.standard_normal(4099).astype(np.float32)
    odd[[3, 70, 4098]] = [np.inf, -np.inf, 5.0]
    rows.append(odd)
    with_nan = rng.standard_normal(300).astype(np.float32)
    with_nan[[17, 299]] = np.nan
    rows.append(with_nan)
    rows.append(np.full(64, -np.inf, dtype=np.float32))
    return rows


def test_the_c_part_is_current_and_finds_llama_cpps_sampler_calls() -> None:
    """A module built from this source (an older in-place build would be ignored: numpy, slower), and the
    addresses of llama.cpp's sampler calls that the C draw calls."""
    try:
        from engine.runtime import _scan
    except ImportError:
        pytest.skip("engine/runtime/_scan.c was not built (no C compiler or headers)")
    from engine.runtime import candidates

    assert getattr(_scan, "VERSION", None) == scan.VERSION, "a stale build: run `make install-dev`"
    assert scan.NATIVE
    assert candidates._SAMPLER_CALLS is not None and all(candidates._SAMPLER_CALLS)


@native
def test_the_c_pass_finds_what_numpy_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    for row in _rows(rng):
        fast, slow = _both(monkeypatch, len(row))
        finite = row[np.isfinite(row)]
        # Thresholds between values, on a value (>= takes it), above all and below all.
        picks = [np.float32(v) for v in rng.choice(finite, min(5, len(finite)), replace=False)] if len(finite) else []
        for threshold in [*picks, np.float32(-np.inf), np.float32(np.inf), np.float32(0.5), np.float32(1e30)]:
            count, top = fast.at_least(row, threshold)
            assert slow.at_least(row, threshold) == (count, None)
            found = fast.found()
            assert found.tolist() == slow.found().tolist() == np.flatnonzero(row >= threshold).tolist()
            assert found.dtype == np.int32 and count == len(found)
            if len(row) == 0:
                assert top == -np.inf
            elif np.isnan(row).any():
                assert top is not None and np.isnan(top)
            else:
                assert top == float(row.max())


@native
def test_the_c_pass_reads_only_rows_it_can(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row of float64 or a strided view goes to numpy rather than being misread as float32 pairs."""
    row = np.random.default_rng(4).standard_normal(2000)
    fast, slow = _both(monkeypatch, len(row))
    for logits in (row, row.astype(np.float32)[::2]):
        threshold = np.float32(1.0)
        fast.at_least(logits, threshold)
        assert fast.found().tolist() == np.flatnonzero(logits >= threshold).tolist()


@native
def test_the_c_selection_picks_what_numpy_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The need-th largest, the narrowing of a wide preselection and the touched tokens merged in."""
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.choice([50, 1000, 32768]))
        row = rng.standard_normal(n).astype(np.float32) * 2
        if trial % 3 == 0:  # (equal logits: quantized weights make them common)
            row = np.round(row * 4) / 4
        fast, slow = _both(monkeypatch, n)
        threshold = np.float32(np.sort(row)[-int(rng.integers(1, min(n, 2000)))])
        count, _ = fast.at_least(row, threshold)
        assert slow.at_least(row, threshold)[0] == count
        need = int(rng.integers(1, count + 1))
        touched = np.unique(rng.integers(0, n, int(rng.integers(0, 8)))).astype(np.int32)
        too_wide = int(rng.choice([0, 4, 1000]))
        ids, nth = fast.select(row, need, too_wide, touched, threshold)
        want, want_nth = slow.select(row, need, too_wide, touched, threshold)
        assert ids.tolist() == want.tolist() and nth == want_nth, (trial, need, too_wide)
        assert nth == float(np.sort(row[row >= threshold])[-need])


@native
def test_the_c_fill_writes_llama_token_data(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    logits = rng.standard_normal(5000).astype(np.float32)
    ids = np.sort(rng.choice(5000, 300, replace=False)).astype(np.int32)
    made = np.zeros(400, dtype=TOKEN_DATA)
    made["id"], made["logit"], made["p"] = 7, 7.0, 7.0
    scan.fill(made, logits, ids)
    monkeypatch.setattr(scan, "NATIVE", False)
    expected = np.zeros(400, dtype=TOKEN_DATA)
    expected["id"], expected["logit"], expected["p"] = 7, 7.0, 7.0
    scan.fill(expected, logits, ids)
    assert made.tobytes() == expected.tobytes()  # (records past len(ids) untouched too)
    with pytest.raises(ValueError):  # an id outside the row: refused, not read past the row's end
        monkeypatch.setattr(scan, "NATIVE", True)
        scan.fill(made, logits, np.array([1, 5000], dtype=np.int32))


@pytest.mark.parametrize("use_native", [True, False])
def test_a_chain_draws_the_same_tokens_with_either_pass(monkeypatch: pytest.MonkeyPatch, use_native: bool) -> None:
    """Seeded draws on the preselection, by the C pass or numpy's, are the whole vocabulary's."""
    if use_native and not scan.NATIVE:
        pytest.skip("engine/runtime/_scan.c was not built")
    monkeypatch.setattr(scan, "NATIVE", use_native)
    drawn = [0]
    draw = scan.draw

    def counting(*args: int | tuple[int, ...]) -> int | None:
        token = draw(*args)  # type: ignore[arg-type]
        drawn[0] += token is not None and token >= 0
        return token

    monkeypatch.setattr(scan, "draw", counting)
    rng = np.random.default_rng(6)
    params = GenerationParams(temperature=0.8, top_k=40, top_p=0.95, seed=11, presence_penalty=0.5)
    fast, full = _pair(params, [9, 11, 21], 32768, draw=True)
    assert isinstance(fast, Chain) and fast._scan.native == use_native
    try:
        for i in range(150):
            logits = _logits(rng, 32768, "peaked" if i % 3 else "flat")
            assert fast.choose(logits) == full.choose(logits)
        assert fast.preselected > 100
        # (the C draw was taken, not a silent fallback to the ctypes path)
        assert (drawn[0] > 100) if use_native else (drawn[0] == 0)
    finally:
        fast.close()
        full.close()
