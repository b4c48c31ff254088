"""`enclave datasets import | from-conversations | list | remove` and `enclave train`: fine-tuning, CLI."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from engine.cli.vault_cmds import open_vault
from engine.errors import UserError
from engine.models import ModelRegistry
from engine.training.jobs import Progress, Training, TrainRequest

ACTOR = "cli"


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the `datasets` group and the `train` command."""
    datasets = subparsers.add_parser("datasets", parents=[common], help="fine-tuning datasets in the vault")
    sub = datasets.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)
    p = sub.add_parser("import", parents=[common], help="validate a JSONL file and store it encrypted")
    p.add_argument("path", type=Path, metavar="FILE.jsonl")
    p.add_argument("--name", required=True, help="the dataset's name")
    p.add_argument("--subject", metavar="LABEL", help="data subject of every row without its own \"subject\"")
    p.set_defaults(handler=cmd_import)
    p = sub.add_parser(
        "from-conversations", parents=[common], help="build a dataset from conversations, one row each"
    )
    p.add_argument("ids", nargs="+", metavar="ID", help="conversation ids")
    p.add_argument("--name", required=True, help="the dataset's name")
    p.add_argument("--subject", metavar="LABEL", help="data subject of every conversation without its own label")
    p.add_argument("--model", metavar="BASE", help="check token lengths against this base model's context now")
    p.set_defaults(handler=cmd_from_conversations)
    p = sub.add_parser("list", parents=[common], help="list datasets (names, rows, hashes; no content)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_list)
    p = sub.add_parser("remove", parents=[common], help="crypto-shred a dataset")
    p.add_argument("name")
    p.set_defaults(handler=cmd_remove)

    train = subparsers.add_parser("train", parents=[common], help="train a LoRA adapter on a dataset")
    train.add_argument("--model", metavar="BASE", help="the base model")
    train.add_argument("--dataset", metavar="N", help="the dataset's name")
    train.add_argument("--name", metavar="ADAPTED", help="the adapted model's name")
    train.add_argument("--epochs", type=int, metavar="E", help="passes over the training rows (default 3)")
    train.add_argument("--rank", type=int, metavar="R", help="LoRA rank (default 8)")
    train.add_argument("--lr", type=float, metavar="X", help="learning rate (default 2e-4)")
    train.add_argument("--legal-basis", metavar="TEXT", help="why this personal data may train a model (recorded)")
    train.add_argument("--checkpoint-every", type=int, metavar="STEPS", help="steps between checkpoints (default 25)")
    train.add_argument("--restart", action="store_true", help="start over instead of resuming an unfinished job")
    train.add_argument("--retrain", metavar="ADAPTED", help="train an adapted model again on its dataset as it is now")
    train.set_defaults(handler=cmd_train)


def cmd_import(args: argparse.Namespace) -> int:
    """Import a dataset (validated whole first; nothing is stored when a row is bad)."""
    with open_vault(args) as vault:
        info = Training(vault, ModelRegistry(), actor=ACTOR).datasets.import_file(
            args.path, args.name, subject=args.subject
        )
    subjects = f"; subjects: {', '.join(info.subjects)}" if info.subjects else ""
    print(f"Imported {info.name}: {info.rows} rows ({info.held_out} held out), sha256 {info.sha256}{subjects}")
    return 0


def cmd_from_conversations(args: argparse.Namespace) -> int:
    """Build a dataset from conversations (validated whole first; nothing is stored when one is unfit)."""
    with open_vault(args) as vault:
        info = Training(vault, ModelRegistry(), actor=ACTOR).dataset_from_conversations(
            args.ids, args.name, subject=args.subject, model=args.model
        )
    subjects = f"; subjects: {', '.join(info.subjects)}" if info.subjects else ""
    counts = f"{info.rows} conversations ({info.held_out} held out)"
    print(f"Built {info.name} from {counts}, sha256 {info.sha256}{subjects}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print the datasets."""
    with open_vault(args) as vault:
        infos = Training(vault, ModelRegistry(), actor=ACTOR).datasets.list()
    if args.json:
        print(json.dumps([i.to_json() for i in infos], indent=2))
        return 0
    if not infos:
        print("No datasets yet. Import one: enclave datasets import FILE.jsonl --name NAME")
        return 0
    print(f"{'NAME':<24} {'ROWS':>6} {'HELD OUT':>8}  {'SUBJECTS':<20} SHA-256")
    for i in infos:
        print(f"{i.name:<24} {i.rows:>6} {i.held_out:>8}  {len(i.subjects):<20} {i.sha256}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Crypto-shred a dataset."""
    with open_vault(args) as vault:
        Training(vault, ModelRegistry(), actor=ACTOR).datasets.remove(args.name)
    print(f"Removed dataset {args.name}; its key is destroyed")
    return 0


def _request(args: argparse.Namespace) -> TrainRequest:
    missing = [flag for flag, value in (("--model", args.model), ("--dataset", args.dataset), ("--name", args.name))
               if not value]
    if missing:
        raise UserError(f"train needs {', '.join(missing)} (or --retrain ADAPTED)")
    return TrainRequest(
        args.model,
        args.dataset,
        args.name,
        args.epochs,
        args.rank,
        args.lr,
        args.legal_basis,
        args.restart,
        args.checkpoint_every,
    )


def _print(progress: Iterator[Progress]) -> None:
    for item in progress:
        print(item.line(), flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    """Train (or resume, or retrain) an adapter, printing progress; Ctrl-C stops at a checkpoint."""
    cancel = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        cancel.set()  # the loop saves a checkpoint and stops before its next step

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with open_vault(args) as vault:
            training = Training(vault, ModelRegistry(), actor=ACTOR)
            if args.retrain:
                _print(training.retrain(args.retrain, cancel))
            else:
                _print(training.train(_request(args), cancel))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sys.stdout.flush()
    return 0
