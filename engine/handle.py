"""`Engine`: one object opened with a data folder and an actor, owning everything below it.

    with Engine.open(actor=COMMAND_LINE, passphrase=...) as engine:   # CLI, `enclave serve`
        turn = engine.chat.send("Hello", model="cluster/llama")       # any backend's model
    engine = Engine(runtime, vault, actor=DESKTOP)                     # the GUI session, tests

It owns the model registry, the runtime, the vault (None when none exists yet: chat works, history is
not kept), the backends (`engine.backends`: local first, then upstreams; a paired server is one more
`Backend` added with `engine.backends.add(...)`), the key policy (`engine.policy`: budgets survive
across requests), and the chat service. Policy operations are bound to the actor: `engine.resolve(name)`
applies the key's model rule (for an API key's view, `engine.for_key(record)`), the model allowlist,
and audits refusals in the actor's name.

Operations bound to the actor: `engine.keys` (create / revoke / list API keys), `engine.upstreams`
(add / remove / list / with_health) and `engine.model_admin` (load / unload / remove / set_default),
audited in the actor's name; an API key's view may not use them.

Rooms attach as attributes built from the engine (`engine.documents`, `engine.training`,
`engine.remotes`): a room is a class whose constructor takes the `Engine`, exposed here as a
`functools.cached_property` (imported inside it, so rooms cost nothing until used). The views an
API key gets (`for_key`) share the owner's resources and rooms and are never closed themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from engine import paths
from engine.backends import Backend, Backends, LocalBackend, ModelRef, RemoteBackend, UpstreamBackend
from engine.chat import ChatService
from engine.errors import UserError
from engine.models.registry import ModelRecord, ModelRegistry
from engine.policy import allowlist
from engine.policy.audit_events import record as record_event
from engine.policy.audit_events import require_admin_actor
from engine.policy.audit_events import unlock as audited_unlock
from engine.policy.keys import KeyPolicy, issue_key, revoke_key
from engine.policy.limits import ModelNotAllowed
from engine.runtime import LoadListener, Runtime
from engine.upstreams import Upstream, UpstreamStatus, add_upstream, list_upstreams, list_with_health, remove_upstream
from engine.vault import ApiKeyRecord, Vault
from engine.vault.errors import VaultMissing

if TYPE_CHECKING:
    from engine.documents.library import DocumentLibrary
    from engine.documents.stores import VectorStores
    from engine.tools import Tools
    from engine.training.jobs import Training


@dataclass(frozen=True)
class Actor:
    """Who acts through an engine: the desktop app, the command line, the server, or an API key."""

    kind: str  # "gui", "cli", "serve", "api"
    key_name: str = ""

    @property
    def audit_name(self) -> str:
        """How the audit log names it (`gui`, `cli`, `serve`, `api:NAME`)."""
        return f"api:{self.key_name}" if self.kind == "api" else self.kind

    @classmethod
    def api_key(cls, name: str) -> Actor:
        """The actor of requests made with API key `name`."""
        return cls("api", name)


DESKTOP = Actor("gui")
COMMAND_LINE = Actor("cli")
SERVER = Actor("serve")


class Engine:
    """Registry, runtime, vault, backends, policy and chat, opened for one actor."""

    def __init__(
        self,
        runtime: Runtime,
        vault: Vault | None,
        *,
        actor: Actor,
        home: Path | None = None,
        owns: bool = True,
    ) -> None:
        """Assemble an engine from parts already open; `owns=False` leaves closing them to the caller."""
        self.home = home or (vault.home if vault is not None else paths.enclave_home())
        self.registry = runtime.registry
        self.runtime = runtime
        self.vault = vault
        self.actor = actor
        self.key: ApiKeyRecord | None = None  # set on an API key's view (for_key)
        self._owns = owns  # False: a view of another engine, which closes the shared parts
        self.backends = self._backends(vault)
        if vault is not None:
            runtime.adapters = self  # adapted models' LoRA adapters are sealed in the vault (engine.training)
        self.chat = ChatService(self)

    def _backends(self, vault: Vault | None) -> Backends:
        """Local models first (a local name wins), then those the vault defines: upstreams (and a new
        remote kind, such as a paired server, is added here)."""
        backends = Backends(LocalBackend(self.runtime))
        if vault is not None:
            backends.add(UpstreamBackend(vault))
            backends.add(RemoteBackend(vault))  # the organisation's paired servers (SERVER/MODEL)
            from engine.documents.assistant_backend import AssistantBackend

            # Assistants last: a model's own name always wins; the base model is any other backend's.
            backends.add(AssistantBackend(self, lambda name: self.backends.resolve(name)))
        return backends

    # -- opening and closing ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        home: Path | None = None,
        *,
        actor: Actor,
        passphrase: str | Callable[[], str] | None = None,
        vault_required: bool = True,
        demo_model: bool = True,
        runtime_options: dict[str, Any] | None = None,
    ) -> Engine:
        """Open the data folder: the registry (with the demo model), the runtime, the vault unlocked.

        `passphrase` may be a callable, asked only when a vault exists. Without a vault, `vault_required`
        decides between an error and an engine that keeps no history.
        """
        home = home or paths.enclave_home()
        registry = ModelRegistry()
        if demo_model:
            from engine.models.demo import ensure_demo_model

            ensure_demo_model(registry)
            registry.complete_facts()
        vault: Vault | None = None
        if Vault.exists(home):
            secret = passphrase() if callable(passphrase) else passphrase
            if secret is None:
                raise UserError("the vault needs its passphrase")
            vault = audited_unlock(home, secret, actor=actor.audit_name)  # failed attempts are audited
        elif vault_required:
            raise VaultMissing
        try:
            runtime = Runtime(registry, **(runtime_options or {}))
        except BaseException:
            if vault is not None:
                vault.close()
            raise
        return cls(runtime, vault, actor=actor, home=home)

    def close(self) -> None:
        """Close the backends (unloading models), then the vault; a view closes nothing."""
        if not self._owns:
            return
        if "documents" in self.__dict__:  # the embedders and the decrypted index go first
            self.__dict__["documents"].close()
        self.backends.close()
        self.runtime.close()  # closed by the local backend already; again is harmless
        if self.vault is not None:
            self.vault.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def for_key(self, key: ApiKeyRecord) -> Engine:
        """A view acting as API key `key`: the same resources, its rules applied, its name audited."""
        if self.vault is not None:
            _ = self.policy  # built on the owner first: every view shares its budgets
        view = Engine.__new__(Engine)
        view.__dict__.update(self.__dict__)
        view.actor, view.key, view._owns = Actor.api_key(key.name), key, False
        for bound in ("keys", "upstreams", "model_admin", "tools", "vector_stores"):  # bound to the owner's actor
            view.__dict__.pop(bound, None)
        view.chat = ChatService(view)
        return view

    def acting_as(self, actor: Actor) -> Engine:
        """A view of this engine acting as `actor` (e.g. the command line through the server's admin
        channel): the same resources, operations audited in its name, never closed itself."""
        if actor.kind == "api":
            raise ValueError("use for_key for an API key's view")
        view = Engine.__new__(Engine)
        view.__dict__.update(self.__dict__)
        view.actor, view.key, view._owns = actor, None, False
        for bound in ("keys", "upstreams", "model_admin", "vector_stores"):  # bound to the owner's actor
            view.__dict__.pop(bound, None)
        view.chat = ChatService(view)
        return view

    def with_vault(self, vault: Vault) -> None:
        """Use a vault reopened (the recovery flow) in place of the current one."""
        self.vault = vault
        for backend in self.backends:
            if backend.name != LocalBackend.name:  # those reading the old vault; the runtime stays
                backend.close()
        self.backends = self._backends(vault)
        if "documents" in self.__dict__:
            self.__dict__.pop("documents").close()
        for cached in ("policy", "keys", "upstreams", "model_admin", "tools", "training", "vector_stores"):
            self.__dict__.pop(cached, None)
        self.runtime.adapters = self
        self.chat = ChatService(self)

    # -- rooms ----------------------------------------------------------------------------------------

    @cached_property
    def documents(self) -> DocumentLibrary:
        """Document collections, their import and hybrid search (needs the vault); shared by key views."""
        from engine.documents.library import DocumentLibrary

        return DocumentLibrary(self.require_vault(), self.registry)

    @cached_property
    def vector_stores(self) -> VectorStores:
        """OpenAI's Files and Vector Stores over collections, under this view's key rules (all for the engine)."""
        from engine.documents.stores import VectorStores

        return VectorStores(self.documents, self.key, self.actor.audit_name)

    @cached_property
    def training(self) -> Training:
        """Fine-tuning: datasets, training jobs, adapted models (needs the vault: it holds all of them)."""
        from engine.training.jobs import Training

        if self.vault is None:
            raise UserError("fine-tuning keeps its data in the vault; run `enclave init` first")
        return Training(self.vault, self.registry, actor=self.actor.audit_name, runtime=self.runtime)

    def adapter_bytes(self, record: ModelRecord) -> bytes:
        """An adapted model's LoRA adapter, decrypted from the vault (the runtime's AdapterSource)."""
        return self.training.adapter_bytes(record)

    # -- policy bound to the actor ------------------------------------------------------------------

    @cached_property
    def policy(self) -> KeyPolicy:
        """API-key rules and today's token budgets (one per engine, shared by its key views)."""
        if self.vault is None:
            raise UserError("API keys need the vault; run `enclave init` first")
        return KeyPolicy(self.vault.api_keys)

    def audit(self, event: str, details: dict[str, Any] | None = None) -> None:
        """Record `event` in the audit log in this actor's name (nothing without a vault)."""
        if self.vault is not None:
            record_event(self.vault, event, actor=self.actor.audit_name, details=details)

    def resolve(self, name: str | None) -> tuple[Backend, ModelRef]:
        """The backend and model for `name` (None: the default local model), if this actor may use it.

        NotFoundError for an unknown name; ModelNotAllowed (audited) when an API key may not use it or
        the allowlist refuses a local model.
        """
        if name is None:
            name = self.registry.resolve(None).name
        backend, ref = self.backends.resolve(name)
        if self.key is not None:
            try:
                self.policy.check_model(self.key, ref.name)
            except ModelNotAllowed:
                self.audit("policy_violation", {"rule": "key_models", "key": self.key.name, "model": ref.name})
                raise
        if ref.record is not None and self.vault is not None:
            # Only approved models may load when an admin turned the allowlist on.
            allowlist.check_loadable(self.vault, ref.record, actor=self.actor.audit_name)
        return backend, ref

    @cached_property
    def keys(self) -> KeyAdmin:
        """API keys, created and revoked in this actor's name."""
        return KeyAdmin(self)

    @cached_property
    def model_admin(self) -> ModelAdmin:
        """Local models loaded, unloaded, removed and made the default in this actor's name."""
        return ModelAdmin(self)

    @cached_property
    def tools(self) -> Tools:
        """MCP tool servers, their tools' rules, and governed tool calls (engine.tools)."""
        from engine.tools import Tools

        return Tools(self)

    @cached_property
    def upstreams(self) -> UpstreamAdmin:
        """Upstream definitions, registered and removed in this actor's name."""
        return UpstreamAdmin(self)

    def require_vault(self) -> Vault:
        """The open vault, or VaultMissing."""
        if self.vault is None:
            raise VaultMissing
        return self.vault

    def models(self) -> list[ModelRef]:
        """Every model this actor may use, local ones first, each name once."""
        refs = self.backends.models()
        if self.key is not None:
            key = self.key
            refs = [ref for ref in refs if key.allows_model(ref.name)]
        return refs


