"""The data-protection commands as a person runs them: output, audit entries, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.vault import FLOOR, RequestLogEntry, Vault
from tests.policy.conftest import PASSPHRASE, raw


@pytest.fixture()
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A vault with a few audit entries and ENCLAVE_PASSPHRASE set."""
    with Vault.init(home, PASSPHRASE, kdf=FLOOR)[0] as vault:
        for i in range(4):
            vault.audit.append("setting_change", actor="test", details={"key": f"k{i}", "value": i})
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    return home


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _events(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, object]]:
    code, out, err = _run(capsys, "audit", "show", "--json", *extra)
    assert code == 0, err
    events: list[dict[str, object]] = json.loads(out)
    return events


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("UPDATE audit SET time = '2020-01-01T00:00:00.000000+00:00' WHERE seq = 3", "entry 3: MAC mismatch"),
        ("DELETE FROM audit WHERE seq = 2", "entry 2: entry missing or reordered"),
        ("UPDATE audit SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END WHERE seq IN (2, 3)", "entry 2: MAC mismatch"),
        ("DELETE FROM audit WHERE seq >= 4", "entry 4: entry missing"),  # unlock appended after a gap
    ],
    ids=["edit", "delete", "reorder", "truncate"],
)
def test_audit_verify_names_the_first_broken_link_and_exits_2(
    cli_home: Path, capsys: pytest.CaptureFixture[str], tamper: str, message: str
) -> None:
    code, out, _ = _run(capsys, "audit", "verify")
    assert code == 0 and "audit chain intact" in out
    if "CASE" in tamper:  # swap two entries' positions through a free seq (the column is UNIQUE)
        raw(cli_home, "UPDATE audit SET seq = 999 WHERE seq = 2")
        raw(cli_home, "UPDATE audit SET seq = 2 WHERE seq = 3")
        raw(cli_home, "UPDATE audit SET seq = 3 WHERE seq = 999")
    else:
        raw(cli_home, tamper)
    code, _, err = _run(capsys, "audit", "verify")
    assert code == 2 and message in err and "Traceback" not in err


