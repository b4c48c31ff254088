"""The plain values the vault hands out: frozen, typed, decrypted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from engine.vault.crypto import new_id


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Conversation:
    """A conversation's decrypted header."""

    id: str
    title: str
    model: str | None
    system_prompt: str | None
    subject: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    message_count: int
    collections: tuple[str, ...] = ()  # document collections its answers come from (the chat's picker)


@dataclass(frozen=True)
class Alternative:
    """One version of a regenerated reply."""

    content: str
    metadata: dict[str, Any] | None


@dataclass(frozen=True)
class Message:
    """One turn of a conversation. A regenerated reply keeps its earlier versions in `alternatives` (all of
    them, in the order written); `content` and `metadata` are those of the chosen one, `alternatives[active]`."""

    id: str
    conversation_id: str
    seq: int
    role: str
    content: str
    metadata: dict[str, Any] | None
    created_at: dt.datetime
    alternatives: tuple[Alternative, ...] = ()
    active: int = 0


@dataclass(frozen=True)
class SearchHit:
    """A search match: in a title (`message_id` is None) or in a message."""

    conversation_id: str
    message_id: str | None
    title: str
    role: str | None
    snippet: str
    match_at: int = -1  # where the query is in `snippet` (-1: not located, e.g. casefolding changed lengths)
    match_length: int = 0


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key's settings; the secret itself is never stored, only its hash."""

    id: str
    name: str
    models: tuple[str, ...] | None
    rpm: int | None
    tokens_per_day: int | None
    store_content: bool
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    label_replies: bool = True  # AI-content label on replies (header + field); only an admin turns it off
    expires_at: dt.datetime | None = None  # refused from this moment on; None: never expires
    reproducible: bool = False  # every request deterministic (seed 0 unless it sends one); see engine.runtime.batch
    train: bool = False  # may upload datasets and start fine-tuning jobs (/v1/files, /v1/fine_tuning/jobs)
    # Document collections this key may search (read) and fill (write, which implies read); "*" means all.
    # None by default: documents are the organisation's most sensitive data, so a key reaches them only when granted.
    collections: tuple[str, ...] = ()
    collections_write: tuple[str, ...] = ()
    # May chat with assistants that run the admin's always-allowed MCP tools server-side (off by default:
    # a tool reaches systems beyond the model).
    tools: bool = False

    @property
    def revoked(self) -> bool:
        """True once revoked."""
        return self.revoked_at is not None

    def expired(self, at: dt.datetime | None = None) -> bool:
        """True once the expiry time (if any) has passed."""
        return self.expires_at is not None and (at or _now()) >= self.expires_at

    def live(self, at: dt.datetime | None = None) -> bool:
        """Neither revoked nor expired: requests with it are served."""
        return not self.revoked and not self.expired(at)

    def may_read(self, collection: str) -> bool:
        """True when this key may search `collection` (a write rule includes reading)."""
        return self.may_write(collection) or "*" in self.collections or collection in self.collections

    def may_write(self, collection: str) -> bool:
        """True when this key may create, fill or delete `collection`."""
        return "*" in self.collections_write or collection in self.collections_write

    def allows_model(self, model: str) -> bool:
        """True when this key may use `model` (no list means every model)."""
        return self.models is None or model in self.models


PENDING_STATUS = 0  # a request logged before its response started, not (yet) completed


@dataclass(frozen=True)
class RequestLogEntry:
    """One API request as logged; texts are None when the key says not to store content."""

    key_name: str
    model: str
    status: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    request_text: str | None = None
    response_text: str | None = None
    time: dt.datetime = field(default_factory=_now)
    id: str = field(default_factory=new_id)
    upstream: str | None = None  # the upstream that served it (None: this machine)
    cached_prompt_tokens: int = 0  # of prompt_tokens, those taken from a cache instead of evaluated


@dataclass(frozen=True)
class AuditEntry:
    """One link of the audit chain."""

    id: str
    seq: int
    time: dt.datetime
    event: str
    actor: str
    details: dict[str, Any]
