"""Documents: ingest speed against a hand-built LangChain pipeline, search latency at 10k and 100k chunks,
unlock-to-searchable time and index memory, side by side in one run.

- Ingest: a corpus of at least 1,000 pages (70% PDF pages written with reportlab, 10% each as DOCX, HTML
  and plain-text files of the same page size; the text is pydoc's rendering of standard-library modules)
  through `engine.documents.add` on an `Engine` handle (extract, chunk, embed, encrypt into the vault),
  and the same files through the pipeline people build by hand: LangChain's loaders (PyPDFLoader,
  Docx2txtLoader, BSHTMLLoader, TextLoader), RecursiveCharacterTextSplitter, LlamaCppEmbeddings on the
  SAME e5-small GGUF, and a Chroma store on disk (`pip install -e '.[bench]'`; skipped, saying so,
  when those packages are missing). A "page" of a DOCX, HTML or text file is 45 lines, as on the PDFs.
- Query: p50/p95 of a hybrid search (BM25 + vectors + fusion) over synthetic chunks at each size, the
  index alone and end to end with the query embedded on the real model.
- Unlock-to-searchable: a vault holding N chunks, from `Engine.open` (unlock) to the first search answered.
- Memory: the index's own byte count (vectors and BM25 matrices) and the process RSS the index added.

Results go to bench/results/documents.json (a --smoke run writes nowhere unless --json is given).

    python bench/bench_documents.py                       # the full run: 1,000 pages, 10k and 100k chunks
    python bench/bench_documents.py --pages 50 --chunks 10000   # a quick look on a shared machine
    python bench/bench_documents.py --smoke               # checks the script (12 pages, 2,000 chunks)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pydoc
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.common import machine  # noqa: E402
from engine.documents import default_embedder  # noqa: E402
from engine.documents.embedder import LlamaEmbedder, ensure_default_embedder, thread_choices  # noqa: E402
from engine.documents.index import CollectionIndex  # noqa: E402
from engine.handle import COMMAND_LINE, Engine  # noqa: E402
from engine.models import ModelRegistry  # noqa: E402
from engine.vault import FLOOR, Vault  # noqa: E402
from engine.vault.documents import NewDocument, StoredChunk  # noqa: E402

PASSPHRASE = "bench passphrase"
MODULES = [
    "json",
    "csv",
    "shutil",
    "textwrap",
    "heapq",
    "statistics",
    "tempfile",
    "calendar",
    "difflib",
    "zipfile",
    "argparse",
    "logging",
]
DIM = 384


def _rss_mib() -> float:
    """The process's resident memory now (not its peak: building an index briefly needs more than it keeps)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# -- corpus -----------------------------------------------------------------------------------------

LINES_PER_PAGE = 45
PAGES_PER_FILE = 20


def _source_lines() -> list[str]:
    lines: list[str] = []
    for name in MODULES:
        for line in pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext).splitlines():
            lines.append(line[:95])
    return lines


