"""`enclave pair create | list | revoke` on the appliance; `enclave remote add | list | remove` on a desktop."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.admin import run_admin
from engine.cli.table import Column, add_list_command, listed, print_table
from engine.cli.vault_cmds import ACTOR, open_vault
from engine.errors import EnclaveError, UserError
from engine.pairing import tls
from engine.pairing.appliance import DEFAULT_EXPIRES_S, default_url
from engine.pairing.remotes import add_remote, list_remotes, refresh_models, remove_remote


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `pair` (appliance) and `remote` (desktop) command groups."""
    group = subparsers.add_parser("pair", parents=[common], help="pair a desktop with this server (appliance)")
    actions = group.add_subparsers(dest="pair_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", parents=[common], help="pair one device: its rules and a one-time code")
    create.add_argument("--name", required=True, help="the device, e.g. alice-laptop")
    create.add_argument("--models", metavar="M,…", help="models it may use (default: all)")
    create.add_argument("--url", help="the address desktops reach this server at (default: https://HOSTNAME:PORT)")
    create.add_argument("--port", type=int, default=8765, help="the port `serve` listens on (default: 8765)")
    create.add_argument("--tls-cert", metavar="F", type=Path, help="the certificate `serve --tls-cert` uses "
                        "(default: the one `serve --tls auto` uses, made now if missing)")
    create.add_argument("--rpm", type=int, metavar="N", help="requests per minute")
    create.add_argument("--tokens-per-day", type=int, metavar="N", help="prompt + completion tokens per UTC day")
    create.add_argument("--log-content", action="store_true",
                        help="keep the device's prompts and replies in the request log (default: metadata only)")
    create.add_argument("--expires-in", type=float, metavar="HOURS", default=DEFAULT_EXPIRES_S / 3600,
                        help="the code lapses if not used within this many hours (default: 24)")
    create.add_argument("--no-qr", action="store_true", help="print the code as text only")
    create.set_defaults(handler=cmd_pair_create)
    add_list_command(actions, common, cmd_pair_list, "paired devices and whether their keys work")
    revoke = actions.add_parser("revoke", parents=[common], help="cut a device off (revokes its key)")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_pair_revoke)

    group = subparsers.add_parser("remote", parents=[common], help="use your organisation's server (desktop)")
    actions = group.add_subparsers(dest="remote_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[common], help="pair with a server from its code (stored encrypted)")
    add.add_argument("name", help="a short name for it here: lower-case letters, digits, '-', '_'")
    add.add_argument("code", help="the pairing code (EP1-…), or '-' to read it from stdin")
    add.set_defaults(handler=cmd_remote_add)
    listing = actions.add_parser("list", parents=[common], help="paired servers and their models")
    listing.add_argument("--check", action="store_true", help="ask each server for its models now")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_remote_list)
    remove = actions.add_parser("remove", parents=[common], help="forget a server and its key")
    remove.add_argument("name")
    remove.set_defaults(handler=cmd_remote_remove)


def print_qr(text: str) -> None:
    """`text` as a QR code in the terminal (stderr), when segno is installed."""
    try:
        import segno
    except ImportError:
        return
    segno.make(text, error="l").terminal(out=sys.stderr, compact=True)


