"""The in-memory search index of one collection: BM25 keywords (bm25s; English stemmed, Chinese cut by
jieba) and exact vector search (numpy), fused by reciprocal rank fusion over each list's best candidates.

It lives only in memory while the vault is unlocked: nothing here is written anywhere. Vectors are
searched by brute force: one float32 matrix product is exact, needs no build step, and measured faster
at 100k chunks than the time an approximate index takes to build on unlock (bench/bench_documents.py).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from engine import paths
from engine.vault.documents import StoredChunk

# Reciprocal rank fusion: a chunk scores 1 / (RRF_K + rank) in each list where it is among the first
# CANDIDATES, the two lists weighted equally. Chosen on the dev half of tests/documents/recall_questions.py
# (README, "Retrieval quality"): the textbook k = 60 sat on the plateau of the values tried, and cutting each
# list at 20 candidates kept a long tail of weak matches in one list from outvoting the other.
RRF_K = 60
CANDIDATES = 20
KEYWORD_WEIGHT = 0.5
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_jieba_lock = threading.Lock()
_jieba_ready = False
# English stop words: frequent enough that BM25 gives them almost no weight, but they cost time.
_STOP_WORDS = (
    "a an and are as at be but by for from has have how i if in into is it its of on or that the their then "
    "there these they this to was what when where which who why will with you your do does can"
)
STOP = frozenset(_STOP_WORDS.split())


def _jieba() -> object:
    global _jieba_ready
    import jieba

    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(60)
            # jieba caches its parsed dictionary (public data, no user text) in a file; keep that file in
            # Enclave's own folder rather than the shared temp folder.
            cache = paths.enclave_home() / "cache"
            cache.mkdir(parents=True, exist_ok=True, mode=0o700)
            jieba.dt.tmp_dir = str(cache)
            jieba.initialize()
            _jieba_ready = True
    return jieba


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    # No word cache: PyStemmer's own (10,000 words by default) measured two to three times slower than none
    # (pydoc's text, and a 30,000-word synthetic vocabulary), and it would keep documents' words after lock.
    return Stemmer.Stemmer("english", 0)


def _words(text: str) -> list[str]:
    # Snowball stems, so "copies", "copying" and "copied" meet "copy".
    return list(_stemmer().stemWords([w for w in _WORD.findall(text) if w not in STOP]))


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed words; Chinese runs cut into words by jieba (search mode: words and their parts)."""
    tokens: list[str] = []
    position = 0
    lowered = text.lower()
    for match in _CJK_RUN.finditer(lowered):
        tokens += _words(lowered[position : match.start()])
        jieba = _jieba()
        tokens += [w for w in jieba.cut_for_search(match.group()) if w.strip()]  # type: ignore[attr-defined]
        position = match.end()
    tokens += _words(lowered[position:])
    return tokens


@dataclass(frozen=True)
class IndexedChunk:
    """A chunk and the document it belongs to."""

    document_id: str
    document: str
    chunk: StoredChunk


@dataclass(frozen=True)
class Hit:
    """One search result: the chunk, its fused score, and its rank by each score (keyword: None when it
    shares no word with the query)."""

    item: IndexedChunk
    score: float
    keyword_rank: int | None
    vector_rank: int | None


