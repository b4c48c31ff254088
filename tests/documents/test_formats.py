"""Every format added from real files and found again by a paraphrased search, on the right page;
broken and encrypted files reported in one line while the batch goes on; unchanged files skipped and
changed ones replaced."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from engine.documents.library import DocumentLibrary, IndexNotReady
from tests.documents.conftest import Library
from tests.documents.files import FACTS, write_corpus, write_pdf


@pytest.fixture(scope="module")
def corpus(shared_library: Library, tmp_path_factory: pytest.TempPathFactory) -> tuple[Library, Path, dict]:
    folder = write_corpus(tmp_path_factory.mktemp("corpus"))
    broken = folder / "broken"
    broken.mkdir()
    (broken / "truncated.docx").write_bytes((folder / "policy.docx").read_bytes()[:300])
    (broken / "garbage.pdf").write_bytes(b"%PDF-1.7\n this is not really a pdf")
    write_pdf(broken / "locked.pdf", ["secret salary table"], password="hunter2")
    report = shared_library.library.add([folder], "office", actor="cli")
    return shared_library, folder, {Path(f.path).name: f for f in report.files}


def test_every_format_is_added(corpus: tuple[Library, Path, dict]) -> None:
    _, _, results = corpus
    for name in FACTS:
        assert results[name].status == "added", (name, results[name].message)
        assert results[name].chunks >= 1
    assert results["handbook.pdf"].pages == 3
    assert results["roadmap.pptx"].pages == 2
    assert "OCR" in results["scan.png"].message and "OCR" in results["scanned.pdf"].message


def test_broken_and_encrypted_files_get_one_clear_line(corpus: tuple[Library, Path, dict]) -> None:
    _, _, results = corpus
    assert results["truncated.docx"].status == "failed"
    assert "corrupt" in results["truncated.docx"].message.lower()
    assert results["garbage.pdf"].status == "failed" and "pdf" in results["garbage.pdf"].message.lower()
    assert results["locked.pdf"].status == "failed"
    assert "encrypted" in results["locked.pdf"].message and "password" in results["locked.pdf"].message
    assert all("\n" not in r.message for r in results.values())


@pytest.mark.parametrize("name", sorted(FACTS))
def test_each_format_is_found_with_its_page(corpus: tuple[Library, Path, dict], name: str) -> None:
    shared, _, _ = corpus
    library = shared.library
    library.start_loading()
    assert library.wait_ready(60)
    fact, question, page = FACTS[name]
    hits = library.search(question, ["office"], top=3)
    assert name in [h.document for h in hits], (question, [(h.document, h.text[:40]) for h in hits])
    hit = next(h for h in hits if h.document == name)
    assert hit.page == page
    words = [w for w in fact.replace("|", " ").split() if len(w) > 3][:3] or [fact[:4]]
    assert all(w.lower() in hit.text.lower() for w in words), hit.text


def test_unchanged_file_is_a_no_op_and_a_changed_one_replaces_it(corpus: tuple[Library, Path, dict]) -> None:
    shared, folder, results = corpus
    library = shared.library
    again = library.add([folder / "notes.md"], "office")
    assert [f.status for f in again.files] == ["unchanged"]
    assert again.files[0].document_id == results["notes.md"].document_id
    (folder / "notes.md").write_text("# Backups\n\nBackups now go to the offsite vault every Tuesday.\n")
    changed = library.add([folder / "notes.md"], "office")
    assert [f.status for f in changed.files] == ["replaced"]
    names = [d.name for d, _ in library.documents("office")]
    assert names.count("notes.md") == 1
    hits = library.search("when are backups taken offsite", ["office"], top=2)
    assert "Tuesday" in hits[0].text and not any("Friday" in h.text for h in hits)


def test_a_batch_with_nothing_readable_is_not_ok(shared_library: Library, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("nothing.txt", "not a workbook")
    report = shared_library.library.add([bad, tmp_path / "missing.pdf"], "junk")
    assert not report.ok
    assert [f.status for f in report.files] == ["failed", "failed"]
    assert "no such file" in report.files[0].message


def test_search_before_the_index_is_loaded_says_so(shared_library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_HOME", str(shared_library.home))  # where the model file is
    fresh = DocumentLibrary(shared_library.vault, shared_library.library._registry)
    try:
        with pytest.raises(IndexNotReady, match="still loading"):
            fresh.search("anything", ["office"])
        fresh.start_loading()
        assert fresh.wait_ready(60)
        assert fresh.search("gizmo warranty", ["office"], top=1)[0].document == "handbook.pdf"
    finally:
        fresh.close()
