"""Data subjects: tag conversations with a person's label, then export (access, portability) or erase them.

An export bundle is a folder anyone can read and another system can import: one pretty-printed JSON file
per conversation (OpenAI `messages` plus metadata, each assistant reply with its AI-content label) and a
`manifest.json` saying what was exported, when, by whom, and the SHA-256 of every part.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine import __version__
from engine.errors import IntegrityError, UserError
from engine.fileio import fsync_dir, write_atomic
from engine.policy.audit_events import record, require_admin_actor
from engine.policy.categories import CATEGORIES
from engine.policy.labels import export_label
from engine.vault import Conversation, Vault
from engine.vault.documents import DocumentRecord

BUNDLE_FORMAT = "enclave-subject-export"
MANIFEST = "manifest.json"
PARTS_DIR = "conversations"


@dataclass(frozen=True)
class Selection:
    """Which conversations: a subject label, a search match, or all of them (exactly one)."""

    subject: str | None = None
    match: str | None = None
    all: bool = False

    def validated(self) -> Selection:
        """Self, or a UserError when not exactly one way of choosing is given."""
        if sum((self.subject is not None, self.match is not None, self.all)) != 1:
            raise UserError("choose conversations by exactly one of: a subject, a search match, or all")
        if self.subject is not None and not self.subject.strip():
            raise UserError("a subject label cannot be empty")
        if self.match is not None and not self.match.strip():
            raise UserError("a search match cannot be empty")
        return self

    def describe(self) -> dict[str, Any]:
        """How the manifest and the audit log name the selection (the audit log is encrypted)."""
        if self.all:
            return {"all": True}
        return {"subject": self.subject} if self.subject is not None else {"match": self.match}


def tag(vault: Vault, conversation_ids: list[str], subject: str | None, *, actor: str) -> list[Conversation]:
    """Set (or with None clear) the subject label of conversations; audited."""
    require_admin_actor(actor)
    if subject is not None and not subject.strip():
        raise UserError("a subject label cannot be empty")
    label = subject.strip() if subject is not None else None
    changed = [vault.conversations.set_subject(conv_id, label) for conv_id in conversation_ids]
    record(vault, "subject_tag", actor=actor, details={"subject": label, "conversations": conversation_ids})
    return changed


def tag_documents(vault: Vault, document_ids: list[str], subject: str | None, *, actor: str) -> list[DocumentRecord]:
    """Set (or with None clear) the subject label of documents; audited."""
    require_admin_actor(actor)
    if subject is not None and not subject.strip():
        raise UserError("a subject label cannot be empty")
    label = subject.strip() if subject is not None else None
    changed = [vault.documents.set_subject(doc_id, label) for doc_id in document_ids]
    record(vault, "documents_tag", actor=actor, details={"subject": label, "documents": document_ids})
    return changed


def subjects(vault: Vault) -> dict[str, int]:
    """Every subject label in use and how many conversations and documents carry it."""
    counts: dict[str, int] = {}
    labels = [c.subject for c in vault.conversations.list()] + [d.subject for d in vault.documents.documents()]
    for label in labels:
        if label:
            counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


def select(vault: Vault, selection: Selection) -> list[Conversation]:
    """The conversations a selection names, oldest first."""
    selection.validated()
    conversations = vault.conversations.list()
    if selection.subject is not None:
        conversations = [c for c in conversations if c.subject == selection.subject.strip()]
    elif selection.match is not None:
        hits = {h.conversation_id for h in vault.conversations.search(selection.match, limit=100_000)}
        conversations = [c for c in conversations if c.id in hits]
    return sorted(conversations, key=lambda c: (c.created_at, c.id))


def _canonical(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def conversation_document(vault: Vault, conv: Conversation) -> dict[str, Any]:
    """One conversation as an export part: OpenAI messages, and per message its time and label."""
    messages = vault.conversations.messages(conv.id)
    openai: list[dict[str, Any]] = []
    if conv.system_prompt:
        openai.append({"role": "system", "content": conv.system_prompt})
    openai += [{"role": m.role, "content": m.content} for m in messages]
    details = []
    for m in messages:
        item: dict[str, Any] = {"seq": m.seq, "role": m.role, "created_at": m.created_at.isoformat()}
        if m.role == "assistant":
            item["label"] = export_label(m.metadata)
        item["metadata"] = m.metadata
        details.append(item)
    return {
        "format": "enclave-conversation",
        "version": 1,
        "id": conv.id,
        "title": conv.title,
        "model": conv.model,
        "subject": conv.subject,
        "created_at": conv.created_at.isoformat(),
        "updated_at": conv.updated_at.isoformat(),
        "messages": openai,
        "message_details": details,
    }


def export_bundle(vault: Vault, out: Path, selection: Selection, *, actor: str) -> dict[str, Any]:
    """Write the selected conversations and a manifest into the folder `out` (new or empty); returns the manifest."""
    selection.validated()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not an empty folder; give a new folder for the export")
    chosen = select(vault, selection)
    (out / PARTS_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)
    parts = []
    for conv in chosen:
        data = _canonical(conversation_document(vault, conv))
        name = f"{PARTS_DIR}/{conv.id}.json"
        write_atomic(out / name, data)
        parts.append(
            {
                "path": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "conversation_id": conv.id,
            }
        )
    fsync_dir(out / PARTS_DIR)
    extra_counts: dict[str, int] = {}
    if selection.match is None:  # the other categories carry subject labels, not searchable text
        for category in CATEGORIES:
            if category.export is None:
                continue
            found = category.export(vault, None if selection.all else selection.subject)
            extra_counts[category.name] = len(found)
            if found:
                (out / category.name).mkdir(parents=True, exist_ok=True, mode=0o700)
            for item_id, document in found:
                data = _canonical(document)
                name = f"{category.name}/{item_id}.json"
                write_atomic(out / name, data)
                parts.append(
                    {
                        "path": name,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data),
                        "category": category.name,
                    }
                )
            if found:
                fsync_dir(out / category.name)
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": 1,
        "encrypted": False,
        "what": {
            **selection.describe(),
            "conversations": len(chosen),
            "messages": sum(c.message_count for c in chosen),
            **extra_counts,
        },
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "exported_by": {
            "actor": actor,
            "os_user": _os_user(),
            "host": platform.node(),
            "producer": "Enclave " + __version__,
        },
        "notice": "Plaintext copy of personal data. Replies marked 'AI-generated' were produced by a language model.",
        "parts": parts,
    }
    write_atomic(out / MANIFEST, _canonical(manifest))
    fsync_dir(out)
    details = {**selection.describe(), "conversations": len(chosen), **extra_counts, "folder": out.name, "bundle": True}
    record(vault, "export", actor=actor, details=details)
    return manifest


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def read_bundle(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The manifest and every part, after checking each part's SHA-256; IntegrityError on a mismatch."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{folder} is not an Enclave export (no readable {MANIFEST})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise UserError(f"{folder} is not an Enclave subject export")
    documents = []
    for part in manifest.get("parts", []):
        path = (folder / str(part["path"])).resolve()
        if folder.resolve() not in path.parents:
            raise IntegrityError(f"manifest part {part['path']!r} points outside the export folder")
        try:
            data = path.read_bytes()
        except OSError:
            raise IntegrityError(f"export part {part['path']} is missing") from None
        if hashlib.sha256(data).hexdigest() != part["sha256"]:
            raise IntegrityError(f"export part {part['path']} does not match its SHA-256 in the manifest")
        documents.append(json.loads(data))
    return manifest, documents


def import_bundle(vault: Vault, folder: Path, *, actor: str) -> list[Conversation]:
    """Recreate the conversations of a checked export bundle (new ids); returns them."""
    _, documents = read_bundle(folder)
    created = []
    for doc in documents:
        if doc.get("format") != "enclave-conversation":
            continue  # documents are exported for the person to read, not re-imported
        messages = list(doc["messages"])
        system = messages.pop(0)["content"] if messages and messages[0]["role"] == "system" else None
        conv = vault.conversations.create(
            doc["title"], model=doc.get("model"), system_prompt=system, subject=doc.get("subject")
        )
        details = doc.get("message_details") or [{} for _ in messages]
        for message, extra in zip(messages, details, strict=True):
            vault.conversations.add_message(
                conv.id, message["role"], message["content"], metadata=extra.get("metadata")
            )
        created.append(vault.conversations.get(conv.id))
    record(vault, "import", actor=actor, details={"folder": Path(folder).name, "conversations": len(created)})
    return created


class SubjectEraser(Protocol):
    """Another room holding a subject's data by label (training: dataset rows and the adapters they made)."""

    def erase_subject(self, label: str, *, actor: str) -> dict[str, Any]:
        """Erase what is tagged `label`; returns what was done, for the caller to show."""
        ...


