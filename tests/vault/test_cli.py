"""`enclave init | vault … | export | erase | audit …`: in-process with capsys, and real processes for exit codes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from engine.cli import main
from engine.vault import Vault
from tests.vault.conftest import CLI, PASSPHRASE, ROOT, raw_db, sub_env

FAST_KDF = ["--kdf-memory-mib", "19", "--kdf-iterations", "2", "--kdf-lanes", "1"]


@pytest.fixture()
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """A vault made through `enclave init`, with ENCLAVE_PASSPHRASE set."""
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    assert main(["init", *FAST_KDF]) == 0
    out = capsys.readouterr().out
    match = re.search(r"^\s+([A-Z2-7]{5}(?:-[A-Z2-7]{5}){7})$", out, re.MULTILINE)
    assert match and "write it down" in out
    (home / "recovery.txt").write_text(match.group(1))
    return home


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_init_twice_is_a_user_error(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "init", *FAST_KDF)
    assert code == 1 and err.strip() == "enclave: a vault already exists here; nothing was changed"


def test_init_refuses_weak_kdf(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    code, _, err = _run(capsys, "init", "--kdf-memory-mib", "4")
    assert code == 1 and "too weak" in err
    assert not Vault.exists(home)


def test_check_ok_then_tampered(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Vault.unlock(cli_home, PASSPHRASE) as v:
        conv = v.conversations.create("t")
        msg = v.conversations.add_message(conv.id, "user", "hello")
    code, out, _ = _run(capsys, "vault", "check")
    assert code == 0 and "vault ok" in out
    with raw_db(cli_home) as conn:
        blob = conn.execute("SELECT body FROM messages").fetchone()[0]
        conn.execute("UPDATE messages SET body = ?", [blob[:-1] + bytes([blob[-1] ^ 1])])
    code, _, err = _run(capsys, "vault", "check")
    assert code == 2 and f"messages row {msg.id}" in err and err.count("\n") == 1


def test_passwd_and_recover(
    cli_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    new_file = cli_home.parent / "new.txt"
    new_file.write_text("second passphrase\n")
    assert _run(capsys, "vault", "passwd", "--new-passphrase-file", str(new_file))[0] == 0
    code, _, err = _run(capsys, "vault", "check")
    assert code == 1 and err.strip() == "enclave: wrong passphrase"
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", "second passphrase")
    assert _run(capsys, "vault", "check")[0] == 0
    bad = cli_home.parent / "bad.txt"
    bad.write_text("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA")
    monkeypatch.setenv("ENCLAVE_NEW_PASSPHRASE", "third passphrase")
    code, _, err = _run(capsys, "vault", "recover", "--recovery-key-file", str(bad))
    assert code == 1 and "wrong recovery key" in err
    code, _, _ = _run(capsys, "vault", "recover", "--recovery-key-file", str(cli_home / "recovery.txt"))
    assert code == 0
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", "third passphrase")
    assert _run(capsys, "vault", "check")[0] == 0
    events = json.loads(_run(capsys, "audit", "show", "--json")[1])
    assert {"init", "unlock", "passwd", "recover"} <= {e["event"] for e in events}


def test_backup_restore_export_erase(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Vault.unlock(cli_home, PASSPHRASE) as v:
        keep = v.conversations.create("keep")
        v.conversations.add_message(keep.id, "user", "kept text")
        drop = v.conversations.create("drop")
    backup = cli_home.parent / "backup.db"
    assert _run(capsys, "vault", "backup", str(backup))[0] == 0 and backup.exists()
    out_file = cli_home.parent / "export.json"
    code, out, _ = _run(capsys, "export", "--out", str(out_file), "--conversation", keep.id)
    assert code == 0 and "NOT encrypted" in out
    assert json.loads(out_file.read_text())["conversations"][0]["messages"] == [
        {"role": "user", "content": "kept text"}
    ]
    assert _run(capsys, "erase", "--conversation", drop.id)[0] == 0
    code, _, err = _run(capsys, "erase", "--all")
    assert code == 1 and "--yes" in err
    assert _run(capsys, "erase", "--all", "--yes")[0] == 0
    with Vault.unlock(cli_home, PASSPHRASE) as v:
        assert v.conversations.list() == []
    code, out, _ = _run(capsys, "vault", "restore", str(backup))
    assert code == 0 and "restored" in out
    with Vault.unlock(cli_home, PASSPHRASE) as v:
        assert {c.title for c in v.conversations.list()} == {"keep", "drop"}


def test_audit_show_since_and_verify(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "audit", "show")
    assert code == 0 and re.search(r"^\s+1\s+\S+\s+init\s+local", out, re.MULTILINE)
    assert _run(capsys, "audit", "show", "--json", "--since", "2999-01-01")[1].strip() == "[]"
    assert _run(capsys, "audit", "show", "--since", "yesterday")[0] == 1
    code, out, _ = _run(capsys, "audit", "verify")
    assert code == 0 and "intact" in out
    with raw_db(cli_home) as conn:
        conn.execute("DELETE FROM audit WHERE seq = 2")
    code, _, err = _run(capsys, "audit", "verify")
    assert code == 2 and "audit chain broken at entry 2" in err


def _cli(home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], cwd=ROOT, env=sub_env(home, **env), capture_output=True, text=True, timeout=60, check=False
    )


def test_exit_codes_from_a_real_process(home: Path) -> None:
    missing = _cli(home, "vault", "check", ENCLAVE_PASSPHRASE=PASSPHRASE)
    assert missing.returncode == 1 and "run `enclave init` first" in missing.stderr
    made = _cli(home, "init", *FAST_KDF, ENCLAVE_PASSPHRASE=PASSPHRASE)
    assert made.returncode == 0, made.stderr
    wrong = _cli(home, "vault", "check", ENCLAVE_PASSPHRASE="wrong")
    assert (wrong.returncode, wrong.stderr) == (1, "enclave: wrong passphrase\n")
    with Vault.unlock(home, PASSPHRASE) as v:
        import os

        busy = _cli(home, "vault", "check", ENCLAVE_PASSPHRASE=PASSPHRASE)
        assert (busy.returncode, busy.stderr) == (3, f"enclave: vault is in use by PID {os.getpid()}\n")
        v.conversations.add_message(v.conversations.create("x").id, "user", "y")
    with raw_db(home) as conn:
        blob = conn.execute("SELECT body FROM messages").fetchone()[0]
        conn.execute("UPDATE messages SET body = ?", [blob[:40] + bytes([blob[40] ^ 4]) + blob[41:]])
    tampered = _cli(home, "vault", "check", ENCLAVE_PASSPHRASE=PASSPHRASE)
    assert tampered.returncode == 2 and "record tampered" in tampered.stderr
    for result in (missing, wrong, busy, tampered):
        assert "Traceback" not in result.stderr