def cmd_pair_create(args: argparse.Namespace) -> int:
    """Record the device's pairing and print its one-time code (stdout: the code alone; stderr: QR and notes)."""
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if args.models is not None and not models:
        raise UserError("--models needs at least one model name")
    if not 0 < args.expires_in <= 24 * 30:
        raise UserError("--expires-in takes hours, at most 720 (30 days)")
    # The certificate `serve` presents: the code pins it. `--tls auto` makes it now if `serve` has not yet.
    fingerprint = tls.fingerprint_of_pem(_read(args.tls_cert)) if args.tls_cert else tls.ensure_auto()[0].fingerprint
    answer = run_admin(args, "pair.create", {
        "name": args.name, "url": args.url or default_url(args.port), "fingerprint": fingerprint, "models": models,
        "rpm": args.rpm, "tokens_per_day": args.tokens_per_day, "log_content": args.log_content,
        "expires_s": max(60, round(args.expires_in * 3600)),
    })
    code, pairing = str(answer["code"]), answer["pairing"]
    if not args.no_qr:
        print_qr(code)
    print(code)
    print(
        f"Device {pairing['name']!r} paired at {pairing['url']} (certificate {pairing['fingerprint']}).\n"
        "Enter this code once on the desktop (\"Connect to your organisation's server\", or\n"
        f"`enclave remote add NAME CODE`) before {pairing['expires_at']}. It works only once: the\n"
        "desktop exchanges it for the device's key.",
        file=sys.stderr,
    )
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()[: tls.MAX_PEM_BYTES]
    except OSError:
        raise UserError(f"cannot read the certificate file {str(path)!r}") from None


def cmd_pair_list(args: argparse.Namespace) -> int:
    """Print the paired devices."""
    rows = run_admin(args, "pair.list", {})["pairings"]
    if listed(args, lambda: rows, len(rows), "no paired devices; pair one with `enclave pair create --name NAME`"):
        return 0
    columns = (Column("NAME", 20), Column("STATUS", 8), Column("MODELS", 24), Column("CONTENT", 9),
               Column("URL", 32), Column("CREATED"))
    print_table(columns, ((r["name"], r["state"], ",".join(r["models"]) if r["models"] else "all",
                           "logged" if r["log_content"] else "metadata", r["url"], r["created_at"]) for r in rows))
    return 0


def cmd_pair_revoke(args: argparse.Namespace) -> int:
    """Revoke a device's key (its next request is refused), or spend its unused code."""
    run_admin(args, "pair.revoke", {"name": args.name})
    print(f"device {args.name!r} cut off (its key or unused code is revoked)", file=sys.stderr)
    return 0


def cmd_remote_add(args: argparse.Namespace) -> int:
    """Pair this desktop with a server."""
    code = sys.stdin.read(4096) if args.code == "-" else args.code
    with open_vault(args) as vault:
        remote = add_remote(vault, args.name, code, actor=ACTOR)
    models = ", ".join(remote.model_ids()) or "none (the key may use no model there)"
    print(f"paired with {remote.name!r} at {remote.url}; certificate {remote.fingerprint} pinned", file=sys.stderr)
    print(f"models: {models}", file=sys.stderr)
    return 0


def cmd_remote_list(args: argparse.Namespace) -> int:
    """Print the paired servers (with --check: ask each for its models now; exit 1 if one is down)."""
    problems: dict[str, str] = {}
    worst = 0
    with open_vault(args) as vault:
        remotes = list_remotes(vault)
        if args.check:
            for i, remote in enumerate(remotes):
                try:
                    remotes[i] = refresh_models(vault, remote.name)
                except EnclaveError as exc:  # one server down or changed must not hide the others
                    problems[remote.name] = str(exc)
                    worst = max(worst, exc.exit_code)  # 2 for a changed certificate
    if args.json:
        print(json.dumps([{"name": r.name, "url": r.url, "fingerprint": r.fingerprint, "server": r.server,
                           "device": r.device, "models": r.model_ids(), "added_at": r.added_at,
                           "problem": problems.get(r.name)} for r in remotes], indent=2))
        return worst
    if not remotes:
        print("no organisation servers; add one with `enclave remote add NAME CODE`", file=sys.stderr)
        return 0
    for r in remotes:
        print(f"{r.name}: {r.url} (paired as {r.device or '?'}), certificate {r.fingerprint}")
        print(f"    models: {', '.join(r.model_ids()) or 'none'}")
        if r.name in problems:
            print(f"    problem: {problems[r.name]}")
    return worst


def cmd_remote_remove(args: argparse.Namespace) -> int:
    """Forget a server and its key."""
    with open_vault(args) as vault:
        remove_remote(vault, args.name, actor=ACTOR)
    print(f"organisation server {args.name!r} removed (conversations with its models stay)", file=sys.stderr)
    return 0