@dataclass(frozen=True)
class Erased:
    """What an erasure removed."""

    conversations: int
    api_requests: int  # logged API requests whose texts were erased, and stored Responses deleted
    elsewhere: dict[str, Any] = field(default_factory=dict)  # what other rooms did (training rows, adapters)
    others: dict[str, int] = field(default_factory=dict)  # per declared category: records erased


def erase(
    vault: Vault, selection: Selection, *, actor: str, erasers: Sequence[SubjectEraser] = ()
) -> Erased:
    """Crypto-shred the selected conversations together, and erase the texts of the API requests the
    selection covers: those containing the search match, or all of them. API requests carry no subject
    label, so a selection by label leaves the request log alone. One audit event for each part.
    """
    require_admin_actor(actor)
    ids = [c.id for c in select(vault, selection)]
    api_requests = 0
    if selection.subject is None:
        # The person's words sent through the API are theirs too; the request metadata stays.
        api_requests = vault.request_log.erase_texts(None if selection.all else selection.match)
        api_requests += vault.responses.erase(None if selection.all else selection.match)  # stored Responses
        record(vault, "api_content_erase", actor=actor, details={**selection.describe(), "count": api_requests})
    conversations = vault.conversations.erase_many(ids, actor=actor, details=selection.describe())
    others: dict[str, int] = {}
    if selection.match is None:
        for category in CATEGORIES:
            if category.erase is not None:
                others[category.name] = category.erase(vault, None if selection.all else selection.subject, actor)
    # Rooms that must also act beyond the vault (training withdraws adapters from serving) erase themselves.
    elsewhere: dict[str, Any] = {}
    if selection.subject is not None:
        for eraser in erasers:
            elsewhere.update(eraser.erase_subject(selection.subject.strip(), actor=actor))
    return Erased(conversations, api_requests, elsewhere, others)
