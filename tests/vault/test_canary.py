"""A canary written through every path never appears in any file under ENCLAVE_HOME (or temp files)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from engine.cli import main
from engine.vault import FLOOR, RequestLogEntry, Vault
from tests.vault.conftest import PASSPHRASE


def _forms(canary: str) -> list[bytes]:
    return [canary.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")]


def _leaks(folder: Path, canaries: list[str]) -> list[str]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for canary in canaries:
            found += [f"{path.name}: {form!r}" for form in _forms(canary) if form in data]
    return found


def test_canaries_never_reach_a_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # SQLite's temp files, if any, land here
    tag = secrets.token_hex(6)
    latin, cjk = f"CANARY-{tag}", f"金丝雀{tag}"
    canaries = [latin, cjk]

    def c(where: str) -> str:
        return f"{latin} {where} {cjk}"

    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    conv = vault.conversations.create(c("title"), model=c("model"), system_prompt=c("system"), subject=c("subject"))
    vault.conversations.add_message(conv.id, "user", c("message") * 50, metadata={"note": c("metadata")})
    vault.conversations.add_message(conv.id, "assistant", c("reply"))
    vault.conversations.rename(conv.id, c("renamed"))
    vault.settings.set(c("setting-name"), {"v": c("setting-value")})
    vault.api_keys.create(c("key-name"), models=[c("key-model")])
    vault.request_log.append(
        RequestLogEntry(c("log-key"), c("log-model"), 200, request_text=c("req"), response_text=c("resp"))
    )
    vault.audit.append(c("event"), actor=c("actor"), details={"d": c("details")})
    assert vault.conversations.search(latin)  # the decrypted index exists in memory, and only there
    vault.backup(home / "backups" / "manual.db")
    export = vault.export_json(tmp_path / "export-PLAINTEXT.json")

    # While open: the database, its -wal and -shm, the lock file, backups.
    assert (home / "vault.db-wal").exists()
    assert _leaks(home, canaries) == []
    vault.close()

    # Through the CLI as well (its export goes outside ENCLAVE_HOME, as exports are plaintext by design).
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    assert main(["vault", "backup", str(home / "backups" / "cli.db")]) == 0
    assert main(["export", "--out", str(tmp_path / "cli-export-PLAINTEXT.json")]) == 0
    capsys.readouterr()

    assert len(list((home / "backups").iterdir())) == 2
    assert _leaks(home, canaries) == []
    assert _leaks(temp, canaries) == []
    # Control: the scanner does find the canary where it is meant to be in clear.
    assert _leaks(export.parent, canaries) and latin.encode() in export.read_bytes()