class CollectionIndex:
    """BM25 plus vectors over one collection's chunks; rebuilt lazily after changes."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._items: list[IndexedChunk] = []
        self._tokens: list[list[str]] = []
        self._vectors: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None
        self._bm25: object | None = None
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, document_id: str, document: str, chunks: Sequence[StoredChunk], vectors: np.ndarray) -> None:
        """Add one document's chunks and vectors."""
        if vectors.shape[0] != len(chunks) or (len(chunks) and vectors.shape[1] != self.dim):
            raise ValueError("vectors do not match the chunks or the index dimension")
        tokens = [tokenize(_searchable(document, c)) for c in chunks]
        with self._lock:
            self._items += [IndexedChunk(document_id, document, c) for c in chunks]
            self._tokens += tokens
            self._vectors.append(np.asarray(vectors, dtype=np.float32))
            self._matrix = None
            self._bm25 = None

    def remove(self, document_id: str) -> None:
        """Drop one document's chunks."""
        with self._lock:
            keep = [i for i, item in enumerate(self._items) if item.document_id != document_id]
            if len(keep) == len(self._items):
                return
            matrix = self._matrix_locked()
            self._items = [self._items[i] for i in keep]
            self._tokens = [self._tokens[i] for i in keep]
            self._vectors = [matrix[keep]] if keep else []
            self._matrix = None
            self._bm25 = None

    def _matrix_locked(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = np.vstack(self._vectors) if self._vectors else np.zeros((0, self.dim), np.float32)
            self._vectors = [self._matrix]
        return self._matrix

    def _bm25_locked(self) -> object | None:
        if self._bm25 is None and self._items:
            import bm25s

            retriever = bm25s.BM25()
            # bm25s wants every document to have a token; an empty chunk gets a placeholder.
            retriever.index([t or ["\u2205"] for t in self._tokens], show_progress=False)
            self._bm25 = retriever
        return self._bm25

    def prepare(self) -> None:
        """Build what a search needs now (the background loader calls this)."""
        with self._lock:
            self._matrix_locked()
            self._bm25_locked()

    def search(self, query: str, query_vector: np.ndarray | None, top: int, *, mode: str = "hybrid") -> list[Hit]:
        """The best `top` chunks: "hybrid" (both scores fused), "keyword" (BM25) or "vector" alone."""
        with self._lock:
            items = self._items
            if not items:
                return []
            bm25 = self._bm25_locked()
            matrix = self._matrix_locked()
        tokens = tokenize(query)
        keyword = (
            np.asarray(bm25.get_scores(tokens), dtype=np.float32)  # type: ignore[attr-defined]
            if tokens and bm25 is not None
            else np.zeros(len(items), np.float32)
        )
        vector = matrix @ query_vector.astype(np.float32) if query_vector is not None else None
        fused: np.ndarray
        if mode == "keyword" or vector is None:
            fused = keyword
        elif mode == "vector":
            fused = vector
        else:
            fused = KEYWORD_WEIGHT * _reciprocal_ranks(keyword, positive_only=True) + (
                1 - KEYWORD_WEIGHT
            ) * _reciprocal_ranks(vector, positive_only=False)
        k = min(top, len(items))
        best = np.argpartition(-fused, k - 1)[:k]
        best = best[np.argsort(-fused[best])]
        if mode == "keyword" or vector is None:
            best = np.asarray([p for p in best if keyword[p] > 0], dtype=int)  # only chunks with a query word
        return [
            Hit(
                items[p],
                float(fused[p]),
                int(np.sum(keyword > keyword[p])) + 1 if keyword[p] > 0 else None,
                int(np.sum(vector > vector[p])) + 1 if vector is not None else None,
            )
            for p in best.tolist()
        ]

    def memory_bytes(self) -> int:
        """Bytes held by the vectors and the BM25 matrix (text and Python objects not counted)."""
        with self._lock:
            total = int(self._matrix_locked().nbytes)
            bm25 = self._bm25
        if bm25 is not None:
            scores = getattr(bm25, "scores", {})
            total += sum(int(getattr(v, "nbytes", 0)) for v in scores.values()) if isinstance(scores, dict) else 0
        return total


def _reciprocal_ranks(scores: np.ndarray, *, positive_only: bool) -> np.ndarray:
    """1 / (RRF_K + rank) for the CANDIDATES best scores (rank 1 is the best), 0 for every other chunk;
    with `positive_only`, a chunk scoring 0 (BM25: no query word) is never a candidate."""
    out = np.zeros(len(scores), dtype=np.float64)
    depth = min(CANDIDATES, len(scores))
    best = np.argpartition(-scores, depth - 1)[:depth]
    best = best[np.argsort(-scores[best], kind="stable")]
    if positive_only:
        best = best[scores[best] > 0]
    out[best] = 1.0 / (RRF_K + np.arange(1, len(best) + 1))
    return out


def _searchable(document: str, chunk: StoredChunk) -> str:
    """What BM25 sees: the chunk with its heading and document name, which often carry the key words."""
    return " ".join(part for part in (document, chunk.heading or "", chunk.text) if part)
