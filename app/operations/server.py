"""Operations of the Server page: start and stop the endpoint, API keys, the request log.

The decisions the page used to make itself (which settings are stored, which address is refused without a
key, which model the examples name first) live here and in the engine (`engine.api.settings`); the page
only shows what they return.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from app.session import Session
from app.workers import Task
from engine.api.settings import DEFAULT_MAX_TOKENS, ApiSettings, bind_refusal, is_loopback
from engine.errors import UserError
from engine.pairing import tls
from engine.pairing.appliance import create_pairing

SETTINGS_KEY = "gui.server"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
RECENT_REQUESTS = 100
AUTO, FILES = "auto", "files"  # the stored "tls" choices: a self-signed certificate Enclave makes, or the admin's


@dataclass(frozen=True)
class ServerSettings:
    """What the page last started the endpoint with (stored encrypted under `SETTINGS_KEY`)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    stored: dict[str, Any] | None = None  # the whole stored dict (the HTTPS panel reads its own keys)


def available() -> bool:
    """True when this build has the HTTP endpoint (checked without importing FastAPI and uvicorn)."""
    try:
        return importlib.util.find_spec("engine.api.server") is not None
    except ModuleNotFoundError:
        return False


def settings(session: Session) -> ServerSettings:
    """The stored endpoint settings, defaults where none are stored."""
    stored = session.vault.settings.get(SETTINGS_KEY) or {}
    return ServerSettings(
        host=str(stored.get("host", DEFAULT_HOST)), port=int(stored.get("port", DEFAULT_PORT)),
        default_max_tokens=int(stored.get("default_max_tokens", DEFAULT_MAX_TOKENS)), stored=dict(stored),
    )


def bind_problem(session: Session, host: str) -> str | None:
    """Why the endpoint would refuse to listen on `host` now (the engine's rule: a network address needs a
    live API key), or None."""
    if is_loopback(host):
        return None
    return bind_refusal(host, session.engine.policy.has_live_keys())


def example_models(session: Session) -> list[str]:
    """The local models the code examples may name, the default first."""
    registry = session.registry
    names = [r.name for r in registry.list()]
    default = registry.default_name()
    if default in names:
        names.remove(default)
        names.insert(0, default)
    return names


def tls_files(config: dict[str, Any], host: str) -> tls.TlsFiles | None:
    """The TLS files a stored server config asks for (the self-signed one made on first use), or None."""
    mode = config.get("tls")
    if mode == AUTO:
        return tls.ensure_auto(host)[0]
    if mode == FILES:
        cert, key = str(config.get("tls_cert") or ""), str(config.get("tls_key") or "")
        if not cert or not key:
            raise UserError("choose both the certificate file and its key file")
        return tls.check_files(Path(cert), Path(key))
    return None


def tls_fingerprint(config: dict[str, Any]) -> str | None:
    """The fingerprint of the certificate the endpoint uses (or will use) under `config`, if there is one yet
    (the self-signed one is not made here)."""
    mode = config.get("tls")
    try:
        if mode == AUTO:
            files = tls.auto_files()
            return files.fingerprint if files.cert.exists() else None
        cert = str(config.get("tls_cert") or "").strip()
        if mode == FILES and cert:
            return tls.fingerprint_of_pem(Path(cert).read_bytes()[: tls.MAX_PEM_BYTES])
    except (OSError, UserError):
        return None
    return None


def start(owner: QObject, session: Session, config: dict[str, Any]) -> Task:
    """Store `config` (host, port, default_max_tokens and the HTTPS choices) as the page's settings, then
    build and start the endpoint on its own thread (making the self-signed certificate on first use); the
    result is the running `ApiServer`, also kept as `session.server` once it listens."""
    engine, vault = session.engine, session.vault
    host, port = str(config["host"]), int(config["port"])
    tokens = int(config.get("default_max_tokens", DEFAULT_MAX_TOKENS))

    def run(_ctx: object) -> Any:
        from engine.api.server import ApiServer  # a second or more to import: here, off the GUI thread

        vault.settings.set(SETTINGS_KEY, dict(config))
        server = ApiServer(engine, host=host, port=port, settings=ApiSettings(default_max_tokens=tokens),
                           tls=tls_files(config, host))
        server.start()
        return server

    task = Task(run, owner)
    task.on_success(lambda server: setattr(session, "server", server))
    return task


def stop(owner: QObject, session: Session) -> Task | None:
    """Stop the running endpoint (requests in flight get a moment to finish); None when none runs."""
    server = session.server
    if server is None:
        return None

    def run(_ctx: object) -> None:
        server.stop()

    task = Task(run, owner)
    task.on_success(lambda _result: setattr(session, "server", None))
    return task


def revoke_key(owner: QObject, session: Session, name: str) -> Task:
    """Revoke API key `name` (audited, as `enclave keys revoke`): programs using it are refused from now on."""
    keys = session.engine.keys
    return Task(lambda _ctx: keys.revoke(name), owner)


def keys(session: Session, *, revoked: bool) -> list[Any]:
    """The API keys to list (the revoked ones too when `revoked`)."""
    records = session.engine.keys.list()
    return records if revoked else [r for r in records if not r.revoked]


def recent_requests(owner: QObject, session: Session, limit: int = RECENT_REQUESTS) -> Task:
    """The latest entries of the encrypted request log, newest first (decrypted off the GUI thread)."""
    log = session.vault.request_log
    return Task(lambda _ctx: log.recent(limit), owner)


def pair_device(owner: QObject, session: Session, name: str, *, url: str, fingerprint: str,
                models: list[str] | None, log_content: bool) -> Task:
    """Record a pending pairing for device `name` with its key rules (audited); the Task's result is the
    one-time pairing code that carries the server's address, its certificate fingerprint and the token."""
    vault, actor = session.vault, session.engine.actor.audit_name

    def run(_ctx: object) -> str:
        _, code = create_pairing(vault, name, url=url, fingerprint=fingerprint, models=models,
                                 log_content=log_content, actor=actor)
        return code

    return Task(run, owner)
