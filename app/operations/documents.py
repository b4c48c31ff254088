"""Operations on document collections (the Documents page and document chat): each returns an unstarted
Task running one engine.documents call off the GUI thread."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from app.session import Session
from app.workers import StreamTask, Task
from engine.runtime import GenerationParams

SOURCES_PER_ANSWER = 5


def create_collection(owner: QObject, session: Session, name: str, *, purpose: str, keep_originals: bool) -> Task:
    """Create an empty collection (audited)."""
    library, actor = session.engine.documents, session.engine.actor.audit_name
    return Task(
        lambda _ctx: library.create_collection(name, keep_originals=keep_originals, purpose=purpose, actor=actor),
        owner,
    )


def remove_collection(owner: QObject, session: Session, name: str) -> Task:
    """Crypto-shred a collection and all its documents; the result is how many documents went."""
    library, actor = session.engine.documents, session.engine.actor.audit_name
    return Task(lambda _ctx: library.remove_collection(name, actor=actor), owner)


def add(owner: QObject, session: Session, paths: Sequence[Path], collection: str) -> Task:
    """Add files and folders (recursively) to `collection`; progress is (files done, files in all), the
    task's cancel stops before the next file; the result is the `ImportReport`."""
    library, actor = session.engine.documents, session.engine.actor.audit_name
    return Task(
        lambda ctx: library.add(
            list(paths), collection, actor=actor, progress=lambda done, total, _name: ctx.progress(done, total),
            cancel=ctx.cancel_event,
        ),
        owner,
    )


def remove_document(owner: QObject, session: Session, document_id: str) -> Task:
    """Crypto-shred one document."""
    library, actor = session.engine.documents, session.engine.actor.audit_name
    return Task(lambda _ctx: library.remove(document_id, actor=actor), owner)


def search(owner: QObject, session: Session, query: str, collections: Sequence[str], top: int = 10) -> Task:
    """Hybrid search; the result is a list of `SearchResult` (IndexNotReady while the index loads)."""
    library, actor = session.engine.documents, session.engine.actor.audit_name
    return Task(lambda _ctx: library.search(query, list(collections), top=top, actor=actor), owner)


def passage(owner: QObject, session: Session, document_id: str, quote: str, page: int | None) -> Task:
    """The section of a document holding a quoted passage (a `Passage`)."""
    library = session.engine.documents
    return Task(lambda _ctx: library.passage(document_id, quote, page), owner)


def ask(
    owner: QObject,
    session: Session,
    text: str,
    collections: Sequence[str],
    *,
    conversation_id: str | None,
    model: str | None,
    params: GenerationParams,
    system_prompt: str | None = None,
) -> StreamTask:
    """Answer `text` from `collections`, as `enclave chat --docs` does: search them, give the model the
    grounded prompt with the numbered sources (for this turn only: later turns search again), and stream
    the reply. The hits are on `task.sources` once
    the reply has started."""
    from engine.documents.answer import grounded_system_prompt

    library, chat, actor = session.engine.documents, session.chat, session.engine.actor.audit_name
    task: StreamTask

    def start(on_load: Any) -> Any:
        library.wait_ready()
        hits = library.search(text, list(collections), top=SOURCES_PER_ANSWER, actor=actor)
        task.sources = hits
        return chat.send(
            text, conversation_id=conversation_id, model=model, params=params, system_prompt=system_prompt,
            grounding=grounded_system_prompt(hits), on_load=on_load,
        )

    task = StreamTask(start, owner)
    task.sources = []
    return task
