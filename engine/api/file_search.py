"""The Responses API's `file_search` tool: the named vector stores the key may read are searched with
the question, the passages go to the model as numbered sources (engine.documents.answer), and the
answer comes back with a `file_search_call` item and `file_citation` annotations, as OpenAI's reference
shows. The search itself is the engine's (engine.documents.stores), under the key's collection rules.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import anyio

from engine.api.errors import ApiError
from engine.api.responses_schemas import FileSearchTool, ResponsesRequest
from engine.documents.answer import grounded_system_prompt
from engine.documents.library import MAX_QUERY_CHARS
from engine.documents.stores import MAX_STORES_PER_SEARCH, StoreHit, VectorStores
from engine.errors import NotFoundError

DEFAULT_RESULTS = 5
_MARK = re.compile(r"\[(\d{1,2})\]")
RESULTS_INCLUDE = "file_search_call.results"


@dataclass
class FileSearch:
    """One request's file search: its query, the passages found and the item that reports it."""

    query: str
    hits: list[StoreHit] = field(default_factory=list)
    item_id: str = field(default_factory=lambda: "fs_" + secrets.token_hex(16))
    with_results: bool = False

    def system_message(self) -> dict[str, Any]:
        """The sources as a system message before the question."""
        return {"role": "system", "content": grounded_system_prompt([h.result for h in self.hits])}

    def item(self, status: str = "completed") -> dict[str, Any]:
        """The `file_search_call` output item (with its results when the request includes them)."""
        results = [
            {
                "file_id": h.file_id,
                "filename": h.result.document,
                "score": round(h.result.score, 6),
                "text": h.result.text,
                "attributes": {"page": h.result.page} if h.result.page is not None else {},
            }
            for h in self.hits
        ]
        done = status == "completed"
        return {
            "type": "file_search_call",
            "id": self.item_id,
            "status": status,
            "queries": [self.query] if self.query else [],
            "results": results if self.with_results and done else None,
        }

    def annotations(self, text: str) -> list[dict[str, Any]]:
        """`file_citation`s: one at each [n] the answer writes; if it writes none, each source once at the end."""
        found = []
        for match in _MARK.finditer(text):
            number = int(match.group(1))
            if 1 <= number <= len(self.hits):
                found.append((match.start(), self.hits[number - 1]))
        if not found:
            seen: dict[str, StoreHit] = {}
            for hit in self.hits:
                seen.setdefault(hit.file_id, hit)
            found = [(len(text), hit) for hit in seen.values()]
        return [
            {"type": "file_citation", "file_id": hit.file_id, "filename": hit.result.document, "index": index}
            for index, hit in found
        ]


def _question(messages: list[dict[str, Any]]) -> str:
    """The last user message, the search's query ("" when there is none: nothing is searched)."""
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str) and message["content"].strip():
            return str(message["content"])[:MAX_QUERY_CHARS]
    return ""


async def run_file_search(
    body: ResponsesRequest, messages: list[dict[str, Any]], stores: VectorStores
) -> FileSearch | None:
    """Search the stores the request's file_search tools name (None when it offers none)."""
    tools = [t for t in body.tools or () if isinstance(t, FileSearchTool)]
    if not tools:
        return None
    ids = list(dict.fromkeys(i for t in tools for i in t.vector_store_ids))[:MAX_STORES_PER_SEARCH]
    top = min(t.max_num_results or DEFAULT_RESULTS for t in tools)
    search = FileSearch(_question(messages), with_results=RESULTS_INCLUDE in (body.include or ()))
    try:
        if search.query:
            search.hits = await anyio.to_thread.run_sync(lambda: stores.search(ids, search.query, top))
        else:  # nothing to search with (only tool outputs, say): the stores must still be readable
            await anyio.to_thread.run_sync(lambda: [stores.get(i) for i in ids])
    except NotFoundError as exc:
        raise ApiError(404, str(exc), param="tools", code="not_found") from None
    return search
