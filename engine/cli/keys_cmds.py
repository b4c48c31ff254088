"""`enclave keys create | list | revoke`: API keys for the HTTP endpoint (the secret is shown once)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.cli.admin import run_admin
from engine.cli.passphrase import read_passphrase
from engine.cli.table import Column, add_list_command, listed, print_table
from engine.errors import UserError
from engine.paths import enclave_home
from engine.policy.audit_events import unlock
from engine.policy.keys import parse_expiry
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
    content = create.add_mutually_exclusive_group()
    content.add_argument("--no-store", dest="store_content", action="store_false",
                         help="log no prompt or reply text for this key (the default; metadata only)")
    content.add_argument("--store-content", dest="store_content", action="store_true",
                         help="also keep this key's prompt and reply texts in the encrypted request log")
    create.set_defaults(store_content=False)
    create.add_argument("--expires", metavar="DATE|DAYS",
                        help="last day the key works (YYYY-MM-DD, UTC) or a number of days from now")
    create.add_argument(
        "--reproducible",
        action="store_true",
        help="every request deterministic: the same request gives the same tokens (seed 0 unless it sends one)",
    )
    create.add_argument("--train", action="store_true", help="may upload datasets and start fine-tuning jobs")
    create.add_argument("--tools", action="store_true",
                        help="may chat with assistants that run the admin's always-allowed MCP tools")
    create.add_argument("--collections", metavar="NAME[,NAME]",
                        help="document collections the key may search (vector stores, file_search); '*' for all")
    create.add_argument("--collections-write", metavar="NAME[,NAME]",
                        help="collections the key may create, fill and delete (includes searching); '*' for all")
    create.set_defaults(handler=cmd_create)

    add_list_command(actions, common, cmd_list, "list keys (never their secrets)")

    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key by name")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_revoke)


def cmd_create(args: argparse.Namespace) -> int:
    """Create a key; the secret goes to stdout (alone, for scripts), the notes to stderr."""
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if args.models is not None and not models:
        raise UserError("--models needs at least one model name")
    expires_at = parse_expiry(args.expires) if args.expires is not None else None
    read = [c.strip() for c in args.collections.split(",") if c.strip()] if args.collections else None
    write = [c.strip() for c in args.collections_write.split(",") if c.strip()] if args.collections_write else None
    answer = run_admin(args, "keys.create", {
        "name": args.name, "models": models, "rpm": args.rpm, "tokens_per_day": args.tokens_per_day,
        "store_content": args.store_content, "reproducible": args.reproducible, "train": args.train,
        "tools": args.tools,
        "collections": read, "collections_write": write,
        "expires_at": expires_at.isoformat(timespec="seconds") if expires_at else None,
    })
    print(answer["secret"])
    print(f"API key {args.name!r} created. It is shown only this once: store it now.", file=sys.stderr)
    print("It logs " + ("prompt and reply texts" if args.store_content else "request metadata only, no texts")
          + (f"; it expires {expires_at:%Y-%m-%d %H:%M} UTC." if expires_at else "; it does not expire."),
          file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print every key with its rules."""
    records = run_admin(args, "keys.list", {})["keys"]
    if listed(args, lambda: records, len(records), "no API keys; create one with `enclave keys create --name NAME`"):
        return 0
    print_table(KEY_COLUMNS, (_key_row(r) for r in records))
    return 0


KEY_COLUMNS = (
    Column("NAME", 20), Column("STATUS", 8), Column("MODELS", 24), Column("RPM", 6, right=True),
    Column("TOKENS/DAY", 11, right=True), Column("CONTENT", 8), Column("SEEDING", 12), Column("CREATED", 16),
    Column("EXPIRES", 16), Column("COLLECTIONS"),
)


def _key_row(r: dict[str, Any]) -> tuple[object, ...]:
    """One key's cells under KEY_COLUMNS."""
    models = ",".join(r["models"]) if r["models"] is not None else "all"
    status = "revoked" if r["revoked_at"] else "expired" if r["expired"] else "active"
    expires = r["expires_at"][:16].replace("T", " ") if r["expires_at"] else "never"
    return (r["name"], status, models, r["rpm"] or "-", r["tokens_per_day"] or "-",
            "logged" if r["store_content"] else "no-store", "reproducible" if r.get("reproducible") else "-",
            r["created_at"][:16].replace("T", " "), expires, _collections(r))


def _collections(record: dict[str, object]) -> str:
    """The key's collection rules in a few characters: `read:A,B write:C`, or `-`."""
    read = [str(c) for c in record.get("collections") or []]  # type: ignore[attr-defined]
    write = [str(c) for c in record.get("collections_write") or []]  # type: ignore[attr-defined]
    parts = [f"read:{','.join(read)}" if read else "", f"write:{','.join(write)}" if write else ""]
    return " ".join(p for p in parts if p) or "-"


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke a key; requests with it get 401 from now on (at once, also while `serve` runs)."""
    run_admin(args, "keys.revoke", {"name": args.name})
    print(f"API key {args.name!r} revoked", file=sys.stderr)
    return 0
