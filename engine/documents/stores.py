"""OpenAI's Files (purpose `assistants`) and Vector Stores over document collections, under a key's rules.

A vector store is a collection (`vs_<collection id>`); an uploaded file is a document kept, not yet
indexed, in the collection `openai-files` (`file-u<document id>`), its bytes encrypted like every
original. Adding a file to a store extracts, chunks and embeds it into the store's collection, where the
document's source remembers the file id. An API key reaches only the collections its rules name
(`collections` to search, `collections_write` to create, fill and delete; "*" for all); the engine's own
actors (command line, desktop) reach every one. Everything is audited by the library in the actor's name.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.documents.library import DocumentLibrary, FileResult, SearchResult
from engine.errors import NotFoundError, PermissionDenied, UserError
from engine.vault.documents import CollectionRecord, DocumentRecord

UPLOADS = "openai-files"
UPLOAD_PREFIX = "file-u"  # "u" is no hex digit: never a fine-tune file id (file-<hex>)
STORE_PREFIX = "vs_"
_UPLOAD_SOURCE = "openai-upload:"  # + key id (or actor) + ":" + a random tag
_FILE_SOURCE = "openai-file:"  # + upload document id, on a store's copy
MAX_STORES_PER_SEARCH = 16


class KeyRules(Protocol):
    """What the rooms need of an API key's record (engine.vault.records.ApiKeyRecord)."""

    @property
    def id(self) -> str:
        """The key's id."""
        ...

    @property
    def store_content(self) -> bool:
        """Whether the key logs texts."""
        ...

    @property
    def collections_write(self) -> tuple[str, ...]:
        """The collections it may write."""
        ...

    def may_read(self, collection: str) -> bool:
        """True when the key may search `collection`."""
        ...

    def may_write(self, collection: str) -> bool:
        """True when the key may create, fill or delete `collection`."""
        ...


@dataclass(frozen=True)
class StoreHit:
    """A search result with the OpenAI file id of its document."""

    file_id: str
    result: SearchResult


