"""Answering from documents: the grounded prompt with numbered sources, and the sources as shown after
an answer. The model is told to answer only from the sources, cite them as [1], [2], and say so when
they do not contain the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.chat import ChatService, Turn
from engine.documents.library import DocumentLibrary, SearchResult
from engine.errors import UserError
from engine.runtime import GenerationParams, LoadListener

MAX_SOURCE_CHARS = 1500
SOURCES_PER_ANSWER = 5
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
    return render_citations(citations(hits), width)


def render_citations(sources: Sequence[dict[str, Any]], width: int = 160) -> str:
    """Stored citations (a reply's `sources` metadata) as the CLI prints them under an answer."""
    if not sources:
        return "Sources: none of the documents matched the question"
    lines = ["Sources:"]
    for source in sources:
        page = source.get("page")
        where = str(source.get("document", "")) + (f", page {page}" if page else "")
        quote = " ".join(str(source.get("quote", "")).split())
        quote = quote if len(quote) <= width else quote[: width - 1] + "…"
        lines.append(f"[{source.get('index', '?')}] {where}: “{quote}”")
    return "\n".join(lines)


@dataclass
class DocumentTurn:
    """A reply from documents being generated (`turn`) and the passages it was given (`sources`)."""

    turn: Turn
    sources: list[SearchResult]


def ask(
    library: DocumentLibrary,
    chat: ChatService,
    prompt: str,
    collections: Sequence[str],
    *,
    actor: str,
    conversation_id: str | None = None,
    model: str | None = None,
    params: GenerationParams | None = None,
    system_prompt: str | None = None,
    on_load: LoadListener | None = None,
    top: int = SOURCES_PER_ANSWER,
) -> DocumentTurn:
    """Answer `prompt` from `collections` (the desktop's and `enclave chat --docs`' one path): search them,
    give the model the sources for this turn only (later turns search again), store their citations with
    the reply and the collections with the conversation, so that reopening it shows both again."""
    names = list(collections)
    library.wait_ready()
    hits = library.search(prompt, names, top=top, actor=actor)
    turn = chat.send(
        prompt, conversation_id=conversation_id, model=model, params=params, system_prompt=system_prompt,
        grounding=grounded_system_prompt(hits), sources=citations(hits), on_load=on_load,
    )
    vault, stored = chat.vault, turn.conversation_id
    if vault is not None and stored is not None and list(vault.conversations.get(stored).collections) != names:
        vault.conversations.set_collections(stored, names)
    return DocumentTurn(turn, hits)


def regenerate(
    library: DocumentLibrary,
    chat: ChatService,
    conversation_id: str,
    collections: Sequence[str],
    *,
    actor: str,
    model: str | None = None,
    params: GenerationParams | None = None,
    on_load: LoadListener | None = None,
    top: int = SOURCES_PER_ANSWER,
) -> DocumentTurn:
    """Write the last answer from documents again: its question searched again in `collections`, the new
    version stored with its own sources beside the earlier ones."""
    prompt = chat.last_prompt(conversation_id)
    if prompt is None:
        raise UserError("the conversation has no question to answer again")
    library.wait_ready()
    hits = library.search(prompt, list(collections), top=top, actor=actor)
    turn = chat.regenerate(conversation_id, model=model, params=params, on_load=on_load,
                           grounding=grounded_system_prompt(hits), sources=citations(hits))
    return DocumentTurn(turn, hits)
