"""The vault: everything Enclave keeps, encrypted in one SQLite file (see ARCHITECTURE.md, Data at rest)."""

from engine.vault.core import Vault
from engine.vault.header import DEFAULT_KDF, FLOOR, KdfParams
from engine.vault.records import ApiKeyRecord, AuditEntry, Conversation, Message, RequestLogEntry, SearchHit

__all__ = [
    "DEFAULT_KDF",
    "FLOOR",
    "ApiKeyRecord",
    "AuditEntry",
    "Conversation",
    "KdfParams",
    "Message",
    "RequestLogEntry",
    "SearchHit",
    "Vault",
]
