"""Run the endpoint with uvicorn on a background thread: `enclave serve` and the GUI's server panel."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any

import uvicorn

from engine.api.app import create_app
from engine.api.connections import protocol_for
from engine.api.settings import DEFAULT_HOST, DEFAULT_PORT, ApiSettings, is_loopback
from engine.errors import UserError
from engine.handle import Engine
from engine.pairing.tls import TlsFiles
from engine.vault import Vault

log = logging.getLogger("enclave.api")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ApiServer:
    """One HTTP server over one engine; `start()` returns once it listens, `stop()` once it is down."""

    def __init__(
        self,
        engine: Engine,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        settings: ApiSettings | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        if engine.vault is None:
            raise UserError("the API server needs the vault; run `enclave init` first")
        self.engine = engine
        self.vault: Vault = engine.vault
        self.host = host
        self.port = port
        self.settings = settings or ApiSettings()
        self.tls = tls
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the server (`http(s)://host:port`), with the port actually bound."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def bind_address(self) -> str:
        """`host:port` as the audit log records it."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server is listening."""
        return self._thread is not None and self._thread.is_alive() and bool(self._server and self._server.started)

    def check_bind_policy(self) -> None:
        """Refuse a non-loopback bind unless at least one live API key exists."""
        if not is_loopback(self.host) and not self.engine.policy.has_live_keys():
            raise UserError(
                f"refusing to listen on {self.host}: other machines could reach it and no API key exists; "
                "create one with `enclave keys create --name NAME` first"
            )

    def start(self) -> None:
        """Listen (a background thread); raise UserError if the policy or the port forbids it."""
        if self.running:
            return
        self.check_bind_policy()
        settings = self.settings
        if not is_loopback(self.host) and self.host not in ("0.0.0.0", "::"):
            settings = replace(settings, extra_hosts=(*settings.extra_hosts, self.host))
        config = uvicorn.Config(
            create_app(self.engine, settings),
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,  # requests go to the encrypted request log, not to a plaintext one
            proxy_headers=False,  # no proxy is trusted to rewrite client addresses
            server_header=False,
            ws="none",
            lifespan="on",
            timeout_graceful_shutdown=5,
            ssl_certfile=str(self.tls.cert) if self.tls else None,
            ssl_keyfile=str(self.tls.key) if self.tls else None,
            # Our h11 protocol: uvicorn's, plus a connection cap and request read deadlines.
            http=protocol_for(settings),
            timeout_keep_alive=settings.keep_alive_timeout_s,  # type: ignore[arg-type]
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="api-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise UserError(f"could not listen on {self.bind_address} (is the port in use?)")
            time.sleep(0.02)
        self._server, self._thread = server, thread
        if server.servers and server.servers[0].sockets:
            self.port = int(server.servers[0].sockets[0].getsockname()[1])  # port 0: the one picked
        details: dict[str, Any] = {"bind": self.bind_address, "tls": self.tls is not None}
        if self.tls is not None:
            details["fingerprint"] = self.tls.fingerprint
        self.vault.audit.append("server_start", actor="local", details=details)
        log.info("API server listening on %s", self.url)

    def stop(self) -> None:
        """Stop listening, let in-flight requests finish briefly, and wait for the thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT_S)
        self._server = self._thread = None
        try:
            self.vault.audit.append("server_stop", actor="local", details={"bind": self.bind_address})
        except Exception as exc:  # a vault already closed must not hide that the server stopped
            log.warning("server stop not audited: %s", type(exc).__name__)
