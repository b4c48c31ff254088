"""`enclave serve [--host 127.0.0.1] [--port 8765] [--model NAME]`: the headless OpenAI-compatible server."""

from __future__ import annotations

import argparse
import logging
import resource
import signal
import sys
import threading
from types import FrameType

from engine.api.settings import DEFAULT_HOST, DEFAULT_PORT, ApiSettings
from engine.cli.keys_cmds import open_vault
from engine.models import ModelRegistry
from engine.models.demo import ensure_demo_model
from engine.policy import allowlist
from engine.policy.retention import RetentionTimer

ACTOR = "serve"


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `serve` command."""
    p = subparsers.add_parser("serve", parents=[common], help="serve the OpenAI-compatible HTTP API")
    p.add_argument("--host", default=DEFAULT_HOST, help="bind address (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--model", help="load this model at start (default: load models on first use)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name clients use to reach this server (repeatable)",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="URL",
        help="a browser origin allowed to call the API, e.g. http://localhost:3000 (repeatable)",
    )
    p.set_defaults(handler=cmd_serve)


def disable_core_dumps() -> None:
    """A crash must not write decrypted memory (keys, prompts) to a core file."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def cmd_serve(args: argparse.Namespace) -> int:
    """Unlock the vault, listen until SIGINT/SIGTERM, then stop cleanly (exit 0)."""
    # Imported here: the web stack and llama.cpp are heavy, and other commands should not wait for them.
    from engine.api.server import ApiServer
    from engine.runtime import Runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    disable_core_dumps()
    registry = ModelRegistry()
    ensure_demo_model(registry)
    registry.complete_facts()
    settings = ApiSettings(allowed_hosts=tuple(args.allow_host), cors_origins=tuple(args.cors_origin))
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    vault = open_vault(args, actor=ACTOR)
    runtime = Runtime(registry)
    # Retention runs at start and then daily while the server is up (engine.policy.retention).
    purger = RetentionTimer(vault, actor=ACTOR)
    try:
        purger.start()
        if args.model:
            allowlist.check_loadable(vault, registry.resolve(args.model), actor=ACTOR)
            runtime.load(args.model)
        server = ApiServer(runtime, vault, host=args.host, port=args.port, settings=settings)
        server.start()
        print(f"Enclave API on {server.url}/v1 — Ctrl-C to stop", file=sys.stderr, flush=True)
        try:
            while not stop.wait(0.5):
                if not server.running:
                    print("enclave: the server stopped unexpectedly", file=sys.stderr)
                    return 1
        finally:
            server.stop()
    finally:
        purger.stop()
        runtime.close()
        vault.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Enclave API stopped", file=sys.stderr)
    return 0
