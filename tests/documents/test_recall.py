"""Retrieval quality on a real reference text this repository did not write: the documentation of
Python standard-library modules as `pydoc` renders it, one file per module (tests/documents/recall_questions.py
holds the modules and the questions). Each question paraphrases what an entry (a function, class or
method) does without naming it; a hit counts when a top-5 chunk comes from the right module and holds
that entry: its definition line is in the chunk, or the chunk's heading says the chunk lies inside it.

Retrieval settings were chosen on the DEV half only; the HELD_OUT half is what is asserted on. Both halves
and all three modes (hybrid, plain BM25, vectors alone) are printed.

The issue asks for hybrid recall@5 >= 0.93. On this set (questions that avoid the docstrings' words, and a
hit must hold the entry itself) the default model (multilingual-e5-small, 4-bit) measures 0.70 held out
(plain BM25 0.48, vectors alone 0.55; dev 0.83 / 0.54 / 0.63): the test holds that floor and the margin
over BM25, and the README says the target is not reached.
"""

from __future__ import annotations

import importlib
import pydoc
import re

import pytest

from engine.documents.library import SearchResult
from tests.documents.conftest import Library
from tests.documents.recall_questions import DEV, HELD_OUT, MODULES, Question


@pytest.fixture(scope="module")
def reference(shared_library: Library, tmp_path_factory: pytest.TempPathFactory) -> Library:
    folder = tmp_path_factory.mktemp("pydoc")
    for name in MODULES:
        # Object addresses (" at 0x7f…") change from run to run; without them the corpus is the same each time.
        text = re.sub(r" at 0x[0-9a-f]+", "", pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext))
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    report = shared_library.library.add([folder], "stdlib")
    assert report.count("added") == len(MODULES)
    shared_library.library.start_loading()
    assert shared_library.library.wait_ready(120)
    return shared_library


def holds(hit: SearchResult, module: str, entry: str) -> bool:
    """True when the hit is from `module` and holds `entry`'s definition (or lies inside it)."""
    definition = re.compile(rf"(?m)^[ |]*(class )?{re.escape(entry)}(\(| = )")
    inside = re.compile(rf"› (class )?{re.escape(entry)}(\(| = )")
    return hit.document == f"{module}.txt" and bool(definition.search(hit.text) or inside.search(hit.heading or ""))


def recall(library: Library, questions: list[Question], mode: str) -> tuple[float, list[str]]:
    """Recall@5 of `mode` over `questions`, and the questions it missed."""
    missed = []
    for question, module, entry in questions:
        hits = library.library.search(question, ["stdlib"], top=5, mode=mode)
        if not any(holds(h, module, entry) for h in hits):
            missed.append(question)
    return 1 - len(missed) / len(questions), missed


@pytest.mark.slow
# Embedding the 551 chunks takes about a minute of one core; on a machine shared by many builds it has
# taken over five, which the suite's 300 s default would cut short.
@pytest.mark.timeout(1200)
def test_hybrid_recall_at_5_beats_plain_bm25(reference: Library, record_property: pytest.RecordProperty) -> None:
    chunks = sum(d.chunks for d, _ in reference.library.documents("stdlib"))
    figures: dict[str, dict[str, float]] = {}
    missed: list[str] = []
    lines = [f"recall@5, {chunks} chunks of pydoc output for {len(MODULES)} modules:"]
    for half, questions in (("dev", DEV), ("held-out", HELD_OUT)):
        figures[half] = {}
        for mode in ("hybrid", "keyword", "vector"):
            figures[half][mode], lost = recall(reference, questions, mode)
            if half == "held-out" and mode == "hybrid":
                missed = lost
        lines.append(
            f"  {half:8} ({len(questions)} questions): hybrid {figures[half]['hybrid']:.3f}, "
            f"plain BM25 {figures[half]['keyword']:.3f}, vectors alone {figures[half]['vector']:.3f}"
        )
    report = "\n".join(lines)
    print("\n" + report)
    record_property("recall_at_5", figures)
    held_out = figures["held-out"]
    assert held_out["hybrid"] >= 0.675, (report, missed)  # the 0.93 is not reached (see the docstring)
    assert held_out["hybrid"] >= held_out["keyword"] + 0.15, report
