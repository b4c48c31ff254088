"""OpenAI's Vector Stores and Files (purpose `assistants`) over document collections.

Each route converts: the key's view of the engine (`engine.vector_stores`, engine.documents.stores) applies
the key's collection rules, works and audits. Shapes follow OpenAI's reference (vector_store,
vector_store.file, vector_store.search_results.page, file).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, Query, Request, Security
from pydantic import BaseModel, ConfigDict, Field

from engine.api.errors import ApiError
from engine.api.routes_generate import ERRORS, bearer
from engine.api.services import context_of, services_of
from engine.documents.library import FileResult
from engine.documents.stores import STORE_PREFIX, UPLOAD_PREFIX, StoreHit, VectorStores, store_file_id
from engine.errors import NotFoundError
from engine.vault.documents import CollectionRecord, DocumentRecord

router = APIRouter(dependencies=[Security(bearer)])
T = TypeVar("T")
UPLOAD_PURPOSES = ("assistants", "user_data")


class StorePage(BaseModel):
    """`GET /v1/vector_stores` query (no `after` / `before` cursors: one page holds them all)."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=20, ge=1, le=100)
    order: Literal["asc", "desc"] = "desc"


class StoreCreate(BaseModel):
    """`POST /v1/vector_stores` body (expiry and chunking options are accepted and ignored)."""

    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=200)
    file_ids: list[str] = Field(default_factory=list, max_length=100)
    metadata: dict[str, str] | None = None


class StoreFileCreate(BaseModel):
    """`POST /v1/vector_stores/{id}/files` body."""

    model_config = ConfigDict(extra="ignore")
    file_id: str = Field(max_length=100)
    attributes: dict[str, str | float | bool] | None = None


class StoreSearch(BaseModel):
    """`POST /v1/vector_stores/{id}/search` body (filters and ranking options are not applied)."""

    model_config = ConfigDict(extra="ignore")
    query: Annotated[str, Field(min_length=1)] | Annotated[list[str], Field(min_length=1, max_length=10)]
    max_num_results: int = Field(default=10, ge=1, le=50)
    rewrite_query: bool = False


def stores_of(request: Request) -> VectorStores:
    """The calling key's files and vector stores."""
    return services_of(request).engine.for_key(context_of(request).key).vector_stores


async def run(fn: Callable[[], T], param: str | None = None) -> T:
    """`fn()` off the event loop; an unknown id answers 404 naming `param`."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except NotFoundError as exc:
        raise ApiError(404, str(exc), param=param, code="not_found") from None


def _stamp(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def upload_json(doc: DocumentRecord) -> dict[str, Any]:
    """An upload as OpenAI's file object."""
    return {
        "id": UPLOAD_PREFIX + doc.id,
        "object": "file",
        "bytes": doc.size,
        "created_at": _stamp(doc.created_at),
        "filename": doc.name,
        "purpose": "assistants",
        "status": "processed",
        "status_details": None,
    }


def _store_json(coll: CollectionRecord, docs: list[DocumentRecord]) -> dict[str, Any]:
    created = _stamp(coll.created_at)
    return {
        "id": STORE_PREFIX + coll.id,
        "object": "vector_store",
        "created_at": created,
        "name": coll.name,
        "usage_bytes": sum(d.size for d in docs),
        "file_counts": {"in_progress": 0, "completed": len(docs), "failed": 0, "cancelled": 0, "total": len(docs)},
        "status": "completed",
        "expires_after": None,
        "expires_at": None,
        "last_active_at": max([created, *(_stamp(d.updated_at) for d in docs)]),
        "metadata": {},
    }


def _file_json(store_id: str, doc: DocumentRecord | None, result: FileResult | None = None) -> dict[str, Any]:
    failed = result is not None and result.status == "failed"
    return {
        "id": store_file_id(doc) if doc is not None else "",
        "object": "vector_store.file",
        "usage_bytes": doc.size if doc is not None else 0,
        "created_at": _stamp(doc.created_at) if doc is not None else 0,
        "vector_store_id": store_id,
        "status": "failed" if failed else "completed",
        "last_error": {"code": "invalid_file", "message": result.message} if failed and result else None,
        "chunking_strategy": {"type": "other"},
        "attributes": {},
    }


