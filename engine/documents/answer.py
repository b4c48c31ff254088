"""Answering from documents: the grounded prompt with numbered sources, and the sources as shown after
an answer. The model is told to answer only from the sources, cite them as [1], [2], and say so when
they do not contain the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.documents.library import SearchResult

MAX_SOURCE_CHARS = 1500
INSTRUCTIONS = (
    "Answer the question using only the numbered sources below. Cite the sources you use inline as [1], [2] "
    "and so on. If the sources do not contain the answer, say that the documents do not answer it; do not "
    "guess or use outside knowledge. Answer in the language of the question."
)


def source_block(hits: Sequence[SearchResult]) -> str:
    """The numbered sources as the model reads them."""
    blocks = []
    for number, hit in enumerate(hits, start=1):
        where = hit.document + (f", page {hit.page}" if hit.page else "")
        text = hit.text if len(hit.text) <= MAX_SOURCE_CHARS else hit.text[:MAX_SOURCE_CHARS] + " …"
        blocks.append(f"[{number}] ({where})\n{text}")
    return "\n\n".join(blocks)


def grounded_system_prompt(hits: Sequence[SearchResult], base: str | None = None) -> str:
    """A system prompt holding the instructions (after an assistant's own, if any) and the sources."""
    head = f"{base.strip()}\n\n{INSTRUCTIONS}" if base and base.strip() else INSTRUCTIONS
    sources = source_block(hits) if hits else "(no passage of the documents matched the question)"
    return f"{head}\n\nSources:\n\n{sources}"


def citations(hits: Sequence[SearchResult]) -> list[dict[str, Any]]:
    """The sources as API responses carry them (`enclave_citations`) and front-ends list them."""
    return [
        {
            "index": number,
            "document": hit.document,
            "document_id": hit.document_id,
            "collection": hit.collection,
            "page": hit.page,
            "quote": hit.text,
            "score": round(hit.score, 6),
        }
        for number, hit in enumerate(hits, start=1)
    ]


def render_sources(hits: Sequence[SearchResult], width: int = 160) -> str:
    """Sources as the CLI prints them under an answer."""
    lines = ["Sources:"]
    for number, hit in enumerate(hits, start=1):
        where = hit.document + (f", page {hit.page}" if hit.page else "")
        quote = " ".join(hit.text.split())
        quote = quote if len(quote) <= width else quote[: width - 1] + "…"
        lines.append(f"[{number}] {where}: “{quote}”")
    return "\n".join(lines)
