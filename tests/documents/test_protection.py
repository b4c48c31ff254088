"""Data protection of documents: removal and subject erasure leave no chunk, vector or key behind, the
canary text of a document reaches no file outside the vault's ciphertext (through the real CLI: add,
search, chat, remove), audit events carry no query text, and documents are a declared data category."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from engine.policy import categories, report, retention, subjects
from engine.vault import Vault
from tests.documents.conftest import PASSPHRASE, Library
from tests.documents.files import write_docx, write_pdf


def _forms(canary: str) -> list[bytes]:
    return [canary.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")]


def _leaks(folders: list[Path], canaries: list[str]) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            for canary in canaries:
                found += [f"{path}: {form!r}" for form in _forms(canary) if form in data]
    return found


def _parts(vault: Vault, doc_id: str) -> list[bytes]:
    return [
        bytes(r[0])
        for r in vault.run_raw(
            lambda db: db.execute("SELECT body FROM document_parts WHERE document_id = ?", [doc_id]).fetchall()
        )
    ]


def _vault_files(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.glob("vault*")) if p.is_file())


def test_remove_and_subject_erase_leave_no_chunk_vector_or_key(shared_library: Library, tmp_path: Path) -> None:
    vault, library = shared_library.vault, shared_library.library
    tag = secrets.token_hex(4)
    one = tmp_path / "case-file.txt"
    one.write_text(f"Client zebra{tag} disputes the invoice of the harbour contract.")
    two = tmp_path / "other.txt"
    two.write_text(f"Employee okapi{tag} requested parental leave from September.")
    report_one = library.add([one], "cases", subject="client-17")
    report_two = library.add([two], "cases")
    doc_one, doc_two = report_one.files[0].document_id, report_two.files[0].document_id
    assert doc_one and doc_two
    library.start_loading()
    assert library.wait_ready(60)
    assert library.search(f"zebra{tag}", ["cases"], top=1)[0].document_id == doc_one
    sealed = _parts(vault, doc_one) + _parts(vault, doc_two)
    keys = [vault.documents.document(d).key_id for d in (doc_one, doc_two)]
    assert len(sealed) == 8  # text, chunks, vectors, original each

    # The subject's documents go with the subject.
    erased = subjects.erase(vault, subjects.Selection(subject="client-17"), actor="cli")
    assert erased.others["documents"] == 1
    assert _parts(vault, doc_one) == []
    assert all(h.document_id != doc_one for h in library.search(f"zebra{tag} invoice", ["cases"], top=5))
    # And a plain removal.
    library.remove(doc_two, actor="cli")
    assert _parts(vault, doc_two) == []
    assert library.search(f"okapi{tag} parental leave", ["cases"], top=5) == []
    rows = vault.run_raw(
        lambda db: db.execute(
            f"SELECT COUNT(*) FROM data_keys WHERE id IN ({','.join('?' * len(keys))})", keys
        ).fetchone()
    )
    assert rows[0] == 0
    on_disk = _vault_files(shared_library.home)
    assert all(blob not in on_disk for blob in sealed)  # secure_delete + WAL checkpoint: the bytes are gone
    events = [e for e in vault.audit.entries() if e.event.startswith("documents_")]
    assert {"documents_add", "documents_search", "documents_remove"} <= {e.event for e in events}
    assert all(f"zebra{tag}" not in json.dumps(e.details) for e in events)  # no query text in the audit chain


def test_documents_are_a_declared_category_everywhere(shared_library: Library) -> None:
    vault = shared_library.vault
    assert "documents" in categories.RETAINED and "documents" in retention.CATEGORIES
    record = report.processing_record(vault)
    names = [c["category"] for c in record["data_categories"]]
    assert names == [c.name for c in categories.CATEGORIES]
    assert any(c["collection"] == "office" or c["collection"] == "cases" for c in record["document_collections"])
    assert retention.get_policy(vault).documents is None


def _run(args: list[str], env: dict[str, str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_canary_in_a_document_reaches_no_file_through_the_cli(
    enclave_home: Path, tmp_path: Path, tiny_gguf: Path
) -> None:
    tag = secrets.token_hex(5)
    latin, cjk = f"CANARY{tag}", f"金丝雀{tag}"
    docs = tmp_path / "incoming"
    docs.mkdir()
    write_pdf(docs / "contract.pdf", ["Preamble and definitions.", f"The secret clause {latin} applies. {cjk}"])
    write_docx(docs / "memo.docx", "Memo", [f"Codeword {latin} for the merger. {cjk}"])
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        **os.environ,
        "ENCLAVE_HOME": str(enclave_home),
        "ENCLAVE_PASSPHRASE": PASSPHRASE,
        "TMPDIR": str(temp),
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]),
    }
    _run(["init"], env)
    _run(["models", "import", str(tiny_gguf), "--name", "tiny"], env)
    added = _run(["docs", "add", str(docs), "--collection", "Legal", "--purpose", "contract review"], env)
    assert "2 added" in added.stdout
    found = json.loads(_run(["docs", "search", latin, "--collection", "Legal", "--json"], env).stdout)
    assert found and found[0]["document"] in ("contract.pdf", "memo.docx") and latin in found[0]["text"]
    assert {"document", "page", "text", "score"} <= set(found[0])
    pdf_hit = next(h for h in found if h["document"] == "contract.pdf")
    assert pdf_hit["page"] == 2
    chat = _run(["chat", "--docs", "Legal", "--model", "tiny", "--max-tokens", "8", f"What is {latin}?"], env)
    assert "Sources:" in chat.stdout and "contract.pdf, page 2" in chat.stdout
    processing = json.loads(_run(["report", "processing", "--json"], env).stdout)
    assert processing["document_collections"][0]["purpose"] == "contract review"
    listed = json.loads(_run(["docs", "list", "--json"], env).stdout)
    assert {d["document"] for d in listed} == {"contract.pdf", "memo.docx"}
    assert all({"id", "document", "collection", "pages"} <= set(d) for d in listed)
    leaks_while_present = _leaks([enclave_home, temp], [latin, cjk])
    _run(["docs", "remove", listed[0]["id"]], env)
    _run(["docs", "remove", "--collection", "Legal"], env)
    assert json.loads(_run(["docs", "list", "--json"], env).stdout) == []
    assert leaks_while_present == []
    assert _leaks([enclave_home, temp], [latin, cjk]) == []


def test_cli_errors_are_one_line_with_the_right_exit_code(enclave_home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "ENCLAVE_HOME": str(enclave_home), "ENCLAVE_PASSPHRASE": PASSPHRASE}
    _run(["init"], env)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 nothing")
    result = _run(["docs", "add", str(bad), "--collection", "X"], env, check=False)
    assert result.returncode == 1 and "failed" in result.stdout and "Traceback" not in result.stderr
    result = _run(["docs", "search", "q", "--collection", "nope"], env, check=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "no collection named 'nope'" in result.stderr
    result = _run(["docs", "remove"], env, check=False)
    assert result.returncode == 1 and "DOC_ID" in result.stderr
    result = _run(["docs", "list"], {**env, "ENCLAVE_PASSPHRASE": "wrong"}, check=False)
    assert result.returncode == 1
