"""The in-memory search index of one collection: BM25 keywords (bm25s, Chinese cut by jieba) and exact
vector search (numpy), fused by reciprocal rank fusion.

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

from engine.vault.documents import StoredChunk

RRF_K = 60  # the constant from Cormack et al. (2009); rank 1 scores 1/61
# The keyword list counts half: on paraphrased questions the vector list is the better one, and BM25 mostly
# lifts the passages that share a rare word with the question (tests/documents/test_recall.py measured
# recall@5 0.75 with equal weights and 0.84 with these).
KEYWORD_WEIGHT = 0.5
VECTOR_WEIGHT = 1.0
CANDIDATES = 50
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
            # jieba caches its dictionary in the temp folder; the dictionary is public, so that is fine,
            # but keep it in memory anyway: nothing of ours belongs in /tmp.
            jieba.dt.cache_file = None
            jieba.dt.tmp_dir = None
            jieba.initialize()
            _jieba_ready = True
    return jieba


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


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
    """One search result: the chunk, its fused score, and its rank in each list (None: not in it)."""

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

    def keyword_ranks(self, query: str, k: int) -> list[int]:
        """Chunk positions in BM25 order (best first), at most k, only those that match a query word."""
        tokens = tokenize(query)
        with self._lock:
            bm25 = self._bm25_locked()
            if bm25 is None or not tokens:
                return []
            scores = bm25.get_scores(tokens)  # type: ignore[attr-defined]
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k else np.array([], dtype=int)
        return [int(i) for i in top[np.argsort(-scores[top])] if scores[i] > 0]

    def vector_ranks(self, query_vector: np.ndarray, k: int) -> list[int]:
        """Chunk positions by cosine similarity (vectors are normalised), best first, at most k."""
        with self._lock:
            matrix = self._matrix_locked()
        if not len(matrix):
            return []
        scores = matrix @ query_vector.astype(np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        return [int(i) for i in top[np.argsort(-scores[top])]]

    def search(self, query: str, query_vector: np.ndarray | None, top: int, *, mode: str = "hybrid") -> list[Hit]:
        """The best `top` chunks: "hybrid" (RRF of both lists), "keyword" or "vector" alone."""
        depth = max(CANDIDATES, top)
        keyword = self.keyword_ranks(query, depth) if mode in ("hybrid", "keyword") else []
        vector = (
            self.vector_ranks(query_vector, depth) if mode in ("hybrid", "vector") and query_vector is not None else []
        )
        scores: dict[int, float] = {}
        for weight, ranking in ((KEYWORD_WEIGHT, keyword), (VECTOR_WEIGHT, vector)):
            for rank, position in enumerate(ranking):
                scores[position] = scores.get(position, 0.0) + weight / (RRF_K + rank + 1)
        keyword_at = {p: r + 1 for r, p in enumerate(keyword)}
        vector_at = {p: r + 1 for r, p in enumerate(vector)}
        best = sorted(scores.items(), key=lambda pair: -pair[1])[:top]
        with self._lock:
            items = self._items
            return [Hit(items[p], s, keyword_at.get(p), vector_at.get(p)) for p, s in best]

    def memory_bytes(self) -> int:
        """Bytes held by the vectors and the BM25 matrix (text and Python objects not counted)."""
        with self._lock:
            total = int(self._matrix_locked().nbytes)
            bm25 = self._bm25
        if bm25 is not None:
            scores = getattr(bm25, "scores", {})
            total += sum(int(getattr(v, "nbytes", 0)) for v in scores.values()) if isinstance(scores, dict) else 0
        return total


def _searchable(document: str, chunk: StoredChunk) -> str:
    """What BM25 sees: the chunk with its heading and document name, which often carry the key words."""
    return " ".join(part for part in (document, chunk.heading or "", chunk.text) if part)
