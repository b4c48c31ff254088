"""`enclave init | vault … | export | erase | audit …`: parse, call engine.vault, print."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from pathlib import Path

from engine.cli.passphrase import read_passphrase
from engine.errors import IntegrityError, UserError
from engine.paths import enclave_home
from engine.policy import audit_events, retention, subjects
from engine.vault import Vault
from engine.vault.errors import VaultExists, VaultMissing
from engine.vault.header import DEFAULT_KDF, KdfParams

ACTOR = "cli"


def open_vault(args: argparse.Namespace, *, purge: bool = True) -> Vault:
    """Unlock the vault in ENCLAVE_HOME (failed attempts are audited), then run the retention purge."""
    home = enclave_home()
    if not Vault.exists(home):
        raise VaultMissing
    vault = audit_events.unlock(home, read_passphrase(args), actor=ACTOR)
    if purge:  # diagnostics (check, audit) skip it so they report a damaged chain themselves
        try:
            retention.purge_at_start(vault, actor=ACTOR)
        except BaseException:
            vault.close()
            raise
    return vault


def read_new_passphrase(args: argparse.Namespace) -> str:
    """The new passphrase: --new-passphrase-file, $ENCLAVE_NEW_PASSPHRASE, or a prompt (twice)."""
    file_arg = getattr(args, "new_passphrase_file", None)
    if file_arg:
        try:
            passphrase = Path(file_arg).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise UserError(f"cannot read new passphrase file: {exc.strerror}") from None
    elif os.environ.get("ENCLAVE_NEW_PASSPHRASE"):
        passphrase = os.environ["ENCLAVE_NEW_PASSPHRASE"]
    elif sys.stdin.isatty():
        passphrase = getpass.getpass("New passphrase: ")
        if getpass.getpass("Repeat new passphrase: ") != passphrase:
            raise UserError("the two passphrases differ; nothing was changed")
    else:
        raise UserError("no new passphrase: set ENCLAVE_NEW_PASSPHRASE or pass --new-passphrase-file PATH")
    if not passphrase:
        raise UserError("the new passphrase is empty")
    return passphrase


def _read_recovery_key(args: argparse.Namespace) -> str:
    if args.recovery_key_file:
        try:
            return Path(args.recovery_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UserError(f"cannot read recovery key file: {exc.strerror}") from None
    if sys.stdin.isatty():
        return getpass.getpass("Recovery key: ")
    raise UserError("no recovery key: pass --recovery-key-file PATH or run on a terminal")


def cmd_init(args: argparse.Namespace) -> int:
    """Create the vault and print the recovery key once."""
    home = enclave_home()
    if Vault.exists(home):
        raise VaultExists
    kdf = KdfParams(
        memory_kib=(args.kdf_memory_mib * 1024) if args.kdf_memory_mib else DEFAULT_KDF.memory_kib,
        iterations=args.kdf_iterations or DEFAULT_KDF.iterations,
        lanes=args.kdf_lanes or DEFAULT_KDF.lanes,
    )
    kdf.check()
    passphrase = read_passphrase(args, confirm=True)
    vault, recovery_key = Vault.init(home, passphrase, kdf=kdf)
    vault.close()
    print(f"Vault created in {home}.")
    print()
    print("Recovery key (shown only this once; write it down and keep it somewhere safe):")
    print()
    print(f"    {recovery_key}")
    print()
    print("With it you can set a new passphrase if you forget yours (`enclave vault recover`).")
    print("Nothing else can open the vault without the passphrase.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Check SQLite integrity, every envelope and the audit chain."""
    with open_vault(args, purge=False) as vault:
        problems = vault.check()
        conversations = len(vault.conversations.list())
    if problems:
        for problem in problems[1:]:
            print(problem)
        more = f" (and {len(problems) - 1} more, listed above)" if len(problems) > 1 else ""
        raise IntegrityError(problems[0] + more)
    print(f"vault ok: {conversations} conversation(s), every record authenticated, audit chain intact")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    """Change the passphrase (rewraps the master key only)."""
    with open_vault(args) as vault:
        old = read_passphrase(args)
        vault.change_passphrase(old, read_new_passphrase(args))
    print("passphrase changed")
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    """Set a new passphrase with the recovery key."""
    home = enclave_home()
    if not Vault.exists(home):
        raise VaultMissing
    recovery_key = _read_recovery_key(args)
    Vault.unlock_with_recovery(home, recovery_key, read_new_passphrase(args)).close()
    print("passphrase reset; the recovery key stays valid")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Write an encrypted, consistent copy of the vault."""
    with open_vault(args) as vault:
        path = vault.backup(Path(args.path), actor=ACTOR)
    print(f"backup written to {path} (encrypted; it opens with the current passphrase or the recovery key)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Replace the vault with a backup (the passphrase must open the backup)."""
    home = enclave_home()
    passphrase = read_passphrase(args, prompt="Passphrase of the backup: ")
    Vault.restore(home, Path(args.path), passphrase=passphrase)
    print(f"restored from {args.path}; the replaced vault, if any, was kept in {home / 'backups'}")
    return 0