def _hit_json(hit: StoreHit) -> dict[str, Any]:
    r = hit.result
    attributes: dict[str, Any] = {"collection": r.collection}
    if r.page is not None:
        attributes["page"] = r.page
    if r.heading:
        attributes["heading"] = r.heading
    return {
        "file_id": hit.file_id,
        "filename": r.document,
        "score": round(r.score, 6),
        "attributes": attributes,
        "content": [{"type": "text", "text": r.text}],
    }


def _listing(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": False,
    }


@router.post("/v1/vector_stores", responses=ERRORS, tags=["openai"])
async def create_store(body: StoreCreate, request: Request) -> dict[str, Any]:
    """Create a vector store: a new collection the key may write (403 otherwise); `file_ids` are added."""
    stores = stores_of(request)

    def create() -> dict[str, Any]:
        coll = stores.create(body.name)
        for file_id in body.file_ids:
            stores.add_file(STORE_PREFIX + coll.id, file_id)
        return _store_json(coll, stores.store_files(STORE_PREFIX + coll.id))

    return await run(create, "file_ids")


@router.get("/v1/vector_stores", responses=ERRORS, tags=["openai"])
async def list_stores(request: Request, query: Annotated[StorePage, Query()]) -> dict[str, Any]:
    """The vector stores (collections) this key may read."""
    stores = stores_of(request)

    def listing() -> list[dict[str, Any]]:
        found = [_store_json(c, stores.store_files(STORE_PREFIX + c.id)) for c in stores.stores()]
        return (found[::-1] if query.order == "desc" else found)[: query.limit]

    return _listing(await run(listing))


@router.get("/v1/vector_stores/{vector_store_id}", responses=ERRORS, tags=["openai"])
async def get_store(vector_store_id: str, request: Request) -> dict[str, Any]:
    """One vector store."""
    stores = stores_of(request)
    return await run(
        lambda: _store_json(stores.get(vector_store_id), stores.store_files(vector_store_id)), "vector_store_id"
    )


@router.delete("/v1/vector_stores/{vector_store_id}", responses=ERRORS, tags=["openai"])
async def delete_store(vector_store_id: str, request: Request) -> dict[str, Any]:
    """Crypto-shred a vector store's collection with all its documents, chunks and vectors."""
    stores = stores_of(request)
    await run(lambda: stores.delete(vector_store_id), "vector_store_id")
    return {"id": vector_store_id, "object": "vector_store.deleted", "deleted": True}


@router.post("/v1/vector_stores/{vector_store_id}/files", responses=ERRORS, tags=["openai"])
async def add_store_file(vector_store_id: str, body: StoreFileCreate, request: Request) -> dict[str, Any]:
    """Add an uploaded file: extracted, chunked and embedded now (status `failed` with the reason if unreadable)."""
    stores = stores_of(request)
    doc, result = await run(lambda: stores.add_file(vector_store_id, body.file_id), "file_id")
    answer = _file_json(vector_store_id, doc, result)
    answer["id"] = body.file_id
    return answer


@router.get("/v1/vector_stores/{vector_store_id}/files", responses=ERRORS, tags=["openai"])
async def list_store_files(vector_store_id: str, request: Request) -> dict[str, Any]:
    """The files in a vector store."""
    stores = stores_of(request)
    docs = await run(lambda: stores.store_files(vector_store_id), "vector_store_id")
    return _listing([_file_json(vector_store_id, d) for d in docs])


@router.delete("/v1/vector_stores/{vector_store_id}/files/{file_id}", responses=ERRORS, tags=["openai"])
async def delete_store_file(vector_store_id: str, file_id: str, request: Request) -> dict[str, Any]:
    """Take a file out of a vector store (its chunks and vectors are shredded; the upload stays)."""
    stores = stores_of(request)
    await run(lambda: stores.remove_file(vector_store_id, file_id), "file_id")
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


@router.post("/v1/vector_stores/{vector_store_id}/search", responses=ERRORS, tags=["openai"])
async def search_store(vector_store_id: str, body: StoreSearch, request: Request) -> dict[str, Any]:
    """Hybrid search of a vector store: passages with file id, name, score, page and text, best first."""
    stores = stores_of(request)
    query = body.query if isinstance(body.query, str) else " ".join(body.query)
    hits = await run(lambda: stores.search([vector_store_id], query, body.max_num_results), "vector_store_id")
    return {
        "object": "vector_store.search_results.page",
        "search_query": [query],
        "data": [_hit_json(h) for h in hits],
        "has_more": False,
        "next_page": None,
    }
