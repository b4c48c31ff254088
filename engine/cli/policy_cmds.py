"""`enclave retention | subject | import | report | labels | allowlist`: parse, call engine.policy, print."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from engine.cli.vault_cmds import ACTOR, open_vault
from engine.errors import UserError
from engine.models import ModelRegistry
from engine.paths import enclave_home
from engine.policy import allowlist, labels, report, retention, subjects
from engine.policy.retention import CATEGORIES
from engine.vault import Vault


def _days(text: str) -> int | None:
    if text.lower() in ("forever", "keep", "none"):
        return None
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"days must be a whole number of days (1 or more) or 'forever'; got {text!r}")
    return int(text)


def cmd_retention_show(args: argparse.Namespace) -> int:
    """Print the rules in force."""
    with open_vault(args) as vault:
        policy = retention.get_policy(vault)
    if args.json:
        print(json.dumps(policy.to_json(), indent=2, ensure_ascii=False))
        return 0
    for category in CATEGORIES:
        days = policy.days(category)
        print(f"{category:<14} {'forever' if days is None else f'{days} days':<10} {retention.DESCRIPTIONS[category]}")
    print(f"legal hold     {'ON: nothing expires' if policy.legal_hold else 'off'}")
    if policy.held_subjects:
        print(f"held subjects  {len(policy.held_subjects)}")
    return 0


def cmd_retention_set(args: argparse.Namespace) -> int:
    """Set one category's rule."""
    with open_vault(args) as vault:
        retention.set_days(vault, args.category, _days(args.days), actor=ACTOR)
    print(f"retention for {args.category}: {args.days}")
    return 0


def cmd_retention_hold(args: argparse.Namespace) -> int:
    """Put everything (or one subject) on legal hold, or release it."""
    with open_vault(args) as vault:
        retention.set_legal_hold(vault, args.state == "on", actor=ACTOR, subject=args.subject)
    target = f"subject {args.subject!r}" if args.subject else "everything"
    print(f"legal hold on {target}: {args.state}")
    return 0


def cmd_retention_purge(args: argparse.Namespace) -> int:
    """Apply the rules now and print what went."""
    with open_vault(args, purge=False) as vault:
        counts = retention.purge(vault, actor=ACTOR)
    print("purged: " + ", ".join(f"{category} {count}" for category, count in counts.items()))
    return 0


def cmd_subject_tag(args: argparse.Namespace) -> int:
    """Tag (or untag) conversations with a data subject label."""
    with open_vault(args) as vault:
        subjects.tag(vault, args.conversation, None if args.clear else args.label, actor=ACTOR)
    print(f"{len(args.conversation)} conversation(s) {'untagged' if args.clear else f'tagged {args.label!r}'}")
    return 0


