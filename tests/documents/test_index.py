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


def test_plain_text_capital_headings_and_hanging_entries_shape_the_chunks() -> None:
    body = "\n\n".join(f"        Paragraph {i} of the long entry. " + "word " * 60 for i in range(6))
    text = (
        "Reference manual\n\nDESCRIPTION\n    What the module is for.\n\nFUNCTIONS\n"
        "    short(x)\n        Returns x.\n    \n    long_entry(a, b)\n" + body + "\n\nDATA\n    limit = 3\n"
    )
    sections = extract("manual.txt", text.encode()).sections
    assert [s.heading for s in sections] == [None, "DESCRIPTION", "FUNCTIONS", "DATA"]
    chunks = chunk_sections(sections)
    functions = [c for c in chunks if (c.heading or "").startswith("FUNCTIONS")]
    # The long entry starts a chunk of its own; the pieces after its first say which entry they are in.
    assert any(c.text.startswith("long_entry(a, b)") and c.heading == "FUNCTIONS" for c in functions)
    continued = [c for c in functions if c.heading == "FUNCTIONS › long_entry(a, b)"]
    assert len(continued) >= 2 and all("long_entry" not in c.text for c in continued)
    assert all(estimate_tokens(c.text) <= MAX_TOKENS for c in chunks)
    # A chunk never spans two sections, and a pydoc-style bar line is a paragraph break.
    assert not any("DATA" in c.text or "limit = 3" in c.text and c.heading != "DATA" for c in chunks)
    barred = chunk_sections([Section("    class A\n     |  one\n     |  \n     |  two " + "word " * 250)])
    assert len(barred) == 2


def test_methods_inside_a_class_are_entries_that_name_their_chunks() -> None:
    # pydoc's layout: a class over its bar-margined methods, one of them long enough to span chunks.
    method_body = "\n     |  \n".join(f"     |      Part {i} of what extract does. " + "word " * 40 for i in range(8))
    text = (
        "CLASSES\n    class Other(builtins.object)\n     |  A small class.\n     |  \n"
        "     |  tiny(self)\n     |      Does little.\n    \n"
        "    class Archive(builtins.object)\n     |  Archive(path)\n     |  \n     |  Methods defined here:\n     |  \n"
        "     |  close(self)\n     |      Close it.\n     |  \n"
        "     |  extract(self, member, path=None)\n" + method_body + "\n"
    )
    sections = extract("mod.txt", text.encode()).sections
    chunks = chunk_sections(sections)
    # The class does not fit behind the small one: it starts a chunk of its own.
    assert any(c.text.startswith("class Archive(") and c.heading == "CLASSES" for c in chunks)
    assert not any("class Other" in c.text and "class Archive" in c.text for c in chunks)
    # Pieces of the long method say class and method (no pydoc bars in the heading).
    method = "CLASSES › class Archive(builtins.object) › extract(self, member, path=None)"
    inside = [c for c in chunks if c.heading == method]
    assert len(inside) >= 2 and all("Part" in c.text for c in inside)


def test_reciprocal_rank_fusion_counts_only_each_lists_candidates() -> None:
    # Chunk 0 is first by keywords but last of 25 by vectors (not a vector candidate), chunk 1 first by
    # vectors with no query word, chunk 2 second in both lists: fusion puts chunk 2 first.
    index = CollectionIndex(2)
    texts = ["reactor reactor reactor", "unrelated words here", "reactor notes"] + [f"filler {i}" for i in range(22)]
    vectors = [_unit(-1, 0.01), _unit(1, 0), _unit(0.95, 0.3)] + [_unit(0.5, 0.5 + i / 10) for i in range(22)]
    index.add("d", "d.txt", [StoredChunk(t, None, None) for t in texts], np.stack(vectors))
    hits = index.search("reactor", _unit(1, 0), 3)
    assert hits[0].item.chunk.text == "reactor notes"
    assert {h.item.chunk.text for h in hits[1:]} == {"reactor reactor reactor", "unrelated words here"}
    assert hits[0].keyword_rank == 2 and hits[0].vector_rank == 2 and hits[1].vector_rank == 25
