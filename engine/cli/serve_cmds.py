"""`enclave serve [--host 127.0.0.1] [--port 8765] [--model NAME]`: the headless OpenAI-compatible server."""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import sys
import threading
from types import FrameType

from engine.api.settings import DEFAULT_HOST, DEFAULT_PORT, ApiSettings
from engine.cli.passphrase import read_passphrase
from engine.handle import SERVER, Engine
from engine.policy.retention import RetentionTimer

# After SIGTERM/SIGINT the process is gone within this many seconds, whatever is still running (a long
# llama.cpp call cannot be interrupted): acknowledged writes are already durable in the vault.
STOP_DEADLINE_S = 4.0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `serve` command."""
    p = subparsers.add_parser("serve", parents=[common], help="serve the OpenAI-compatible HTTP API")
    p.add_argument("--host", default=DEFAULT_HOST, help="bind address (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--model", help="load this model at start (default: load models on first use)")
    p.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME",
        help="another Host name clients use to reach this server (repeatable)",
    )
    p.add_argument(
        "--cors-origin", action="append", default=[], metavar="URL",
        help="a browser origin allowed to call the API, e.g. http://localhost:3000 (repeatable)",
    )
    p.set_defaults(handler=cmd_serve)


def disable_core_dumps() -> None:
    """A crash must not write decrypted memory (keys, prompts) to a core file."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _exit_by_deadline() -> None:
    """Leave the process STOP_DEADLINE_S from now if a clean stop has not finished by then."""

    def leave() -> None:
        print("enclave: stopping took too long; exiting now", file=sys.stderr, flush=True)
        os._exit(0)

    timer = threading.Timer(STOP_DEADLINE_S, leave)
    timer.daemon = True
    timer.start()


def cmd_serve(args: argparse.Namespace) -> int:
    """Unlock the vault, listen until SIGINT/SIGTERM, then stop cleanly (exit 0)."""
    # Imported here: the web stack and llama.cpp are heavy, and other commands should not wait for them.
    from engine.api.server import ApiServer
    from engine.sandbox import default_pool, shutdown_default_pool

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    disable_core_dumps()
    settings = ApiSettings(allowed_hosts=tuple(args.allow_host), cors_origins=tuple(args.cors_origin))
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        if not stop.is_set():
            _exit_by_deadline()
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    engine = Engine.open(actor=SERVER, passphrase=lambda: read_passphrase(args))
    assert engine.vault is not None  # Engine.open requires one by default
    # Retention runs at start and then daily while the server is up (engine.policy.retention).
    purger = RetentionTimer(engine.vault, actor=SERVER.audit_name)
    try:
        purger.start()
        if args.model:
            _, ref = engine.resolve(args.model)  # the allowlist applies to what the server loads
            if ref.is_local:
                engine.runtime.load(ref.name)
        server = ApiServer(engine, host=args.host, port=args.port, settings=settings)
        default_pool().warm()  # the first chat request does not wait for a sandbox process to start
        server.start()
        print(f"Enclave API on {server.url}/v1 — Ctrl-C to stop", file=sys.stderr, flush=True)
        try:
            while not stop.wait(0.5):
                if not server.running:
                    print("enclave: the server stopped unexpectedly", file=sys.stderr)
                    return 1
        finally:
            # Replies end within a token and template work at once, so the server stops promptly.
            engine.runtime.abort()
            shutdown_default_pool()
            server.stop()
    finally:
        purger.stop()
        engine.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Enclave API stopped", file=sys.stderr)
    return 0