def _selection(args: argparse.Namespace) -> subjects.Selection | None:
    if args.subject is None and args.match is None and not args.all:
        return None
    return subjects.Selection(subject=args.subject, match=args.match, all=args.all).validated()


def cmd_export(args: argparse.Namespace) -> int:
    """Export conversations: one JSON file, or (by subject, match or all) a folder with a manifest."""
    selection = _selection(args)
    if selection is not None:
        with open_vault(args) as vault:
            manifest = subjects.export_bundle(vault, Path(args.out), selection, actor=ACTOR)
        print(f"exported {manifest['what']['conversations']} conversation(s) to {args.out}/ (see manifest.json)")
        print("note: these files are NOT encrypted")
        return 0
    with open_vault(args) as vault:
        path = vault.export_json(Path(args.out), args.conversation, actor=ACTOR)
        count = len(json.loads(path.read_text(encoding="utf-8"))["conversations"])
    print(f"exported {count} conversation(s) to {path}")
    print("note: this file is NOT encrypted")
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    """Crypto-shred one conversation, a subject's, a search's or all of them (with the API texts they cover)."""
    if (args.all or args.subject is not None or args.match is not None) and not args.yes:
        if not sys.stdin.isatty():
            raise UserError("erase --all, --subject and --match need --yes when not run on a terminal")
        prompt = "This destroys the chosen conversations (and the API request texts they cover) for good."
        if input(f"{prompt} Type ERASE to go on: ").strip() != "ERASE":
            raise UserError("nothing was erased")
    with open_vault(args) as vault:
        if args.subject is not None or args.match is not None or args.all:
            selection = subjects.Selection(subject=args.subject, match=args.match, all=args.all)
            from engine.models import ModelRegistry
            from engine.training.jobs import Training  # a subject's training rows, and adapters made from them

            training = Training(vault, ModelRegistry(), actor=ACTOR)
            erased = subjects.erase(vault, selection, actor=ACTOR, erasers=[training])
            print(f"erased {erased.conversations} conversation(s); their keys are destroyed")
            if erased.elsewhere.get("rows"):
                print(f"erased {erased.elsewhere['rows']} training row(s) of this subject")
            for name in erased.elsewhere.get("adapters", ()):
                print(
                    f"withdrew adapted model {name} (trained on this subject's data): `enclave train --retrain "
                    f"{name}` retrains it without them, `enclave models remove {name}` deletes it"
                )
            if args.subject is None:
                print(f"erased the prompt and reply texts of {erased.api_requests} logged API request(s)")
        else:
            vault.conversations.erase(args.conversation, actor=ACTOR)
            print(f"erased conversation {args.conversation}; its key is destroyed")
    return 0