def write_corpus(folder: Path, pages: int) -> list[Path]:
    """`pages` pages of real prose (pydoc output): 70% as PDF pages, 10% each as DOCX, HTML and text files
    (45 lines to a page, 20 pages to a file)."""
    import docx
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    lines = _source_lines()
    cursor = 0

    def page_lines() -> list[str]:
        nonlocal cursor
        out = [lines[(cursor + i) % len(lines)] for i in range(LINES_PER_PAGE)]
        cursor += LINES_PER_PAGE
        return out

    shares = {"docx": pages // 10, "html": pages // 10, "txt": pages // 10}
    shares["pdf"] = pages - sum(shares.values())
    files: list[Path] = []
    for kind in ("pdf", "docx", "html", "txt"):
        for first in range(0, shares[kind], PAGES_PER_FILE):
            count = min(PAGES_PER_FILE, shares[kind] - first)
            path = folder / f"{kind}-{first // PAGES_PER_FILE:04d}.{kind}"
            body = [page_lines() for _ in range(count)]
            if kind == "pdf":
                pdf = canvas.Canvas(str(path), pagesize=A4)
                for page in body:
                    text = pdf.beginText(40, 800)
                    text.setFont("Helvetica", 9)
                    for line in page:
                        text.textLine(line)
                    pdf.drawText(text)
                    pdf.showPage()
                pdf.save()
            elif kind == "docx":
                document = docx.Document()
                for page in body:
                    document.add_heading(page[0].strip() or "Section", level=2)
                    for paragraph in "\n".join(page[1:]).split("\n\n"):
                        document.add_paragraph(paragraph)
                document.save(str(path))
            elif kind == "html":
                parts = ["<html><head><title>Reference</title></head><body>"]
                for page in body:
                    parts.append(f"<h2>{pydoc.html.escape(page[0])}</h2>")
                    parts += [f"<p>{pydoc.html.escape(p)}</p>" for p in "\n".join(page[1:]).split("\n\n")]
                path.write_text("".join(parts) + "</body></html>", encoding="utf-8")
            else:
                path.write_text("\n\n".join("\n".join(page) for page in body), encoding="utf-8")
            files.append(path)
    return files


# -- ingest -----------------------------------------------------------------------------------------


def ingest_enclave(home: Path, files: list[Path], pages: int) -> dict[str, Any]:
    """Pages per minute through `engine.documents` (everything encrypted in the vault)."""
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    vault.close()
    with Engine.open(home, actor=COMMAND_LINE, passphrase=PASSPHRASE, demo_model=False) as engine:
        engine.documents.embedder(None)  # loading the model is not ingest (nor is building its GGUF)
        start = time.perf_counter()
        report = engine.documents.add(files, "bench")
        seconds = time.perf_counter() - start
    failed = [f"{f.path}: {f.message}" for f in report.files if f.status == "failed"]
    if failed:
        raise SystemExit("Enclave could not read: " + "; ".join(failed))
    return {
        "seconds": seconds,
        "pages_per_min": pages / seconds * 60,
        "files": len(report.files),
        "chunks": sum(f.chunks for f in report.files),
        "embedding_threads": f"chosen by measured speed among {thread_choices()}",
    }


def ingest_reference(files: list[Path], pages: int, model_path: Path, store: Path) -> dict[str, Any]:
    """The same files through the pipeline people build by hand: LangChain loaders, splitter, the same
    GGUF through LlamaCppEmbeddings, a Chroma store on disk. Raises ImportError when not installed."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import BSHTMLLoader, Docx2txtLoader, PyPDFLoader, TextLoader
    from langchain_community.embeddings import LlamaCppEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    loaders = {".pdf": PyPDFLoader, ".docx": Docx2txtLoader, ".html": BSHTMLLoader, ".txt": TextLoader}
    # ~800 characters is about the 200 tokens Enclave's chunker aims for; 10% overlap, as tutorials do.
    splitter = RecursiveCharacterTextSplitter(chunk_size=800, chunk_overlap=80)
    embeddings = LlamaCppEmbeddings(model_path=str(model_path), n_ctx=512, n_batch=512, verbose=False)
    start = time.perf_counter()
    chunks = 0
    db = Chroma(collection_name="bench", embedding_function=embeddings, persist_directory=str(store))
    for path in files:
        parts = splitter.split_documents(loaders[path.suffix](str(path)).load())
        if parts:
            db.add_documents(parts)
        chunks += len(parts)
    seconds = time.perf_counter() - start
    embeddings.client.close()
    return {
        "seconds": seconds,
        "pages_per_min": pages / seconds * 60,
        "chunks": chunks,
        "pipeline": "LangChain PyPDFLoader/Docx2txtLoader/BSHTMLLoader/TextLoader, "
        "RecursiveCharacterTextSplitter(800, 80), LlamaCppEmbeddings (same GGUF, its default threads), "
        "Chroma persisted to disk",
    }


# -- query, unlock, memory ---------------------------------------------------------------------------


def synthetic_chunks(n: int, seed: int = 7) -> tuple[list[StoredChunk], np.ndarray]:
    """n chunks of ~120 words from a Zipf-like vocabulary, and random unit vectors."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(30000)]
    weights = [1 / (i + 1) for i in range(len(vocabulary))]
    words = rng.choices(vocabulary, weights, k=n * 120)
    chunks = [StoredChunk(" ".join(words[i * 120 : (i + 1) * 120]), 1 + i % 30, None) for i in range(n)]
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return chunks, vectors


def query_latency(n: int, embedder: LlamaEmbedder, queries: int) -> dict[str, Any]:
    """p50/p95 of hybrid searches over n synthetic chunks: the index alone, and end to end (query embedded)."""
    chunks, vectors = synthetic_chunks(n)
    rss = _rss_mib()
    index = CollectionIndex(DIM)
    start = time.perf_counter()
    for first in range(0, n, 1000):
        index.add(f"doc{first}", f"doc{first}.pdf", chunks[first : first + 1000], vectors[first : first + 1000])
    index.prepare()
    build = time.perf_counter() - start
    rng = random.Random(1)
    texts = [" ".join(rng.choice(c.text.split()) for _ in range(6)) for c in rng.sample(chunks, queries)]
    probes = np.random.default_rng(2).standard_normal((queries, DIM)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    index.search(texts[0], probes[0], 5)  # warm
    alone, full = [], []
    for text, probe in zip(texts, probes, strict=True):
        t = time.perf_counter()
        index.search(text, probe, 5)
        alone.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.search(text, embedder.embed([text], "query")[0], 5)
        full.append((time.perf_counter() - t) * 1000)
    return {
        "chunks": n,
        "queries": queries,
        "build_s": build,
        "p50_ms": _percentile(full, 50),
        "p95_ms": _percentile(full, 95),
        "index_only_p50_ms": _percentile(alone, 50),
        "index_only_p95_ms": _percentile(alone, 95),
        "index_mib": index.memory_bytes() / 2**20,
        "rss_added_mib": _rss_mib() - rss,
        "vector_only": vector_methods(vectors, probes[: min(50, queries)]),
    }


def vector_methods(vectors: np.ndarray, probes: np.ndarray) -> dict[str, Any]:
    """Exact numpy top-50 against usearch HNSW when installed (build time, query p95, recall of the exact top 50)."""
    times = []
    exact = []
    for probe in probes:
        t = time.perf_counter()
        scores = vectors @ probe
        top = np.argpartition(-scores, 49)[:50]
        times.append((time.perf_counter() - t) * 1000)
        exact.append(set(top.tolist()))
    out: dict[str, Any] = {"numpy_p95_ms": _percentile(times, 95), "numpy_build_s": 0.0}
    try:
        from usearch.index import Index
    except ImportError:
        out["usearch"] = "not installed"
        return out
    start = time.perf_counter()
    hnsw = Index(ndim=vectors.shape[1], metric="ip", dtype="f32")
    hnsw.add(np.arange(len(vectors)), vectors)
    out["usearch_build_s"] = time.perf_counter() - start
    times, recall = [], []
    for probe, truth in zip(probes, exact, strict=True):
        t = time.perf_counter()
        found = hnsw.search(probe, 50)
        times.append((time.perf_counter() - t) * 1000)
        recall.append(len(truth & set(found.keys.tolist())) / 50)
    out["usearch_p95_ms"] = _percentile(times, 95)
    out["usearch_recall_at_50"] = statistics.mean(recall)
    return out


def unlock_to_searchable(home: Path, n: int, per_doc: int = 100) -> dict[str, Any]:
    """Seconds from `Engine.open` (unlock) to the first answered search, with n chunks in the vault."""
    chunks, vectors = synthetic_chunks(n, seed=11)
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    coll = vault.documents.create_collection("scale", embedder=default_embedder.MODEL_NAME)
    start = time.perf_counter()
    for first in range(0, n, per_doc):
        part = chunks[first : first + per_doc]
        vault.documents.add(
            NewDocument(
                coll.id,
                f"doc{first}.pdf",
                f"/doc{first}.pdf",
                f"{first:064x}",
                "pdf",
                1000,
                30,
                False,
                [],
                part,
                vectors[first : first + per_doc],
                None,
            )
        )
    store_s = time.perf_counter() - start
    vault.close()
    ensure_default_embedder(ModelRegistry(home / "models"))  # built once, as on first use; not timed
    rss = _rss_mib()
    start = time.perf_counter()
    with Engine.open(home, actor=COMMAND_LINE, passphrase=PASSPHRASE, demo_model=False) as engine:
        unlocked = time.perf_counter() - start
        engine.documents.start_loading()  # what the GUI and `enclave serve` do after unlock
        engine.documents.wait_ready()
        loaded = time.perf_counter() - start
        hits = engine.documents.search(chunks[0].text.split()[3], ["scale"], top=5)
        total = time.perf_counter() - start
        memory = engine.documents.index_memory()
        rss_added = _rss_mib() - rss
    if not hits:
        raise SystemExit("the unlock run's search found nothing")
    return {
        "chunks": n,
        "documents": -(-n // per_doc),
        "store_s": store_s,
        "unlock_s": unlocked,
        "index_loaded_s": loaded,
        "unlock_to_searchable_s": total,
        "index_mib": memory / 2**20,
        "rss_added_by_engine_open_mib": rss_added,  # the index, the embedding model and the engine together
    }


def main() -> int:
    """Run the benchmark, print its figures and write them to bench/results/documents.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the script, not the machine")
    parser.add_argument("--pages", type=int, default=1000, help="corpus size for ingest (default 1000)")
    parser.add_argument("--chunks", default="10000,100000", help="index sizes for queries; the last one for unlock")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", metavar="PATH", help="write the results here (default: bench/results/documents.json)")
    args = parser.parse_args()
    pages = 12 if args.smoke else args.pages
    sizes = [2000] if args.smoke else [int(s) for s in args.chunks.split(",")]
    queries = 20 if args.smoke else args.queries
    results: dict[str, Any] = {
        "machine": machine(),
        "load_average_at_start": os.getloadavg(),
        "command": " ".join(sys.argv),
        "pages": pages,
        "chunk_sizes": sizes,
    }
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="enclave-bench-docs-") as tmp:
        root = Path(tmp)
        os.environ["ENCLAVE_HOME"] = str(root / "home")
        (root / "corpus").mkdir()
        files = write_corpus(root / "corpus", pages)
        model = ensure_default_embedder(ModelRegistry(root / "home" / "models"))
        results["ingest_enclave"] = ingest_enclave(root / "home", files, pages)
        ours = results["ingest_enclave"]
        print(f"ingest, Enclave:   {ours['pages_per_min']:8.1f} pages/min ({ours['chunks']} chunks)", flush=True)
        try:
            results["ingest_reference"] = ingest_reference(files, pages, model.path, root / "chroma")
        except ImportError as exc:
            results["ingest_reference"] = {"skipped": f"{exc.name} is not installed: pip install -e '.[bench]'"}
            print(f"ingest, reference: skipped ({results['ingest_reference']['skipped']})", flush=True)
        else:
            ref = results["ingest_reference"]
            print(f"ingest, reference: {ref['pages_per_min']:8.1f} pages/min ({ref['chunks']} chunks)", flush=True)
            results["ingest_ratio"] = ours["pages_per_min"] / ref["pages_per_min"]
        embedder = LlamaEmbedder(model)
        results["query"] = []
        for n in sizes:
            row = query_latency(n, embedder, queries)
            results["query"].append(row)
            print(
                f"query at {n:>7} chunks: p50 {row['p50_ms']:6.1f} ms, p95 {row['p95_ms']:6.1f} ms "
                f"(index alone p95 {row['index_only_p95_ms']:6.1f} ms); index built in {row['build_s']:.1f} s, "
                f"{row['index_mib']:.0f} MiB (RSS +{row['rss_added_mib']:.0f} MiB)",
                flush=True,
            )
        embedder.close()
        os.environ["ENCLAVE_HOME"] = str(root / "scale")
        results["unlock"] = unlock_to_searchable(root / "scale", sizes[-1])
        u = results["unlock"]
        print(
            f"unlock to searchable at {u['chunks']} chunks: {u['unlock_to_searchable_s']:.1f} s "
            f"(unlock {u['unlock_s']:.1f} s, index loaded at {u['index_loaded_s']:.1f} s; "
            f"index {u['index_mib']:.0f} MiB; the open engine added {u['rss_added_by_engine_open_mib']:.0f} MiB RSS)"
        )
    results["bench_seconds"] = time.perf_counter() - began
    out = Path(args.json) if args.json else (None if args.smoke else ROOT / "bench" / "results" / "documents.json")
    if out is not None:
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
