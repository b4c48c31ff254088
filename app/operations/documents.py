"""Operations on document collections (the Documents page and document chat): each returns an unstarted
Task running one engine.documents call off the GUI thread."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject

from app.session import Session
from app.workers import StreamTask, Task
from engine.documents.answer import citations
from engine.documents.stores import UPLOADS
from engine.runtime import GenerationParams

translate = QCoreApplication.translate  # lupdate reads `translate("Context", "text")` calls too


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
    """Answer `text` from `collections` through the engine's one document-chat path (`engine.documents.answer.ask`,
    as `enclave chat --docs` does): the sources serve this turn only, their citations are stored with the
    reply, and the collections with the conversation. The hits are on `task.sources` once the reply has
    started."""
    from engine.documents.answer import ask as ask_documents

    library, chat, actor = session.engine.documents, session.chat, session.engine.actor.audit_name
    task: StreamTask

    def start(on_load: Any) -> Any:
        asked = ask_documents(library, chat, text, collections, actor=actor, conversation_id=conversation_id,
                              model=model, params=params, system_prompt=system_prompt, on_load=on_load)
        task.sources = citations(asked.sources)
        return asked.turn

    task = StreamTask(start, owner)
    task.sources = []
    return task


def regenerate(
    owner: QObject, session: Session, conversation_id: str, collections: Sequence[str], model: str | None,
    params: GenerationParams,
) -> StreamTask:
    """Stream a new version of the last answer from `collections` (searched again), with its own sources."""
    from engine.documents.answer import regenerate as regenerate_answer

    library, chat, actor = session.engine.documents, session.chat, session.engine.actor.audit_name
    return StreamTask(
        lambda on_load: regenerate_answer(library, chat, conversation_id, collections, actor=actor, model=model,
                                          params=params, on_load=on_load).turn,
        owner,
    )


def choose_collections(session: Session, conversation_id: str | None, names: Sequence[str]) -> None:
    """Remember the collections a stored conversation answers from (sealed with it); a new chat keeps
    them until its first turn stores the conversation."""
    if conversation_id is not None and not session.vault.is_locked:
        conversations = session.vault.conversations
        if list(conversations.get(conversation_id).collections) != list(names):
            conversations.set_collections(conversation_id, list(names))


def stored_collections(session: Session, conversation_id: str) -> list[str]:
    """The collections a stored conversation answers from, those that still exist."""
    existing = {c.name for c in session.engine.documents.collections()}
    return [n for n in session.vault.conversations.get(conversation_id).collections if n in existing]


def stored_sources(metadata: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The citations stored with a reply from documents (None: the reply was not from documents)."""
    sources = (metadata or {}).get("sources")
    return [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else None


# -- how collections are shown --------------------------------------------------------------------------
# The collection that holds files uploaded through the OpenAI Files API (engine.documents.stores.UPLOADS)
# is the API's, not a library someone built: it is listed (its files are the organisation's data, to see
# and remove) under a plain title, and not offered in chat (its files are kept unindexed until a vector
# store takes them, so there is nothing to answer from).


def is_api_uploads(name: str) -> bool:
    """Whether `name` is the collection backing the OpenAI Files API."""
    return name == UPLOADS


def collection_title(name: str) -> str:
    """A collection's name as people see it."""
    if is_api_uploads(name):
        return translate("Documents", "Files uploaded through the API")
    return name


def collection_purpose(name: str, purpose: str) -> str:
    """A collection's purpose as people see it (the API's own collection: said in their language)."""
    if is_api_uploads(name):
        return translate("Documents",
                         "files programs uploaded through the OpenAI Files API, kept until added to a vector store")
    return purpose


def chat_collections(session: Session) -> list[str]:
    """The collections a chat can answer from."""
    if session.vault.is_locked:
        return []
    return [c.name for c in session.engine.documents.collections() if not is_api_uploads(c.name)]


def collection_names(session: Session) -> dict[str, str]:
    """Collection id -> title, to show audit entries (the chain keeps ids only: names may be personal)."""
    if session.vault.is_locked:
        return {}
    return {c.id: collection_title(c.name) for c in session.engine.documents.collections()}
