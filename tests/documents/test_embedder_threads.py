"""The embedder picks its thread count by measured speed: the chooser's rules, and the real model giving the
same vectors whichever count embeds a text (switching counts between texts mid-call)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from engine.documents.embedder import ROUND, LlamaEmbedder, ThreadChooser, ensure_default_embedder
from engine.models import ModelRegistry
from tests.conftest import module_enclave_home


def test_the_chooser_tries_each_count_keeps_the_fastest_and_rechecks_a_slower_one_rarely() -> None:
    chooser = ThreadChooser([1, 2])
    assert chooser.pick() == 1
    chooser.report(1, 1000, 1.0)
    assert chooser.pick() == 2  # untried
    chooser.report(2, 1000, 5.0)  # five times slower: a busy machine
    picks = []
    for _ in range(60):
        choice = chooser.pick()
        picks.append(choice)
        chooser.report(choice, 1000, 1.0 if choice == 1 else 5.0)
    assert picks.count(2) == 1 and picks.index(2) >= 49  # re-checked once, after 10 x 5 rounds
    chooser.report(2, 1000, 0.5)
    chooser.report(2, 1000, 0.5)  # the machine went quiet: two threads now twice as fast
    assert chooser.best() == 2 and chooser.pick() == 2


@pytest.fixture(scope="module")
def embedders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LlamaEmbedder, LlamaEmbedder]]:
    """The default model loaded twice (inside the module's home): fixed at one thread, and adaptive."""
    with module_enclave_home(tmp_path_factory, "embedder-threads") as home:
        record = ensure_default_embedder(ModelRegistry(home / "models"))
        fixed = LlamaEmbedder(record, threads=1)
        adaptive = LlamaEmbedder(record)
        adaptive._chooser = ThreadChooser([1, 2])  # both counts, whatever this machine's cores
        try:
            yield fixed, adaptive
        finally:
            fixed.close()
            adaptive.close()


def test_switching_thread_counts_between_texts_gives_the_same_vectors(
    embedders: tuple[LlamaEmbedder, LlamaEmbedder],
) -> None:
    fixed, adaptive = embedders
    texts = [f"Paragraph {i}: the retention period of case files is {i} years." for i in range(3 * ROUND)]
    expected = fixed.embed(texts, "passage")
    got = adaptive.embed(texts, "passage")
    assert set(adaptive._chooser._speed) == {1, 2}  # each count embedded a measured round
    assert np.allclose(got, expected, atol=1e-4)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
