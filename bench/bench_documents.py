"""Documents: ingest speed against a hand-built reference pipeline, search latency at 10k and 100k chunks,
unlock-to-searchable time and index memory, side by side in one run.

- Ingest: a corpus of PDF pages (real PDFs written with reportlab, text from pydoc's rendering of
  standard-library modules) through `DocumentLibrary.add` (extract, chunk, embed, encrypt, store), and the
  same files through the pipeline people build by hand: pypdf page loader, LangChain's recursive
  character splitter, the same embedding GGUF through llama-cpp-python, and a Chroma collection (when
  `langchain-text-splitters` and `chromadb` are installed; otherwise a numpy store, said in the output).
- Query: p50/p95 of a hybrid search (BM25 + vectors + fusion) over synthetic chunks, without and with
  embedding the query on the real model; also numpy brute force against usearch's HNSW when installed.
- Unlock-to-searchable: a vault holding N chunks, from `Vault.unlock` to the first search answered.
- Memory: the index's vectors and BM25 matrices at N chunks, and the process RSS it added.

`python bench/bench_documents.py [--smoke] [--pages N] [--chunks 10000,100000] [--json]`. `--smoke` runs
tiny sizes to check the script itself; do not run the full bench while others share the CPU.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import machine  # noqa: E402
from engine.documents.embedder import LlamaEmbedder, default_threads, ensure_default_embedder  # noqa: E402
from engine.documents.index import CollectionIndex  # noqa: E402
from engine.documents.library import DocumentLibrary  # noqa: E402
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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# -- corpus -----------------------------------------------------------------------------------------


def write_pdf_corpus(folder: Path, pages: int) -> list[Path]:
    """`pages` PDF pages of real prose (pydoc output), 20 pages per file."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    lines: list[str] = []
    for name in MODULES:
        for line in pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext).splitlines():
            lines.append(line[:95])
    per_page = 45
    files = []
    cursor = 0
    for number in range(0, pages, 20):
        path = folder / f"corpus-{number // 20:04d}.pdf"
        pdf = canvas.Canvas(str(path), pagesize=A4)
        for _ in range(min(20, pages - number)):
            text = pdf.beginText(40, 800)
            text.setFont("Helvetica", 9)
            for _ in range(per_page):
                text.textLine(lines[cursor % len(lines)])
                cursor += 1
            pdf.drawText(text)
            pdf.showPage()
        pdf.save()
        files.append(path)
    return files


# -- ingest -----------------------------------------------------------------------------------------


def ingest_enclave(home: Path, files: list[Path], pages: int) -> dict[str, Any]:
    """Pages per minute through the library (everything encrypted in the vault)."""
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    library = DocumentLibrary(vault, ModelRegistry(home / "models"))
    library.embedder(None)  # model load is not ingest
    start = time.perf_counter()
    report = library.add(files, "bench")
    seconds = time.perf_counter() - start
    chunks = sum(f.chunks for f in report.files)
    library.close()
    vault.close()
    return {"seconds": seconds, "pages_per_min": pages / seconds * 60, "chunks": chunks}