class VectorStores:
    """Files and vector stores for one actor (an API key's view or the engine's own)."""

    def __init__(self, library: DocumentLibrary, key: KeyRules | None, actor: str) -> None:
        self._library = library
        self._key = key
        self._actor = actor

    # -- rules ----------------------------------------------------------------------------------

    def _readable(self, coll: CollectionRecord) -> bool:
        return self._key is None or self._key.may_read(coll.name)

    def _check(self, coll: CollectionRecord, write: bool) -> None:
        if self._key is None or (self._key.may_write(coll.name) if write else self._key.may_read(coll.name)):
            return
        verb = "write to" if write else "read"
        raise PermissionDenied(f"this API key may not {verb} the collection {coll.name!r}")

    def _owner(self) -> str:
        return self._key.id if self._key is not None else "engine"

    @property
    def log_text(self) -> bool:
        """Whether query texts go into the audit chain (only for a key that logs texts)."""
        return self._key is not None and self._key.store_content

    # -- files ----------------------------------------------------------------------------------

    def upload(self, filename: str, data: bytes) -> DocumentRecord:
        """Keep an uploaded file encrypted until it is added to a store (keys with a write rule only)."""
        if self._key is not None and not self._key.collections_write:
            raise PermissionDenied("this API key may not upload documents (create it with `--collections-write`)")
        name = (filename or "upload").replace("/", "_").replace("\\", "_")[:200] or "upload"
        uploads = self._library.find_collection(UPLOADS) or self._library.create_collection(
            UPLOADS,
            purpose="files uploaded through the OpenAI Files API, kept until added to a vector store",
            actor=self._actor,
        )
        source = f"{_UPLOAD_SOURCE}{self._owner()}:{secrets.token_hex(8)}"
        return self._library.keep_file(uploads.name, name, data, source=source, actor=self._actor)

    def files(self) -> list[DocumentRecord]:
        """The uploads this actor made (the engine's own actors see all)."""
        if self._library.find_collection(UPLOADS) is None:
            return []
        docs = [doc for doc, _ in self._library.documents(UPLOADS)]
        return [d for d in docs if self._key is None or d.source.startswith(f"{_UPLOAD_SOURCE}{self._owner()}:")]

    def file(self, file_id: str) -> DocumentRecord:
        """One upload by its file id; NotFoundError (also for another key's upload)."""
        if file_id.startswith(UPLOAD_PREFIX):
            wanted = file_id.removeprefix(UPLOAD_PREFIX)
            for doc in self.files():
                if doc.id == wanted:
                    return doc
        raise NotFoundError(f"no file {file_id!r}")

    def delete_file(self, file_id: str) -> DocumentRecord:
        """Crypto-shred an upload (copies already added to stores stay there)."""
        return self._library.remove(self.file(file_id).id, actor=self._actor)

    # -- stores ---------------------------------------------------------------------------------

    def create(self, name: str | None) -> CollectionRecord:
        """A new store: a collection named `name` (or `vs-<random>`), which the key must be allowed to write."""
        name = (name or "").strip() or f"vs-{secrets.token_hex(4)}"
        if name == UPLOADS:
            raise UserError(f"the name {UPLOADS!r} is reserved for uploaded files")
        if self._key is not None and not self._key.may_write(name):
            raise PermissionDenied(f"this API key may not create the collection {name!r}")
        return self._library.create_collection(name, purpose="vector store (OpenAI API)", actor=self._actor)

    def stores(self) -> list[CollectionRecord]:
        """The stores this actor may read, oldest first."""
        return [c for c in self._library.collections() if c.name != UPLOADS and self._readable(c)]

    def get(self, store_id: str) -> CollectionRecord:
        """One readable store; NotFoundError or PermissionDenied."""
        wanted = store_id.removeprefix(STORE_PREFIX)
        found = next((c for c in self._library.collections() if c.id == wanted and c.name != UPLOADS), None)
        if found is None or not store_id.startswith(STORE_PREFIX):
            raise NotFoundError(f"no vector store {store_id!r}")
        self._check(found, write=False)
        return found

    def delete(self, store_id: str) -> int:
        """Crypto-shred a store's collection and its documents; returns how many went."""
        coll = self.get(store_id)
        self._check(coll, write=True)
        return self._library.remove_collection(coll.name, actor=self._actor)

    def store_files(self, store_id: str) -> list[DocumentRecord]:
        """The documents added to a store through this API (and any added otherwise)."""
        coll = self.get(store_id)
        return [doc for doc, _ in self._library.documents(coll.name)]

    def add_file(self, store_id: str, file_id: str) -> tuple[DocumentRecord | None, FileResult]:
        """Extract, chunk and embed an upload into a store; the report line says how it went."""
        coll = self.get(store_id)
        self._check(coll, write=True)
        upload = self.file(file_id)
        data = self._library.original(upload.id)
        if data is None:
            raise NotFoundError(f"the file {file_id!r} has no content left")
        result = self._library.add_data(
            upload.name, data, coll.name, source=f"{_FILE_SOURCE}{upload.id}", actor=self._actor
        )
        doc = self._library.document(result.document_id) if result.document_id else None
        return doc, result

    def remove_file(self, store_id: str, file_id: str) -> DocumentRecord:
        """Take a file out of a store (its chunks and vectors are shredded; the upload stays)."""
        coll = self.get(store_id)
        self._check(coll, write=True)
        for doc in self.store_files(store_id):
            if store_file_id(doc) == file_id:
                return self._library.remove(doc.id, actor=self._actor)
        raise NotFoundError(f"no file {file_id!r} in the vector store {store_id!r}")

    def search(self, store_ids: Sequence[str], query: str, top: int = 10) -> list[StoreHit]:
        """The best `top` passages across the stores named (each must be readable)."""
        if not store_ids:
            raise UserError("name at least one vector store")
        if len(store_ids) > MAX_STORES_PER_SEARCH:
            raise UserError(f"at most {MAX_STORES_PER_SEARCH} vector stores per search")
        colls = [self.get(s) for s in dict.fromkeys(store_ids)]
        self._library.wait_ready(30)
        results = self._library.search(
            query, [c.name for c in colls], top=top, actor=self._actor, log_text=self.log_text
        )
        sources = {d.id: d for c in colls for d, _ in self._library.documents(c.name)}
        return [StoreHit(store_file_id(sources[r.document_id]) if r.document_id in sources else "", r) for r in results]


def store_file_id(doc: DocumentRecord) -> str:
    """The OpenAI file id of a store's document: its upload's id, or the document's own for other adds."""
    if doc.source.startswith(_FILE_SOURCE):
        return UPLOAD_PREFIX + doc.source.removeprefix(_FILE_SOURCE)
    return UPLOAD_PREFIX + doc.id
