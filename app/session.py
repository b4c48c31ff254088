"""The engine objects one desktop session works with, owned in one place and closed together."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.chat import ChatService
from engine.errors import UserError
from engine.handle import DESKTOP, Engine
from engine.models import ModelRecord, ModelRegistry
from engine.models.demo import ensure_demo_model
from engine.runtime import Runtime
from engine.vault import KdfParams, Vault

ACTOR = DESKTOP.audit_name  # how the audit log names what the desktop app did

# The wizard and the main window may both ask for the demo model; two assemblies at once would write
# the same `.part` file. (Across processes this needs a lock in the engine's registry.)
_DEMO_LOCK = threading.Lock()


def prepare_demo(registry: ModelRegistry, progress: Any = None) -> ModelRecord | None:
    """Assemble the bundled demo model once, and complete older records' facts (call from a worker: it
    takes seconds)."""
    with _DEMO_LOCK:
        record = ensure_demo_model(registry, progress)
    # A registry that cannot be written now: estimates guess the KV cache until it can.
    with contextlib.suppress(UserError, OSError):
        registry.complete_facts()
    return record


@dataclass
class Session:
    """The desktop's engine (registry, runtime, backends, the unlocked vault); views read `session.vault`
    each time (it can change)."""

    home: Path
    registry: ModelRegistry
    runtime: Runtime
    vault: Vault
    kdf: KdfParams | None = None  # None: the engine's default; tests pass the fast floor
    server: Any = None  # engine.api.server.ApiServer once started
    engine: Engine = field(init=False)
    chat: ChatService = field(init=False)

    def __post_init__(self) -> None:
        self.engine = Engine(self.runtime, self.vault, actor=DESKTOP, home=self.home)
        self.chat = self.engine.chat

    def replace_vault(self, vault: Vault) -> None:
        """Use a vault reopened by the recovery flow."""
        self.vault = vault
        self.engine.with_vault(vault)
        self.chat = self.engine.chat

    def close(self) -> None:
        """Stop the server, unload models, lock and close the vault."""
        if self.server is not None:
            try:
                self.server.stop()
            finally:
                self.server = None
        self.engine.close()  # backends (models unloaded, upstream connections), then the vault
