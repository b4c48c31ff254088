"""Every data category Enclave keeps, declared once: what it is, how it is protected, how it expires,
how a data subject's share of it is exported and erased, and how it is counted for the report.

Retention (engine.policy.retention), the processing record (engine.policy.report), subject export and
erasure (engine.policy.subjects) and the GUI read this table instead of listing categories themselves,
so a new category is one entry here and every one of them picks it up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.vault import Vault
from engine.vault.sqlite import Database
from engine.vault.store import iso

PurgeFn = Callable[[Database, Vault, dt.datetime, frozenset[str]], int]
CountFn = Callable[[Vault], int]
# (vault, subject or None for everything) -> export parts: (name, JSON document)
ExportFn = Callable[[Vault, str | None], list[tuple[str, dict[str, Any]]]]
# (vault, subject or None for everything, actor) -> how many records went
EraseFn = Callable[[Vault, str | None, str], int]


@dataclass(frozen=True)
class DataCategory:
    """One kind of data and every rule that applies to it."""

    name: str
    description: str
    protection: str
    count: CountFn
    purge: PurgeFn | None = None  # None: no retention rule (kept until revoked or erased)
    min_days: int | None = None  # the shortest retention an administrator may set
    export: ExportFn | None = None  # subject access / portability
    erase: EraseFn | None = None  # subject erasure
    retention_note: str | None = None  # what the report says when there is no retention rule
    gui_retention: bool = False  # set by the one retention choice of the desktop's Privacy view


def _documents_export(vault: Vault, subject: str | None) -> list[tuple[str, dict[str, Any]]]:
    collections = {c.id: c.name for c in vault.documents.collections()}
    parts = []
    for doc in vault.documents.documents():
        if subject is not None and doc.subject != subject:
            continue
        parts.append(
            (
                doc.id,
                {
                    "format": "enclave-document",
                    "version": 1,
                    "id": doc.id,
                    "name": doc.name,
                    "collection": collections.get(doc.collection_id),
                    "subject": doc.subject,
                    "pages": doc.pages,
                    "added_at": doc.created_at,
                    "sections": vault.documents.sections(doc.id),
                },
            )
        )
    return parts


def _documents_erase(vault: Vault, subject: str | None, actor: str) -> int:
    ids = [d.id for d in vault.documents.documents() if subject is None or d.subject == subject]
    if ids:
        vault.documents.remove(ids)
        details = {"subject": subject} if subject is not None else {"all": True}
        vault.audit.append("documents_remove", actor=actor, details={**details, "documents": ids})
    return len(ids)


CATEGORIES: tuple[DataCategory, ...] = (
    DataCategory(
        "conversations",
        "desktop and CLI conversations (prompts, replies, titles, subjects)",
        "AES-256-GCM, one data key per conversation (erasure destroys the key)",
        count=lambda v: len(v.conversations.list()),
        purge=lambda db, v, cutoff, held: v.conversations.expire_in(db, iso(cutoff), held),
        gui_retention=True,
    ),
    DataCategory(
        "api_content",
        "prompt and reply texts of API requests, and stored Responses API replies",
        "AES-256-GCM, one data key per UTC day (stored Responses: one per response); "
        "not stored for keys marked no-store",
        count=lambda v: v.request_log.count() + v.responses.count(),
        # Stored Responses are API content too: they expire with it.
        purge=lambda db, v, cutoff, held: (
            v.request_log.shred_content_before_in(db, cutoff) + v.responses.expire_in(db, cutoff)
        ),
        gui_retention=True,
    ),
    DataCategory(
        "api_metadata",
        "API request records: key name, model, status, token counts, latency",
        "AES-256-GCM under the request-log key",
        count=lambda v: v.request_log.count(),
        purge=lambda db, v, cutoff, held: v.request_log.delete_before_in(db, cutoff),
        gui_retention=True,
    ),
    DataCategory(
        "documents",
        "documents added to collections: original files (if kept), extracted text, chunks, embedding vectors",
        "AES-256-GCM, one data key per document (removal destroys the key); search index only in memory",
        count=lambda v: v.documents.counts()[0],
        purge=lambda db, v, cutoff, held: len(v.documents.expire_in(db, iso(cutoff), held)),
        export=_documents_export,
        erase=_documents_erase,
    ),
    DataCategory(
        "audit",
        "the audit log of security events",
        "AES-256-GCM; each entry HMAC-chained to the previous one",
        count=lambda v: len(v.audit.entries()),
        purge=lambda db, v, cutoff, held: v.audit.drop_before_in(db, cutoff),
        # Audit entries are the evidence the rest was handled properly: they cannot expire sooner.
        min_days=30,
    ),
    DataCategory(
        "training_datasets",
        "fine-tuning datasets: conversations in OpenAI's format, with data-subject labels",
        "AES-256-GCM, one data key per dataset (removal destroys the key); read into memory only",
        count=lambda v: len(v.datasets.list()),
        # A subject's rows go with the subject through the training room's eraser (engine.training), which
        # also withdraws the adapters trained on them from serving.
        retention_note="kept until removed (`enclave datasets remove`); a data subject's rows go with the subject",
    ),
    DataCategory(
        "adapters",
        "LoRA adapters trained on those datasets, their checkpoints and training records",
        "AES-256-GCM, one data key per training job; decrypted into memory to load, never a file",
        count=lambda v: len(v.training_jobs.list()),
        retention_note="kept until the adapted model is removed; withdrawn from serving when a subject whose "
        "data trained it is erased",
    ),
    DataCategory(
        "api_keys",
        "API key names and rules; the secret only as a SHA-256 hash",
        "AES-256-GCM; secrets shown once, never stored",
        count=lambda v: len(v.api_keys.list()),
        retention_note="kept until revoked; revoked keys stay listed for the audit trail",
    ),
)

BY_NAME = {c.name: c for c in CATEGORIES}
RETAINED = tuple(c.name for c in CATEGORIES if c.purge is not None)


def category(name: str) -> DataCategory:
    """The declared category `name`; KeyError for an unknown one."""
    return BY_NAME[name]
