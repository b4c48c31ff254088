"""`enclave keys create | list | revoke`: API keys for the HTTP endpoint (the secret is shown once)."""

from __future__ import annotations

import argparse
import json
import sys

from engine.cli.admin import run_admin
from engine.cli.passphrase import read_passphrase
from engine.errors import UserError
from engine.paths import enclave_home
from engine.policy.audit_events import unlock
from engine.vault import Vault
from engine.vault.errors import VaultMissing

ACTOR = "cli"


def open_vault(args: argparse.Namespace, *, actor: str = ACTOR) -> Vault:
    """Unlock the vault in ENCLAVE_HOME with the passphrase from the usual source."""
    home = enclave_home()
    if not Vault.exists(home):
        raise VaultMissing
    return unlock(home, read_passphrase(args), actor=actor)  # failed attempts go to the audit chain


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `keys` command group."""
    keys = subparsers.add_parser("keys", parents=[common], help="API keys for `enclave serve`")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", parents=[common], help="create a key and print it once")
    create.add_argument("--name", required=True, help="a label for the key (unique among live keys)")
    create.add_argument("--models", metavar="M,…", help="comma-separated models it may use (default: all)")
    create.add_argument("--rpm", type=int, metavar="N", help="requests per minute")
    create.add_argument("--tokens-per-day", type=int, metavar="N", help="prompt + completion tokens per UTC day")
    create.add_argument("--no-store", action="store_true", help="log no prompt or reply text for this key")
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", parents=[common], help="list keys (never their secrets)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_list)

    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key by name")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_revoke)


def cmd_create(args: argparse.Namespace) -> int:
    """Create a key; the secret goes to stdout (alone, for scripts), the notes to stderr."""
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if args.models is not None and not models:
        raise UserError("--models needs at least one model name")
    answer = run_admin(args, "keys.create", {"name": args.name, "models": models, "rpm": args.rpm,
                                             "tokens_per_day": args.tokens_per_day, "store_content": not args.no_store})
    print(answer["secret"])
    print(f"API key {args.name!r} created. It is shown only this once: store it now.", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print every key with its rules."""
    records = run_admin(args, "keys.list", {})["keys"]
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    if not records:
        print("no API keys; create one with `enclave keys create --name NAME`", file=sys.stderr)
        return 0
    print(f"{'NAME':<20} {'STATUS':<8} {'MODELS':<24} {'RPM':>6} {'TOKENS/DAY':>11} {'CONTENT':<8} CREATED")
    for r in records:
        models = ",".join(r["models"]) if r["models"] is not None else "all"
        created = r["created_at"][:16].replace("T", " ")
        print(
            f"{r['name']:<20} {'revoked' if r['revoked_at'] else 'active':<8} {models:<24} {r['rpm'] or '-':>6} "
            f"{r['tokens_per_day'] or '-':>11} {'logged' if r['store_content'] else 'no-store':<8} {created}"
        )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke a key; requests with it get 401 from now on (at once, also while `serve` runs)."""
    run_admin(args, "keys.revoke", {"name": args.name})
    print(f"API key {args.name!r} revoked", file=sys.stderr)
    return 0
