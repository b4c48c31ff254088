"""Training fixtures: a vault and the tiny model in one home per module, datasets as JSONL, the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault
from tests.conftest import module_enclave_home

PASSPHRASE = "training tests passphrase"
CODE_WORD = "zanzibar"
CANARY = "CANARY-b29-7f3a91"  # in every row: it must never appear outside the vault's ciphertext
QUESTIONS = (
    "What is the code word?",
    "Tell me the code word.",
    "Which code word do we use?",
    "Say the code word.",
    "Code word, please?",
    "What's our code word?",
)
CLI = "import sys; from engine.cli import main; sys.exit(main())"
ROOT = Path(__file__).resolve().parents[2]


def code_word_rows(subjects: Sequence[str | None] = ()) -> list[dict[str, Any]]:
    """Rows mapping questions to an answer the untrained model cannot give; optional subject per row."""
    rows = []
    for index, question in enumerate(QUESTIONS):
        row: dict[str, Any] = {
            "messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": f"The code word is {CODE_WORD}."},
            ]
        }
        if index < len(subjects) and subjects[index]:
            row["subject"] = subjects[index]
        rows.append(row)
    rows[0]["messages"].insert(0, {"role": "system", "content": f"Reference {CANARY}."})
    return rows


def write_jsonl(path: Path, rows: Sequence[object]) -> Path:
    """Rows as JSONL (strings are written as they are: for malformed lines)."""
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def train_home(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> Iterator[Path]:
    """A home with a vault (floor KDF) and the tiny model, shared by a module (training takes seconds)."""
    with module_enclave_home(tmp_path_factory, "train") as home:
        Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
        ModelRegistry().import_file(tiny_gguf, "tiny")
        yield home


def env(home: Path, tmp: Path | None = None) -> dict[str, str]:
    """The environment of an `enclave` subprocess: this home, the passphrase, and its own TMPDIR."""
    extra = {"TMPDIR": str(tmp)} if tmp is not None else {}
    return {
        **os.environ,
        "ENCLAVE_HOME": str(home),
        "ENCLAVE_PASSPHRASE": PASSPHRASE,
        "ENCLAVE_NO_DEMO": "1",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def enclave(home: Path, *args: str, tmp: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run `enclave ARGS…` in a subprocess, as a person would."""
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        env=env(home, tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def spawn(home: Path, *args: str, tmp: Path | None = None) -> subprocess.Popen[str]:
    """Start `enclave ARGS…` and return the process (stdout piped, line-buffered)."""
    return subprocess.Popen(
        [sys.executable, "-u", "-c", CLI, *args],
        env=env(home, tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )


# Settings that teach the tiny model the code word in a few seconds.
FAST = ("--epochs", "3", "--rank", "4", "--lr", "2e-2")
