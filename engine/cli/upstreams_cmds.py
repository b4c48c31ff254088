"""`enclave upstreams add | list | remove | check`: the organisation's serving engines, by model name."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.passphrase import open_engine
from engine.cli.table import Column, add_list_command, listed, print_table
from engine.errors import UserError
from engine.upstreams import Upstream


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `upstreams` command group."""
    group = subparsers.add_parser("upstreams", parents=[common], help="serve models from OpenAI-compatible servers")
    actions = group.add_subparsers(dest="upstreams_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", parents=[common], help="register an upstream (its key is stored encrypted)")
    add.add_argument("name", help="a short name: lower-case letters, digits, '-', '_'")
    add.add_argument("--url", required=True, help="its OpenAI base URL, e.g. https://vllm.corp:8000/v1")
    add.add_argument("--api-key-file", metavar="F", type=Path, help="file holding the upstream's API key")
    which = add.add_mutually_exclusive_group(required=True)
    which.add_argument("--models", metavar="M,…", help="models it serves: NAME or ID=NAME (ID is what clients ask)")
    which.add_argument("--discover", action="store_true", help="ask the upstream for its models now")
    add.add_argument("--prefix", default="", help="prefix for client-facing ids, e.g. 'cluster/'")
    add.add_argument("--tls-ca", metavar="F", type=Path, help="PEM CA certificate to trust (instead of the system's)")
    add.add_argument("--allow-plain-http", action="store_true", help="permit http:// to a non-loopback host")
    add.add_argument("--timeout", type=float, default=120.0, metavar="S", help="seconds to wait for output")
    add.set_defaults(handler=cmd_add)

    add_list_command(actions, common, cmd_list, "list upstreams (never their keys)")

    remove = actions.add_parser("remove", parents=[common], help="forget an upstream and its key")
    remove.add_argument("name")
    remove.set_defaults(handler=cmd_remove)

    check = actions.add_parser("check", parents=[common], help="contact each upstream; exit 1 if any is down")
    check.add_argument("name", nargs="?", help="only this upstream")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(handler=cmd_check)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise UserError(f"cannot read the {what} file {path.name!r}") from None


def cmd_add(args: argparse.Namespace) -> int:
    """Register an upstream."""
    api_key = _read(args.api_key_file, "API key").strip() if args.api_key_file else None
    tls_ca = _read(args.tls_ca, "CA certificate") if args.tls_ca else None
    models = [m for m in args.models.split(",") if m.strip()] if args.models else None
    with open_engine(args) as engine:
        upstream = engine.upstreams.add(
            args.name,
            args.url,
            api_key=api_key,
            models=models,
            discover=args.discover,
            prefix=args.prefix,
            tls_ca=tls_ca,
            allow_plain_http=args.allow_plain_http,
            timeout_s=args.timeout,
        )
    ids = ", ".join(r.id for r in upstream.models)
    print(f"upstream {upstream.name!r} registered at {upstream.url}; models: {ids}", file=sys.stderr)
    return 0


def _as_json(upstream: Upstream) -> dict[str, object]:
    return {
        "name": upstream.name,
        "url": upstream.url,
        "models": [{"id": r.id, "remote": r.remote} for r in upstream.models],
        "api_key": upstream.api_key is not None,
        "custom_ca": upstream.tls_ca is not None,
        "plain_http_allowed": upstream.allow_plain_http,
        "timeout_s": upstream.timeout_s,
        "added_at": upstream.added_at,
    }


def _models(upstream: Upstream) -> str:
    return ",".join(r.id if r.id == r.remote else f"{r.id}={r.remote}" for r in upstream.models)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the upstreams in failover order."""
    with open_engine(args) as engine:
        upstreams = engine.upstreams.list()
    if listed(args, lambda: [_as_json(u) for u in upstreams], len(upstreams),
              "no upstreams; register one with `enclave upstreams add NAME --url URL --models M`"):
        return 0
    print_table((Column("NAME", 16), Column("KEY", 4), Column("URL", 40), Column("MODELS")),
                ((u.name, "yes" if u.api_key else "no", u.url, _models(u)) for u in upstreams))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Forget an upstream."""
    with open_engine(args) as engine:
        engine.upstreams.remove(args.name)
    print(f"upstream {args.name!r} removed", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Check each upstream's health; exit 1 when one is down or lacks a registered model."""
    with open_engine(args) as engine:
        statuses = engine.upstreams.with_health()
    if args.name:
        statuses = [s for s in statuses if s.upstream.name == args.name]
        if not statuses:
            raise UserError(f"no upstream named {args.name!r}; see `enclave upstreams list`")
    healthy = all(s.health.ok and not s.missing_models for s in statuses)
    if args.json:
        rows = [{"name": s.upstream.name, "ok": s.health.ok, "latency_ms": s.health.latency_ms,
                 "problem": s.health.problem, "missing_models": list(s.missing_models)} for s in statuses]
        print(json.dumps(rows, indent=2))
        return 0 if healthy else 1
    for s in statuses:
        missing = f"; not served there: {', '.join(s.missing_models)}" if s.missing_models else ""
        print(f"{s.upstream.name:<16} {s.health.summary}{missing}")
    return 0 if healthy else 1
