"""`enclave datasets …`: OpenAI-format JSONL validated whole, stored only encrypted, bad rows named by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.training.dataset import DatasetInvalid, dataset_sha256, parse_dataset
from engine.vault import FLOOR, Vault
from tests.policy.conftest import raw
from tests.training.conftest import CANARY, PASSPHRASE, code_word_rows, write_jsonl


@pytest.fixture()
def home(enclave_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh vault; the passphrase in the environment."""
    enclave_home.mkdir(parents=True)
    Vault.init(enclave_home, PASSPHRASE, kdf=FLOOR)[0].close()
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    return enclave_home


def vault_files(home: Path) -> bytes:
    """Every byte ENCLAVE_HOME holds."""
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


def test_import_list_and_remove(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = code_word_rows(subjects=[None, "alice"])
    source = write_jsonl(tmp_path / "data.jsonl", rows)
    assert main(["datasets", "import", str(source), "--name", "codes", "--subject", "bob"]) == 0
    assert "6 rows (1 held out)" in capsys.readouterr().out
    assert main(["datasets", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(d["name"], d["rows"], d["held_out"], d["subjects"]) for d in listed] == [("codes", 6, 1, ["alice", "bob"])]
    assert listed[0]["sha256"] == dataset_sha256(parse_dataset(source.read_bytes(), subject="bob"))
    assert CANARY not in json.dumps(listed)
    # The rows are in the vault, and only as ciphertext.
    assert raw(home, "SELECT count(*) FROM dataset_rows") == [(6,)]
    assert CANARY.encode() not in vault_files(home)
    assert main(["datasets", "import", str(source), "--name", "codes"]) == 1  # the name is taken
    assert "already exists" in capsys.readouterr().err
    assert main(["datasets", "remove", "codes"]) == 0
    assert raw(home, "SELECT count(*) FROM dataset_rows") == [(0,)]
    assert raw(home, "SELECT count(*) FROM datasets") == [(0,)]
    events = [e for e in _audit(capsys) if e.startswith("dataset_")]
    assert events == ["dataset_import", "dataset_remove"]


def _audit(capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["audit", "show"]) == 0
    return [line.split()[2] for line in capsys.readouterr().out.splitlines() if line.strip()[:1].isdigit()]


def test_malformed_dataset_is_refused_with_line_numbers_and_leaves_nothing(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = code_word_rows()
    lines: list[object] = [
        good[0],
        '{"messages": [{"role": "user", "content": "unfinished"',  # line 2: not JSON
        good[1],
        {"messages": [{"role": "robot", "content": "beep"}, {"role": "assistant", "content": "ok"}]},  # 4
        good[0],  # line 5: duplicates line 1
        {"messages": [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "last"}]},  # 6
        {"prompt": "legacy format", "completion": "no"},  # 7
        good[2],
    ]
    source = write_jsonl(tmp_path / "bad.jsonl", lines)
    before = vault_files(home)
    assert main(["datasets", "import", str(source), "--name", "bad"]) == 1
    err = capsys.readouterr().err
    assert "5 bad row(s); nothing was imported" in err
    for expected in ("line 2: not valid JSON", "line 4: message 1 has role 'robot'", "line 5: duplicates line 1",
                     "line 6: the last message must be the assistant's answer", "line 7: unknown field(s)"):
        assert expected in err
    assert "Traceback" not in err
    assert raw(home, "SELECT count(*) FROM datasets") == [(0,)]
    assert raw(home, "SELECT count(*) FROM dataset_rows") == [(0,)]
    assert "dataset_import" not in _audit(capsys)
    assert CANARY.encode() not in vault_files(home) and len(vault_files(home)) >= len(before) // 2


def test_validation_rules() -> None:
    one = json.dumps(code_word_rows()[1]).encode()
    with pytest.raises(DatasetInvalid, match="line 1: not UTF-8"):
        parse_dataset(b"\xff\xfe\x00garbage")
    with pytest.raises(Exception, match="at least 2 rows"):
        parse_dataset(one)
    rows = parse_dataset(b"\n".join(json.dumps(r).encode() for r in code_word_rows()) + b"\n\n")
    assert [r.line for r in rows] == [1, 2, 3, 4, 5, 6]  # blank lines carry no row
    assert sum(r.held_out for r in rows) == 1
    again = parse_dataset(b"\n".join(json.dumps(r).encode() for r in reversed(code_word_rows())))
    held = [r.messages for r in rows if r.held_out]
    assert held == [r.messages for r in again if r.held_out]  # the split follows the content, not the order
    weightless = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0}]}
    with pytest.raises(DatasetInvalid, match="no assistant message to learn from"):
        parse_dataset((json.dumps(weightless) + "\n" + json.dumps(code_word_rows()[0])).encode())


def test_erasing_a_subject_removes_its_rows_and_keeps_a_held_out_split(home: Path) -> None:
    from engine.models import ModelRegistry
    from engine.training.jobs import Training

    rows = code_word_rows()
    held_line = next(r.line for r in parse_dataset(b"\n".join(json.dumps(r).encode() for r in rows)) if r.held_out)
    rows[held_line - 1]["subject"] = "carol"  # the subject's row is the only held-out one
    data = b"\n".join(json.dumps(r).encode() for r in rows)
    with Vault.unlock(home, PASSPHRASE) as vault:
        training = Training(vault, ModelRegistry(), actor="test")
        before = training.datasets.import_bytes(data, "codes")
        done = training.erase_subject("carol", actor="test")
        after = training.datasets.find("codes")
        kept = training.datasets.rows(after)
    assert done["rows"] == 1 and after.rows == 5 and after.subjects == ()
    assert after.sha256 != before.sha256 and after.sha256 == dataset_sha256(kept)
    assert sum(r.held_out for r in kept) == 1 and all(r.line != held_line for r in kept)
    assert all(r.subject is None for r in kept)
