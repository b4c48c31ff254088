"""The in-memory index and the chunker, without a model: tokens (English stems, Chinese words), fusion,
removal, and chunks that never cross a page or lose their heading."""

from __future__ import annotations

import numpy as np

from engine.documents.chunking import MAX_TOKENS, chunk_sections, estimate_tokens
from engine.documents.extract import Section, extract
from engine.documents.index import CollectionIndex, tokenize
from engine.vault.documents import StoredChunk


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_tokens_are_stemmed_and_chinese_is_cut_into_words() -> None:
    assert tokenize("Copying the directories") == ["copi", "directori"]
    words = tokenize("员工每年享有十五天带薪年假")
    assert "员工" in words and "十五天" in words and "每年" in words
    assert tokenize("get_close_matches") == ["get", "close", "match"]


def test_fusion_ranks_a_chunk_both_lists_like_first_and_removal_forgets_it() -> None:
    index = CollectionIndex(3)
    chunks = [StoredChunk("alpha reactor maintenance", 1, None), StoredChunk("beta garden party", 2, None)]
    index.add("d1", "one.pdf", chunks, np.stack([_unit(1, 0, 0), _unit(0, 1, 0)]))
    index.add("d2", "two.pdf", [StoredChunk("gamma reactor fuel", None, "Fuel")], _unit(0.9, 0.1, 0)[None, :])
    hits = index.search("reactor maintenance", _unit(1, 0, 0), 3)
    assert [h.item.document for h in hits][:2] == ["one.pdf", "two.pdf"]
    assert hits[0].keyword_rank == 1 and hits[0].vector_rank == 1 and hits[0].item.chunk.page == 1
    assert [h.item.document for h in index.search("reactor", None, 3, mode="keyword")] == ["one.pdf", "two.pdf"]
    index.remove("d1")
    assert len(index) == 1
    assert [h.item.document for h in index.search("reactor maintenance", _unit(1, 0, 0), 3)] == ["two.pdf"]


def test_chunks_respect_pages_and_headings_and_stay_small() -> None:
    long_page = "\n\n".join(f"Paragraph {i} " + "word " * 60 for i in range(12))
    chunks = chunk_sections([Section(long_page, 1, "Intro"), Section("Short second page.", 2, "Intro")])
    assert {c.page for c in chunks} == {1, 2}
    assert chunks[-1].text == "Short second page." and chunks[-1].page == 2
    assert all(c.heading == "Intro" for c in chunks)
    assert all(estimate_tokens(c.text) <= MAX_TOKENS for c in chunks)
    assert len([c for c in chunks if c.page == 1]) >= 3


def test_markdown_headings_become_section_headings() -> None:
    found = extract("notes.md", b"# Holidays\n\nTwenty-five days.\n\n# Pay\n\nMonthly.\n")
    assert [(s.heading, s.text.strip()) for s in found.sections] == [
        ("Holidays", "Twenty-five days."),
        ("Pay", "Monthly."),
    ]
