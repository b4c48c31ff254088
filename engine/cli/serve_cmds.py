"""`enclave serve [--host 127.0.0.1] [--port 8765] [--model NAME] [--tls auto | --tls-cert F --tls-key F]`.

The headless OpenAI-compatible server; with TLS, the certificate's SHA-256 fingerprint is printed at
start (paired desktops pin it).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType

import httpx

from engine.api.settings import DEFAULT_HOST, DEFAULT_PORT, LIMIT_FIELDS, ApiSettings
from engine.cli.passphrase import read_passphrase
from engine.control.server import ControlServer
from engine.errors import UserError
from engine.handle import SERVER, Engine
from engine.pairing import tls as tls_files
from engine.pairing.appliance import pairing_hosts
from engine.policy.retention import RetentionTimer
from engine.vault import hardening

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
    p.add_argument(
        "--verbose", action="store_true",
        help="also log llama.cpp's own messages (model loading, context set-up) to stderr",
    )
    p.add_argument(
        "--tls", choices=["auto"],
        help="auto: HTTPS with a self-signed certificate made once in the data folder (paired desktops pin it)",
    )
    p.add_argument("--tls-cert", metavar="F", type=Path, help="HTTPS with this PEM certificate (with --tls-key)")
    p.add_argument("--tls-key", metavar="F", type=Path, help="the PEM private key of --tls-cert")
    p.add_argument(
        "--limit", action="append", default=[], metavar="NAME=VALUE", type=parse_limit,
        help="change one endpoint limit, e.g. max_connections=256 or header_timeout_s=5 (repeatable; "
        "names and defaults in the README's Resource limits)",
    )
    p.set_defaults(handler=cmd_serve)


def parse_limit(text: str) -> tuple[str, float]:
    """`NAME=VALUE` for one numeric ApiSettings field (argparse turns ValueError into a usage error)."""
    name, _, value = text.partition("=")
    if name.strip() not in LIMIT_FIELDS:
        raise argparse.ArgumentTypeError(f"unknown limit {name!r}; known: {', '.join(sorted(LIMIT_FIELDS))}")
    kind = LIMIT_FIELDS[name.strip()]
    try:
        number = kind(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} needs a number, not {value!r}") from None
    return name.strip(), number


def settings_from(args: argparse.Namespace) -> ApiSettings:
    """The endpoint settings the command line asks for (a bad combination is a user error)."""
    limits = dict(args.limit)
    try:
        return ApiSettings(allowed_hosts=tuple(args.allow_host), cors_origins=tuple(args.cors_origin), **limits)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def tls_from_args(args: argparse.Namespace) -> tls_files.TlsFiles | None:
    """The TLS files `serve` was asked for (made on first use with --tls auto), or None for plain HTTP."""
    if args.tls and (args.tls_cert or args.tls_key):
        raise UserError("give either --tls auto or --tls-cert F --tls-key F, not both")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UserError("--tls-cert and --tls-key go together")
    if args.tls_cert:
        return tls_files.check_files(args.tls_cert, args.tls_key)
    if args.tls == "auto":
        files, made = tls_files.ensure_auto(args.host)
        if made:
            print(f"made a self-signed TLS certificate: {files.cert}", file=sys.stderr)
        return files
    return None


def disable_core_dumps() -> None:
    """A crash must not write decrypted memory (keys, prompts) to a core file (before anything is loaded)."""
    # The soft limit is the one the kernel applies, as in every process that unlocks (engine.vault).
    hardening.disable_core_dumps(hard=False)


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
    from engine.runtime import llama_log
    from engine.sandbox import default_pool, shutdown_default_pool

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    llama_log.install(verbose=args.verbose)
    disable_core_dumps()
    settings = settings_from(args)
    tls = tls_from_args(args)
    if tls is not None and args.tls == "auto":
        # The names the certificate was made for are names this server answers to (the Host check).
        settings = replace(settings, allowed_hosts=(*settings.allowed_hosts, *tls_files.default_names(args.host)))
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        if not stop.is_set():
            _exit_by_deadline()
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    engine = Engine.open(actor=SERVER, passphrase=lambda: read_passphrase(args))
    assert engine.vault is not None  # Engine.open requires one by default
    # A paired device reaches the server by the name its code gave (`pair create --url`): answer to it.
    settings = replace(settings, allowed_hosts=(*settings.allowed_hosts, *pairing_hosts(engine.vault)))

    def answer_to(url: str) -> None:  # a pairing made over the admin channel: its code's host name
        host = httpx.URL(url).host
        if host:
            settings.live_hosts.add(host.lower())

    # `enclave pair …` / `enclave keys …` reach this server while it holds the vault (engine.control).
    control = ControlServer(engine, on_pairing=answer_to)
    # Retention runs at start and then daily while the server is up (engine.policy.retention).
    purger = RetentionTimer(engine.vault, actor=SERVER.audit_name)
    try:
        purger.start()
        control.start()
        if args.model:
            _, ref = engine.resolve(args.model)  # the allowlist applies to what the server loads
            if ref.is_local:
                engine.runtime.load(ref.name)
        server = ApiServer(engine, host=args.host, port=args.port, settings=settings, tls=tls)
        default_pool().warm()  # the first chat request does not wait for a sandbox process to start
        server.start()
        if tls is not None:
            print(f"TLS certificate SHA-256 fingerprint: {tls.fingerprint}", file=sys.stderr, flush=True)
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
        control.stop()
        purger.stop()
        engine.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Enclave API stopped", file=sys.stderr)
    return 0