def ingest_reference(files: list[Path], pages: int, model_path: Path) -> dict[str, Any]:
    """The same files through a hand-built pipeline: loader, splitter, the same model, a vector store."""
    from llama_cpp import Llama
    from pypdf import PdfReader

    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=100)
        split = splitter.split_text
        splitter_name = "langchain RecursiveCharacterTextSplitter(1000, 100)"
    except ImportError:
        splitter_name = "fixed 1000-character windows (langchain-text-splitters not installed)"

        def split(text: str) -> list[str]:
            return [text[i : i + 1000] for i in range(0, len(text), 900)]

    try:
        import chromadb

        client = chromadb.EphemeralClient()
        collection = client.create_collection("bench")
        store_name = "chromadb (in memory)"

        def store(ids: list[str], vectors: list[list[float]], texts: list[str]) -> None:
            collection.add(ids=ids, embeddings=vectors, documents=texts)
    except ImportError:
        store_name = "numpy array (chromadb not installed)"
        kept: list[np.ndarray] = []

        def store(ids: list[str], vectors: list[list[float]], texts: list[str]) -> None:
            kept.append(np.asarray(vectors, dtype=np.float32))

    llama = Llama(
        str(model_path),
        embedding=True,
        n_ctx=512,
        n_batch=512,
        n_ubatch=512,
        n_threads=default_threads(),
        n_threads_batch=default_threads(),
        verbose=False,
    )
    start = time.perf_counter()
    chunks = 0
    for path in files:
        for number, page in enumerate(PdfReader(str(path)).pages):
            texts = split(page.extract_text() or "")
            vectors = [llama.embed("passage: " + t, normalize=True, truncate=True) for t in texts]
            if texts:
                store([f"{path.name}-{number}-{i}" for i in range(len(texts))], vectors, texts)
            chunks += len(texts)
    seconds = time.perf_counter() - start
    llama.close()
    return {
        "seconds": seconds,
        "pages_per_min": pages / seconds * 60,
        "chunks": chunks,
        "splitter": splitter_name,
        "store": store_name,
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


def query_latency(n: int, embedder: LlamaEmbedder | None, queries: int) -> dict[str, Any]:
    """p50/p95 of hybrid searches over n synthetic chunks (index only, and with the query embedded)."""
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
    times = []
    for text, probe in zip(texts, probes, strict=True):
        t = time.perf_counter()
        index.search(text, probe, 5)
        times.append((time.perf_counter() - t) * 1000)
    result: dict[str, Any] = {
        "chunks": n,
        "build_s": build,
        "p50_ms": _percentile(times, 50),
        "p95_ms": _percentile(times, 95),
        "index_mib": index.memory_bytes() / 2**20,
        "rss_added_mib": _rss_mib() - rss,
    }
    if embedder is not None:
        full = []
        for text in texts[: max(5, queries // 4)]:
            t = time.perf_counter()
            index.search(text, embedder.embed([text], "query")[0], 5)
            full.append((time.perf_counter() - t) * 1000)
        result["with_query_embedding_p50_ms"] = _percentile(full, 50)
        result["with_query_embedding_p95_ms"] = _percentile(full, 95)
    result["vector_only"] = vector_methods(vectors, probes[: min(50, queries)])
    return result


def vector_methods(vectors: np.ndarray, probes: np.ndarray) -> dict[str, Any]:
    """Exact numpy top-50 against usearch HNSW (build time, query p95, recall of the exact top 50)."""
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
    """Seconds from unlock to the first answered search with n chunks in the vault."""
    chunks, vectors = synthetic_chunks(n, seed=11)
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    coll = vault.documents.create_collection("scale")
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

    class NoEmbedder:
        name, dim = "none", DIM

        def embed(self, texts: Any, kind: Any) -> np.ndarray:
            return np.ones((len(texts), DIM), np.float32) / np.sqrt(DIM)

        def close(self) -> None:
            pass

    start = time.perf_counter()
    vault = Vault.unlock(home, PASSPHRASE)
    unlocked = time.perf_counter() - start
    library = DocumentLibrary(vault, ModelRegistry(home / "models"), embedder_factory=lambda _: NoEmbedder())
    library.start_loading()
    library.wait_ready()
    library.search(chunks[0].text.split()[3], ["scale"], top=5)
    total = time.perf_counter() - start
    memory = library.index_memory()
    library.close()
    vault.close()
    return {
        "chunks": n,
        "store_s": store_s,
        "unlock_s": unlocked,
        "unlock_to_searchable_s": total,
        "index_mib": memory / 2**20,
    }


def main() -> int:
    """Run the benchmark and print (or write) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the script, not the machine")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--chunks", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    args = parser.parse_args()
    pages = 12 if args.smoke else args.pages
    sizes = [2000] if args.smoke else [int(s) for s in args.chunks.split(",")]
    queries = 20 if args.smoke else args.queries
    results: dict[str, Any] = {"machine": machine(), "smoke": args.smoke, "embedding_threads": default_threads()}
    with tempfile.TemporaryDirectory(prefix="enclave-bench-docs-") as tmp:
        root = Path(tmp)
        os.environ["ENCLAVE_HOME"] = str(root / "home")
        (root / "corpus").mkdir()
        files = write_pdf_corpus(root / "corpus", pages)
        results["ingest_enclave"] = ingest_enclave(root / "home", files, pages)
        print(f"ingest, Enclave:   {results['ingest_enclave']['pages_per_min']:8.1f} pages/min", flush=True)
        model = ensure_default_embedder(ModelRegistry(root / "home" / "models"))
        results["ingest_reference"] = ingest_reference(files, pages, model.path)
        ref = results["ingest_reference"]
        print(f"ingest, reference: {ref['pages_per_min']:8.1f} pages/min ({ref['splitter']}; {ref['store']})")
        embedder = LlamaEmbedder(model)
        results["query"] = []
        for n in sizes:
            row = query_latency(n, embedder, queries)
            results["query"].append(row)
            print(
                f"query at {n:>7} chunks: p50 {row['p50_ms']:6.1f} ms, p95 {row['p95_ms']:6.1f} ms "
                f"(with query embedding p95 {row.get('with_query_embedding_p95_ms', 0):6.1f} ms); "
                f"index {row['index_mib']:.0f} MiB; vectors {row['vector_only']}",
                flush=True,
            )
        embedder.close()
        os.environ["ENCLAVE_HOME"] = str(root / "scale")
        results["unlock"] = unlock_to_searchable(root / "scale", sizes[-1])
        u = results["unlock"]
        print(
            f"unlock to searchable at {u['chunks']} chunks: {u['unlock_to_searchable_s']:.1f} s "
            f"(index {u['index_mib']:.0f} MiB)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
