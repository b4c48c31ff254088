"""Document collections and documents in the vault, each document under its own data key.

A document's parts (extracted text, chunks, embedding vectors, the original bytes when its collection
keeps them) are sealed under that key, so removing the document destroys the key and crypto-shreds all
of them at once. Plaintext columns hold ids, times and sizes only; the content hash used to skip an
unchanged file is an HMAC under a vault sub-key, never the bare SHA-256 of the content.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import NotFoundError, UserError
from engine.vault import crypto
from engine.vault.audit import AuditLog
from engine.vault.errors import RecordTampered
from engine.vault.sqlite import Database
from engine.vault.store import Store, iso, now

# What each row of document_parts holds.
PART_TEXT = 0  # JSON: the extracted sections (text, page, heading)
PART_CHUNKS = 1  # JSON: the chunks (text, page, heading)
PART_VECTORS = 2  # bytes: float32 matrix, one row per chunk
PART_ORIGINAL = 3  # bytes: the file as added
_DOC_COLUMNS = "id, collection_id, key_id, created_at, updated_at, bytes, pages, chunks, body"


@dataclass(frozen=True)
class CollectionRecord:
    """A named collection of documents."""

    id: str
    name: str
    keep_originals: bool
    embedder: str
    purpose: str
    created_at: str


@dataclass(frozen=True)
class DocumentRecord:
    """A document's decrypted header."""

    id: str
    collection_id: str
    name: str
    source: str  # the path it was added from, as given
    sha256: str
    format: str
    subject: str | None
    ocr: bool
    size: int
    pages: int
    chunks: int
    created_at: str
    updated_at: str
    key_id: str = field(repr=False, default="")


@dataclass(frozen=True)
class StoredChunk:
    """One chunk as stored: its text, 1-based page (None when the format has no pages) and heading."""

    text: str
    page: int | None
    heading: str | None


@dataclass(frozen=True)
class NewDocument:
    """Everything `add` stores for one file."""

    collection_id: str
    name: str
    source: str
    sha256: str
    format: str
    size: int
    pages: int
    ocr: bool
    sections: list[dict[str, Any]]
    chunks: list[StoredChunk]
    vectors: np.ndarray
    original: bytes | None
    subject: str | None = None