class KeyAdmin:
    """API-key operations of one engine's actor (`engine.keys`): audited in its name."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        name: str,
        *,
        models: list[str] | None = None,
        rpm: int | None = None,
        tokens_per_day: int | None = None,
        store_content: bool = False,
        expires_at: datetime | None = None,
        reproducible: bool = False,
        train: bool = False,
        collections: list[str] | None = None,
        collections_write: list[str] | None = None,
        tools: bool = False,
    ) -> tuple[ApiKeyRecord, str]:
        """Create a key; its secret is returned this once. It logs metadata only unless `store_content`;
        `reproducible`: every request deterministic; `tools`: may use assistants' server-side tools."""
        require_admin_actor(self._engine.actor.audit_name)
        return issue_key(self._engine.require_vault(), name, models=models, rpm=rpm, tokens_per_day=tokens_per_day,
                         store_content=store_content, expires_at=expires_at, reproducible=reproducible, train=train,
                         collections=collections, collections_write=collections_write, tools=tools,
                         actor=self._engine.actor.audit_name)

    def revoke(self, name: str) -> ApiKeyRecord:
        """Revoke the live key `name`: requests with it are refused from now on."""
        require_admin_actor(self._engine.actor.audit_name)
        return revoke_key(self._engine.require_vault(), name, actor=self._engine.actor.audit_name)

    def list(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones included."""
        return self._engine.require_vault().api_keys.list()


class UpstreamAdmin:
    """Upstream operations of one engine's actor (`engine.upstreams`): audited in its name."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, name: str, url: str, **options: Any) -> Upstream:
        """Register an upstream (options as `engine.upstreams.add_upstream`)."""
        require_admin_actor(self._engine.actor.audit_name)
        return add_upstream(self._engine.require_vault(), name, url, actor=self._engine.actor.audit_name, **options)

    def remove(self, name: str) -> Upstream:
        """Forget an upstream and its key."""
        require_admin_actor(self._engine.actor.audit_name)
        return remove_upstream(self._engine.require_vault(), name, actor=self._engine.actor.audit_name)

    def with_health(self) -> list[UpstreamStatus]:
        """Every upstream with a fresh health check."""
        return list_with_health(self._engine.require_vault())

    def list(self) -> list[Upstream]:
        """Every upstream, in failover order."""
        return list_upstreams(self._engine.require_vault())


class ModelAdmin:
    """Local-model operations of one engine's actor (`engine.model_admin`): blocking, audited in its name."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, name: str, on_load: LoadListener | None = None) -> None:
        """Load model `name` into memory (the allowlist applies); blocks until it is loaded, telling
        `on_load` how far it has come."""
        _, ref = self._engine.resolve(name)
        if not ref.is_local:
            raise UserError(f"model {name!r} runs elsewhere; there is nothing to load here")
        self._engine.runtime.load(ref.name, on_load=on_load)

    def unload(self, name: str) -> bool:
        """Free the memory of model `name`; False if it was not loaded."""
        return self._engine.runtime.unload(name)

    def remove(self, name: str) -> None:
        """Unload model `name`, delete its file and record, and audit it."""
        require_admin_actor(self._engine.actor.audit_name)
        if self._engine.registry.get(name).adapter is not None:  # an adapted model: its adapter is in the vault
            self._engine.training.remove(name)
            return
        self._engine.runtime.unload(name)  # joins the model's thread
        self._engine.registry.remove(name)
        self._engine.audit("model_remove", {"name": name})

    def import_file(
        self,
        path: Path,
        name: str | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ModelRecord:
        """Copy, hash and register a GGUF file; with a vault, the allowlist decides (refusals audited) and the
        import is audited with the file's SHA-256."""
        require_admin_actor(self._engine.actor.audit_name)
        vault, actor = self._engine.vault, self._engine.actor.audit_name
        guard = allowlist.import_guard(vault, actor=actor, name=name) if vault is not None else None
        record = self._engine.registry.import_file(path, name, progress=progress, cancel=cancel, approve=guard)
        self._engine.audit("model_import", {"name": record.name, "sha256": record.sha256})
        return record

    def verify(self, name: str) -> ModelRecord:
        """Re-hash model `name`'s file; IntegrityError when it no longer matches the SHA-256 recorded at import."""
        return self._engine.registry.verify(name)

    def set_default(self, name: str) -> None:
        """Make `name` the model used when none is named, and audit it."""
        require_admin_actor(self._engine.actor.audit_name)
        self._engine.registry.set_default(name)
        self._engine.audit("model_default", {"name": name})