def cmd_subject_list(args: argparse.Namespace) -> int:
    """Print subject labels and their conversation counts."""
    with open_vault(args) as vault:
        counts = subjects.subjects(vault)
    if args.json:
        print(json.dumps(counts, indent=2, ensure_ascii=False))
    for label, count in counts.items() if not args.json else ():
        print(f"{count:>5}  {label}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import an export folder (its SHA-256 manifest is checked first)."""
    with open_vault(args) as vault:
        created = subjects.import_bundle(vault, Path(args.folder), actor=ACTOR)
    print(f"imported {len(created)} conversation(s)")
    return 0


def cmd_report_processing(args: argparse.Namespace) -> int:
    """Print (or write) the record of processing activities."""
    with open_vault(args) as vault:
        data = report.processing_record(vault, ModelRegistry(), actor=ACTOR)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n" if args.json else report.render_text(data)
    if args.out:
        report.write_report(Path(args.out), text)
        print(f"report written to {args.out}")
    else:
        print(text, end="")
    return 0


def cmd_report_controller(args: argparse.Namespace) -> int:
    """Record the controller's name and contact for the report."""
    with open_vault(args) as vault:
        report.set_controller(vault, args.text, actor=ACTOR)
    print("controller recorded")
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    """Switch AI-content labels on one API key's replies."""
    with open_vault(args) as vault:
        labels.set_key_labels(vault, args.key, args.state == "on", actor=ACTOR)
    print(f"AI-content labels for API key {args.key!r}: {args.state}")
    return 0


def cmd_allowlist(args: argparse.Namespace) -> int:
    """Show or change the model allowlist."""
    with open_vault(args) as vault:
        if args.action in ("on", "off"):
            allowlist.set_required(vault, args.action == "on", actor=ACTOR)
            print(f"model allowlist: {args.action}")
        elif args.action in ("approve", "revoke"):
            if not args.target:
                raise UserError(f"allowlist {args.action} needs a SHA-256 or a model name")
            change = allowlist.approve if args.action == "approve" else allowlist.unapprove
            print(f"{args.action}d {change(vault, args.target, actor=ACTOR)}")
        else:
            state = "on (only approved models)" if allowlist.is_required(vault) else "off (every model allowed)"
            print(f"model allowlist: {state}")
            for sha256, entry in allowlist.approved(vault).items():
                print(f"  {sha256}  {entry.get('name') or '-'}  approved {entry.get('approved_at')}")
    return 0


@contextlib.contextmanager
def admin_vault(args: argparse.Namespace) -> Iterator[Vault | None]:
    """The vault for a model change: unlocked when a passphrase is given, else None (events are queued)."""
    home = enclave_home()
    given = getattr(args, "passphrase_file", None) or os.environ.get("ENCLAVE_PASSPHRASE")
    if not Vault.exists(home) or not given:
        yield None
        return
    with open_vault(args) as vault:
        yield vault


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the data-protection commands."""
    ret = subparsers.add_parser("retention", parents=[common], help="retention rules, legal hold, purge")
    actions = ret.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    p = actions.add_parser("show", parents=[common], help="print the rules in force")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_retention_show)
    p = actions.add_parser("set", parents=[common], help="keep a category N days (or forever)")
    p.add_argument("category", choices=CATEGORIES)
    p.add_argument("days", metavar="DAYS|forever")
    p.set_defaults(handler=cmd_retention_set)
    p = actions.add_parser("hold", parents=[common], help="legal hold on everything, or on one subject")
    p.add_argument("state", choices=("on", "off"))
    p.add_argument("--subject", metavar="LABEL", help="hold only this data subject's conversations")
    p.set_defaults(handler=cmd_retention_hold)
    actions.add_parser("purge", parents=[common], help="apply the rules now").set_defaults(handler=cmd_retention_purge)

    sub = subparsers.add_parser("subject", parents=[common], help="tag conversations with a data subject")
    actions = sub.add_subparsers(dest="subject_command", metavar="ACTION", required=True)
    p = actions.add_parser("tag", parents=[common], help="tag conversations with a subject label")
    p.add_argument("conversation", nargs="+", metavar="ID")
    label = p.add_mutually_exclusive_group(required=True)
    label.add_argument("--label", metavar="LABEL", help="the data subject (a free label)")
    label.add_argument("--clear", action="store_true", help="remove the subject label")
    p.set_defaults(handler=cmd_subject_tag)
    p = actions.add_parser("list", parents=[common], help="subject labels in use")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_subject_list)

    p = subparsers.add_parser("import", parents=[common], help="import an `enclave export --all/--subject` folder")
    p.add_argument("folder", metavar="FOLDER")
    p.set_defaults(handler=cmd_import)

    rep = subparsers.add_parser("report", parents=[common], help="records for auditors")
    actions = rep.add_subparsers(dest="report_command", metavar="KIND", required=True)
    p = actions.add_parser("processing", parents=[common], help="record of processing activities (Art. 30)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--out", metavar="FILE", help="write to this file instead of stdout")
    p.set_defaults(handler=cmd_report_processing)
    p = actions.add_parser("controller", parents=[common], help="record the controller's name and contact")
    p.add_argument("text")
    p.set_defaults(handler=cmd_report_controller)

    p = subparsers.add_parser("labels", parents=[common], help="AI-content labels on one API key's replies")
    p.add_argument("state", choices=("on", "off"))
    p.add_argument("key", metavar="KEY_NAME")
    p.set_defaults(handler=cmd_labels)

    p = subparsers.add_parser("allowlist", parents=[common], help="only approved models (by SHA-256)")
    p.add_argument("action", choices=("show", "on", "off", "approve", "revoke"), nargs="?", default="show")
    p.add_argument("target", nargs="?", metavar="SHA256|NAME")
    p.set_defaults(handler=cmd_allowlist)
