"""The parts of the vault a seam needs, as Protocols: callers type against these, not `Any`.

`engine.vault.Vault` satisfies every one; a test may pass anything that has the same attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol, TypeVar

from engine.vault.api_keys import ApiKeys
from engine.vault.audit import AuditLog
from engine.vault.conversations import Conversations
from engine.vault.request_log import RequestLog
from engine.vault.settings import Settings

T = TypeVar("T")


class SettingsVault(Protocol):
    """Encrypted settings (upstream definitions, policy switches)."""

    @property
    def settings(self) -> Settings:
        """The encrypted key/value settings."""
        ...


class AuditVault(Protocol):
    """The audit chain."""

    @property
    def audit(self) -> AuditLog:
        """The append-only, hash-chained audit log."""
        ...


class ServingVault(SettingsVault, AuditVault, Protocol):
    """What the HTTP endpoint needs: keys, request log, settings, audit, and the vault's own thread."""

    @property
    def api_keys(self) -> ApiKeys:
        """API keys and their rules."""
        ...

    @property
    def request_log(self) -> RequestLog:
        """The encrypted request log."""
        ...

    def schedule(self, fn: Callable[[], T]) -> Future[T]:
        """Run `fn()` on the vault's own thread."""
        ...


class ConversationVault(AuditVault, Protocol):
    """Conversations (chat history)."""

    @property
    def conversations(self) -> Conversations:
        """The encrypted conversations."""
        ...