def test_edited_ciphertext_of_an_entry_is_found(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [(body,)] = raw(cli_home, "SELECT body FROM audit WHERE seq = 2")
    assert isinstance(body, bytes)
    raw(cli_home, "UPDATE audit SET body = ? WHERE seq = 2", (body[:-1] + bytes([body[-1] ^ 1]),))
    code, _, err = _run(capsys, "audit", "verify")
    assert code == 2 and "entry 2: record tampered" in err


def test_failed_unlocks_reach_the_chain_at_the_next_unlock(
    cli_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", "wrong")
    assert _run(capsys, "subject", "list")[0] == 1
    assert _run(capsys, "subject", "list")[0] == 1
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    events = _events(capsys)
    failed = [e for e in events if e["event"] == "unlock_failed"]
    assert len(failed) == 2 and all(e["details"]["at"] for e in failed)  # type: ignore[index]
    assert not (cli_home / "pending-audit.jsonl").exists()


def test_model_import_remove_default_are_audited(
    cli_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tiny_gguf: Path
) -> None:
    assert _run(capsys, "models", "import", str(tiny_gguf), "--name", "tiny")[0] == 0
    assert _run(capsys, "models", "default", "tiny")[0] == 0
    monkeypatch.delenv("ENCLAVE_PASSPHRASE")  # no passphrase: the event is queued, not lost
    assert _run(capsys, "models", "remove", "tiny")[0] == 0
    assert (cli_home / "pending-audit.jsonl").exists()
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    events = [(e["event"], e["details"].get("name")) for e in _events(capsys)]  # type: ignore[union-attr]
    assert [e for e in events if str(e[0]).startswith("model_")] == [
        ("model_import", "tiny"),
        ("model_default", "tiny"),
        ("model_remove", "tiny"),
    ]


def test_allowlist_refuses_an_unapproved_import(
    cli_home: Path, capsys: pytest.CaptureFixture[str], tiny_gguf: Path
) -> None:
    assert _run(capsys, "allowlist", "on")[0] == 0
    code, _, err = _run(capsys, "models", "import", str(tiny_gguf), "--name", "tiny")
    assert code == 1 and "is not approved" in err
    assert not list((cli_home / "models").glob("*.gguf*"))
    from engine.models.registry import hash_file

    sha = hash_file(tiny_gguf)
    assert _run(capsys, "allowlist", "approve", sha)[0] == 0
    assert _run(capsys, "models", "import", str(tiny_gguf), "--name", "tiny")[0] == 0
    code, out, _ = _run(capsys, "allowlist")
    assert "on (only approved models)" in out and sha in out
    names = [e["event"] for e in _events(capsys)]
    assert {"policy_violation", "model_approve", "model_import"} <= set(names)


def test_export_subject_bundle_and_erase_subject(
    cli_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with Vault.unlock(cli_home, PASSPHRASE) as vault:
        conv = vault.conversations.create("leave")
        vault.conversations.add_message(conv.id, "user", "Jane's question")
        vault.conversations.create("other")
    assert _run(capsys, "subject", "tag", conv.id, "--label", "Jane Roe")[0] == 0
    assert _run(capsys, "subject", "list")[1].split() == ["1", "Jane", "Roe"]
    code, out, _ = _run(capsys, "export", "--subject", "Jane Roe", "--out", str(tmp_path / "jane"))
    assert code == 0 and "exported 1 conversation(s)" in out
    manifest = json.loads((tmp_path / "jane" / "manifest.json").read_text())
    assert manifest["what"]["subject"] == "Jane Roe" and len(manifest["parts"]) == 1
    code, _, err = _run(capsys, "erase", "--subject", "Jane Roe")
    assert code == 1 and "--yes" in err
    code, out, _ = _run(capsys, "erase", "--subject", "Jane Roe", "--yes")
    assert code == 0 and "erased 1 conversation(s)" in out and "API" not in out  # requests carry no label
    assert _run(capsys, "import", str(tmp_path / "jane"))[1].strip() == "imported 1 conversation(s)"
    code, out, _ = _run(capsys, "export", "--all", "--out", str(tmp_path / "all"))
    assert code == 0 and "exported 2 conversation(s)" in out

    with Vault.unlock(cli_home, PASSPHRASE) as vault:
        vault.request_log.append(RequestLogEntry("hr", "tiny", 200, request_text="Jane's payslip", response_text="ok"))
        vault.request_log.append(RequestLogEntry("hr", "tiny", 200, request_text="the weather", response_text="rain"))
    code, out, _ = _run(capsys, "erase", "--match", "JANE", "--yes")
    assert code == 0 and "erased 1 conversation(s)" in out  # the imported copy of Jane's conversation
    assert "erased the prompt and reply texts of 1 logged API request(s)" in out
    code, out, _ = _run(capsys, "erase", "--all", "--yes")
    assert code == 0 and "erased 1 conversation(s)" in out and "texts of 1 logged API request(s)" in out
    with Vault.unlock(cli_home, PASSPHRASE) as vault:
        assert [e.request_text for e in vault.request_log.recent()] == [None, None]


def test_retention_commands(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "retention", "set", "conversations", "30")[0] == 0
    assert _run(capsys, "retention", "set", "api_content", "forever")[0] == 0
    assert _run(capsys, "retention", "hold", "on")[0] == 0
    code, out, _ = _run(capsys, "retention", "show")
    assert code == 0 and "30 days" in out and "ON: nothing expires" in out
    code, _, err = _run(capsys, "retention", "set", "audit", "3")
    assert code == 1 and "at least 30 days" in err
    code, out, _ = _run(capsys, "retention", "purge")
    assert code == 0 and out.startswith("purged: conversations 0")


def test_report_processing(cli_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _run(capsys, "report", "controller", "ACME GmbH")[0] == 0
    code, out, _ = _run(capsys, "report", "processing")
    assert code == 0 and "Record of processing activities" in out and "ACME GmbH" in out
    code, out, _ = _run(capsys, "report", "processing", "--json", "--out", str(tmp_path / "r.json"))
    assert code == 0 and json.loads((tmp_path / "r.json").read_text())["controller"] == "ACME GmbH"


def test_label_switch_needs_a_live_key_and_is_audited(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "labels", "off", "nope")
    assert code == 1 and "no active API key" in err
    with Vault.unlock(cli_home, PASSPHRASE) as vault:
        vault.api_keys.create("ci")
    assert _run(capsys, "labels", "off", "ci")[0] == 0
    with Vault.unlock(cli_home, PASSPHRASE) as vault:
        assert vault.api_keys.get("ci").label_replies is False
        assert vault.audit.entries()[-2].details == {"key": "ci", "labels": False}