class DocumentStore:
    """Create, list, load and crypto-shred collections and documents (on the vault's thread)."""

    def __init__(self, store: Store, audit: AuditLog) -> None:
        self._store = store
        self._audit = audit
        # Told which documents went (by any path: removal, retention, erasure), so in-memory indexes follow.
        self.on_removed: list[Callable[[builtins.list[str]], None]] = []

    def _removed(self, doc_ids: builtins.list[str]) -> None:
        if doc_ids:
            for callback in self.on_removed:
                callback(doc_ids)

    # -- collections -------------------------------------------------------------------------

    def _collection(self, db: Database, row: tuple[Any, ...]) -> CollectionRecord:
        coll_id, key_id, created_at, body = row
        data = self._store.open_json(db, "doc_collections", "body", coll_id, body, key_id)
        return CollectionRecord(
            coll_id,
            data["name"],
            bool(data.get("keep_originals", True)),
            str(data.get("embedder", "")),
            str(data.get("purpose", "")),
            created_at,
        )

    def _collections(self, db: Database) -> builtins.list[CollectionRecord]:
        rows = db.execute("SELECT id, key_id, created_at, body FROM doc_collections ORDER BY created_at").fetchall()
        return [self._collection(db, tuple(r)) for r in rows]

    def collections(self) -> builtins.list[CollectionRecord]:
        """Every collection, oldest first."""
        return self._store.run(self._collections)

    def collection(self, name: str) -> CollectionRecord | None:
        """The collection called `name`, or None."""
        return next((c for c in self.collections() if c.name == name), None)

    def create_collection(
        self, name: str, *, keep_originals: bool = True, embedder: str = "", purpose: str = ""
    ) -> CollectionRecord:
        """A new collection; UserError if the name is taken or empty."""
        name = name.strip()
        if not name or len(name) > 200:
            raise UserError("a collection name must be 1 to 200 characters")

        def task(db: Database) -> CollectionRecord:
            if any(c.name == name for c in self._collections(db)):
                raise UserError(f"a collection named {name!r} already exists")
            coll_id = crypto.new_id()
            with db.atomic():
                key_id = self._store.new_data_key(db)
                body = {"name": name, "keep_originals": keep_originals, "embedder": embedder, "purpose": purpose}
                sealed = self._store.seal_json(db, "doc_collections", "body", coll_id, key_id, body)
                db.execute(
                    "INSERT INTO doc_collections (id, key_id, created_at, body) VALUES (?, ?, ?, ?)",
                    [coll_id, key_id, iso(now()), sealed],
                )
            row = db.execute("SELECT id, key_id, created_at, body FROM doc_collections WHERE id = ?", [coll_id])
            return self._collection(db, tuple(row.fetchone()))

        return self._store.run(task)

    def set_collection(self, coll_id: str, **changes: Any) -> CollectionRecord:
        """Change a collection's settings (purpose, keep_originals, embedder)."""

        def task(db: Database) -> CollectionRecord:
            row = db.execute("SELECT id, key_id, created_at, body FROM doc_collections WHERE id = ?", [coll_id])
            found = row.fetchone()
            if found is None:
                raise NotFoundError(f"no collection {coll_id}")
            data = self._store.open_json(db, "doc_collections", "body", coll_id, found[3], found[1])
            data.update(changes)
            sealed = self._store.seal_json(db, "doc_collections", "body", coll_id, found[1], data)
            db.execute("UPDATE doc_collections SET body = ? WHERE id = ?", [sealed, coll_id])
            return self._collection(db, (found[0], found[1], found[2], sealed))

        return self._store.run(task)

    # -- documents ---------------------------------------------------------------------------

    def _content_mac(self, collection_id: str, sha256: str) -> bytes:
        key = self._store.subkey("document content")
        return hmac.new(key, f"{collection_id}|{sha256}".encode(), hashlib.sha256).digest()

    def _document(self, db: Database, row: tuple[Any, ...]) -> DocumentRecord:
        doc_id, coll_id, key_id, created_at, updated_at, size, pages, chunks, body = row
        data = self._store.open_json(db, "documents", "body", doc_id, body, key_id)
        if data.get("collection_id") != coll_id:  # a row moved to another collection
            raise RecordTampered("documents", doc_id)
        return DocumentRecord(
            doc_id,
            coll_id,
            data["name"],
            data.get("source", data["name"]),
            data["sha256"],
            data.get("format", ""),
            data.get("subject"),
            bool(data.get("ocr")),
            size,
            pages,
            chunks,
            created_at,
            updated_at,
            key_id,
        )

    def _documents(self, db: Database, collection_id: str | None) -> builtins.list[DocumentRecord]:
        if collection_id is None:
            rows = db.execute(f"SELECT {_DOC_COLUMNS} FROM documents ORDER BY created_at").fetchall()
        else:
            rows = db.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents WHERE collection_id = ? ORDER BY created_at", [collection_id]
            ).fetchall()
        return [self._document(db, tuple(r)) for r in rows]

    def documents(self, collection_id: str | None = None) -> builtins.list[DocumentRecord]:
        """Documents of one collection (or all), oldest first."""
        return self._store.run(lambda db: self._documents(db, collection_id))

    def document(self, doc_id: str) -> DocumentRecord:
        """One document; NotFoundError if there is none."""

        def task(db: Database) -> DocumentRecord:
            row = db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?", [doc_id]).fetchone()
            if row is None:
                raise NotFoundError(f"no document {doc_id}")
            return self._document(db, tuple(row))

        return self._store.run(task)

    def find_content(self, collection_id: str, sha256: str) -> DocumentRecord | None:
        """The document in `collection_id` with exactly this content, if any."""

        def task(db: Database) -> DocumentRecord | None:
            row = db.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents WHERE content_mac = ? AND collection_id = ?",
                [self._content_mac(collection_id, sha256), collection_id],
            ).fetchone()
            return None if row is None else self._document(db, tuple(row))

        return self._store.run(task)

    def add(self, new: NewDocument, *, replaces: str | None = None) -> DocumentRecord:
        """Store a document under a new data key (replacing `replaces` in the same transaction)."""
        if new.vectors.shape[0] != len(new.chunks):
            raise ValueError("one vector per chunk")

        def task(db: Database) -> DocumentRecord:
            doc_id = crypto.new_id()
            stamp = iso(now())
            with db.atomic():
                if replaces is not None:
                    self._delete_rows(db, replaces)
                key_id = self._store.new_data_key(db)
                body = {
                    "collection_id": new.collection_id,
                    "name": new.name,
                    "source": new.source,
                    "sha256": new.sha256,
                    "format": new.format,
                    "subject": new.subject,
                    "ocr": new.ocr,
                }
                db.execute(
                    f"INSERT INTO documents ({_DOC_COLUMNS}, content_mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        doc_id,
                        new.collection_id,
                        key_id,
                        stamp,
                        stamp,
                        new.size,
                        new.pages,
                        len(new.chunks),
                        self._store.seal_json(db, "documents", "body", doc_id, key_id, body),
                        self._content_mac(new.collection_id, new.sha256),
                    ],
                )
                chunks = [[c.text, c.page, c.heading] for c in new.chunks]
                vectors = np.ascontiguousarray(new.vectors, dtype="<f4")
                parts: list[tuple[int, bytes]] = [
                    (PART_TEXT, _json(new.sections)),
                    (PART_CHUNKS, _json({"dim": int(vectors.shape[1]), "chunks": chunks})),
                    (PART_VECTORS, vectors.tobytes()),
                ]
                if new.original is not None:
                    parts.append((PART_ORIGINAL, new.original))
                for part, payload in parts:
                    part_id = crypto.new_id()
                    sealed = self._store.seal_bytes(db, "document_parts", "body", part_id, key_id, payload)
                    db.execute(
                        "INSERT INTO document_parts (id, document_id, part, body) VALUES (?, ?, ?, ?)",
                        [part_id, doc_id, part, sealed],
                    )
            if replaces is not None:
                _scrub(db)
            row = db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?", [doc_id]).fetchone()
            return self._document(db, tuple(row))

        return self._store.run(task)

    def _part(self, db: Database, doc: DocumentRecord, part: int) -> bytes | None:
        row = db.execute(
            "SELECT id, body FROM document_parts WHERE document_id = ? AND part = ?", [doc.id, part]
        ).fetchone()
        if row is None:
            return None
        return self._store.open_bytes(db, "document_parts", "body", row[0], row[1], doc.key_id)

    def load_chunks(self, doc: DocumentRecord) -> tuple[builtins.list[StoredChunk], np.ndarray]:
        """A document's chunks and their vectors (decrypted into memory only)."""

        def task(db: Database) -> tuple[builtins.list[StoredChunk], np.ndarray]:
            raw = self._part(db, doc, PART_CHUNKS)
            vec = self._part(db, doc, PART_VECTORS)
            if raw is None or vec is None:
                raise RecordTampered("document_parts", doc.id)
            data = json.loads(raw)
            chunks = [StoredChunk(t, p, h) for t, p, h in data["chunks"]]
            vectors = np.frombuffer(vec, dtype="<f4").reshape(len(chunks), int(data["dim"]))
            return chunks, vectors

        return self._store.run(task)

    def load_each(
        self, collection_id: str, visit: Callable[[DocumentRecord, builtins.list[StoredChunk], np.ndarray], None]
    ) -> None:
        """Call `visit` with every document of a collection and its chunks (for building an index)."""
        for doc in self.documents(collection_id):
            chunks, vectors = self.load_chunks(doc)
            visit(doc, chunks, vectors)

    def sections(self, doc_id: str) -> builtins.list[dict[str, Any]]:
        """The extracted text of a document, section by section."""
        doc = self.document(doc_id)
        raw = self._store.run(lambda db: self._part(db, doc, PART_TEXT))
        return [] if raw is None else list(json.loads(raw))

    def original(self, doc_id: str) -> bytes | None:
        """The original bytes, when the collection keeps them."""
        doc = self.document(doc_id)
        return self._store.run(lambda db: self._part(db, doc, PART_ORIGINAL))

    def set_subject(self, doc_id: str, subject: str | None) -> DocumentRecord:
        """Tag (or with None untag) a document with a data subject."""

        def task(db: Database) -> DocumentRecord:
            row = db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?", [doc_id]).fetchone()
            if row is None:
                raise NotFoundError(f"no document {doc_id}")
            data = self._store.open_json(db, "documents", "body", doc_id, row[8], row[2])
            data["subject"] = subject
            sealed = self._store.seal_json(db, "documents", "body", doc_id, row[2], data)
            db.execute("UPDATE documents SET body = ?, updated_at = ? WHERE id = ?", [sealed, iso(now()), doc_id])
            fresh = db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?", [doc_id]).fetchone()
            return self._document(db, tuple(fresh))

        return self._store.run(task)

    # -- removal -----------------------------------------------------------------------------

    def remove(self, doc_ids: builtins.list[str]) -> int:
        """Crypto-shred documents: destroy their keys, delete their rows, scrub the bytes."""

        def task(db: Database) -> int:
            with db.atomic():
                for doc_id in doc_ids:
                    self._delete_rows(db, doc_id)
            _scrub(db)
            self._removed(list(doc_ids))
            return len(doc_ids)

        return self._store.run(task)

    def remove_collection(self, coll_id: str) -> int:
        """Crypto-shred a collection and every document in it; returns how many documents."""

        def task(db: Database) -> int:
            row = db.execute("SELECT key_id FROM doc_collections WHERE id = ?", [coll_id]).fetchone()
            if row is None:
                raise NotFoundError(f"no collection {coll_id}")
            ids = [r[0] for r in db.execute("SELECT id FROM documents WHERE collection_id = ?", [coll_id])]
            with db.atomic():
                for doc_id in ids:
                    self._delete_rows(db, doc_id)
                db.execute("DELETE FROM doc_collections WHERE id = ?", [coll_id])
                db.execute("DELETE FROM data_keys WHERE id = ?", [row[0]])
            self._store.forget_data_key(row[0])
            _scrub(db)
            self._removed(ids)
            return len(ids)

        return self._store.run(task)

    def expire_in(self, db: Database, cutoff: str, held_subjects: frozenset[str]) -> builtins.list[str]:
        """Retention: delete documents unchanged since before `cutoff` unless their subject is held."""
        gone = []
        for row in db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE updated_at < ?", [cutoff]).fetchall():
            if held_subjects and self._document(db, tuple(row)).subject in held_subjects:
                continue
            self._delete_rows(db, row[0])
            gone.append(str(row[0]))
        self._removed(gone)
        return gone

    def _delete_rows(self, db: Database, doc_id: str) -> None:
        row = db.execute("SELECT key_id FROM documents WHERE id = ?", [doc_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no document {doc_id}")
        db.execute("DELETE FROM document_parts WHERE document_id = ?", [doc_id])
        db.execute("DELETE FROM documents WHERE id = ?", [doc_id])
        db.execute("DELETE FROM data_keys WHERE id = ?", [row[0]])
        self._store.forget_data_key(row[0])

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) in the vault."""

        def task(db: Database) -> tuple[int, int]:
            row = db.execute("SELECT COUNT(*), COALESCE(SUM(chunks), 0) FROM documents").fetchone()
            return int(row[0]), int(row[1])

        return self._store.run(task)


def _scrub(db: Database) -> None:
    # Same as conversations.scrub: committed pages into the main file, WAL emptied.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