def _since(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--since wants an ISO date or time, like 2025-01-31 or 2025-01-31T12:00; got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def cmd_audit_show(args: argparse.Namespace) -> int:
    """Print audit events."""
    since = _since(args.since)
    with open_vault(args, purge=False) as vault:
        entries = vault.audit.entries(since=since)
    if args.json:
        rows = [
            {
                "seq": e.seq,
                "time": e.time.isoformat(),
                "event": e.event,
                "actor": e.actor,
                "details": e.details,
            }
            for e in entries
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for e in entries:
            details = json.dumps(e.details, ensure_ascii=False, sort_keys=True) if e.details else ""
            when = e.time.isoformat(timespec="seconds")
            print(f"{e.seq:>6}  {when}  {e.event:<8}  {e.actor:<10}  {details}".rstrip())
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Verify the audit chain; exit 2 on a broken link."""
    with open_vault(args, purge=False) as vault:
        vault.audit.verify()
        count = len(vault.audit.entries())
    print(f"audit chain intact: {count} entries")
    return 0


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add init, vault, export, erase and audit to the `enclave` parser."""
    init = subparsers.add_parser("init", parents=[common], help="create the encrypted vault")
    init.add_argument("--kdf-memory-mib", type=int, metavar="MIB", help="Argon2id memory (default 64, floor 19)")
    init.add_argument("--kdf-iterations", type=int, metavar="N", help="Argon2id iterations (default 3, floor 2)")
    init.add_argument("--kdf-lanes", type=int, metavar="N", help="Argon2id lanes (default 4)")
    init.set_defaults(handler=cmd_init)

    vault = subparsers.add_parser("vault", parents=[common], help="check, back up, restore, change passphrase")
    actions = vault.add_subparsers(dest="vault_command", metavar="ACTION", required=True)
    actions.add_parser("check", parents=[common], help="verify every record").set_defaults(handler=cmd_check)
    passwd = actions.add_parser("passwd", parents=[common], help="change the passphrase")
    passwd.add_argument("--new-passphrase-file", metavar="PATH", help="read the new passphrase from this file")
    passwd.set_defaults(handler=cmd_passwd)
    recover = actions.add_parser("recover", parents=[common], help="set a new passphrase with the recovery key")
    recover.add_argument("--recovery-key-file", metavar="PATH", help="read the recovery key from this file")
    recover.add_argument("--new-passphrase-file", metavar="PATH", help="read the new passphrase from this file")
    recover.set_defaults(handler=cmd_recover)
    backup = actions.add_parser("backup", parents=[common], help="write an encrypted copy of the vault")
    backup.add_argument("path", metavar="PATH")
    backup.set_defaults(handler=cmd_backup)
    restore = actions.add_parser("restore", parents=[common], help="replace the vault with a backup")
    restore.add_argument("path", metavar="PATH")
    restore.set_defaults(handler=cmd_restore)

    export = subparsers.add_parser("export", parents=[common], help="export conversations as plaintext JSON")
    export.add_argument(
        "--out", required=True, metavar="PATH", help="JSON file; with --subject/--match/--all a new folder"
    )
    chosen = export.add_mutually_exclusive_group()
    chosen.add_argument("--conversation", metavar="ID", help="only this conversation")
    chosen.add_argument("--subject", metavar="LABEL", help="every conversation tagged with this data subject")
    chosen.add_argument("--match", metavar="TEXT", help="every conversation whose title or messages contain TEXT")
    chosen.add_argument("--all", action="store_true", help="every conversation, as a folder with a manifest")
    export.set_defaults(handler=cmd_export)

    erase = subparsers.add_parser("erase", parents=[common], help="destroy conversations and their keys")
    target = erase.add_mutually_exclusive_group(required=True)
    target.add_argument("--conversation", metavar="ID", help="erase this conversation")
    target.add_argument("--all", action="store_true", help="erase every conversation and all logged API texts")
    target.add_argument("--subject", metavar="LABEL", help="erase every conversation tagged with this data subject")
    target.add_argument(
        "--match", metavar="TEXT", help="erase every conversation, and every logged API text, that contains TEXT"
    )
    erase.add_argument("--yes", action="store_true", help="skip the typed confirmation")
    erase.set_defaults(handler=cmd_erase)

    audit = subparsers.add_parser("audit", parents=[common], help="show or verify the audit chain")
    audit_actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    show = audit_actions.add_parser("show", parents=[common], help="print audit events")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--since", metavar="ISO", help="only events at or after this time")
    show.set_defaults(handler=cmd_audit_show)
    audit_actions.add_parser("verify", parents=[common], help="verify the chain").set_defaults(handler=cmd_audit_verify)
