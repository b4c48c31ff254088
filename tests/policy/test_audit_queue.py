"""The queue of events recorded while the vault is locked cannot forge the audit chain.

An attacker who can write beside the vault appends lines to `pending-audit.jsonl`; the next real unlock
(`enclave audit show` here, as a person runs it) must keep anything but the locked kinds out of the
chain, mark what it lets in, record every rejection, and read a bounded amount.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.policy import audit_queue
from engine.vault import FLOOR, Vault
from tests.policy.conftest import PASSPHRASE

FORGED_ERASE = {
    "event": "erase", "actor": "cli", "details": {"conversations": 12}, "time": "2020-01-01T00:00:00+00:00",
}


@pytest.fixture()
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A vault (floor KDF) and ENCLAVE_PASSPHRASE set."""
    Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    return home


def append_lines(home: Path, *lines: bytes) -> None:
    """What an attacker with write access to ENCLAVE_HOME does."""
    with (home / audit_queue.PENDING).open("ab") as handle:
        for line in lines:
            handle.write(line + b"\n")


def events(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """`enclave audit show --json` (which unlocks, and so moves the queue into the chain)."""
    assert main(["audit", "show", "--json"]) == 0
    shown: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return shown


def verify(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify"]) == 0
    assert "audit chain intact" in capsys.readouterr().out


def violations(shown: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e["details"] for e in shown if e["event"] == "policy_violation"]  # type: ignore[misc]


def test_a_forged_erase_never_enters_the_chain_and_is_itself_recorded(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append_lines(cli_home, json.dumps(FORGED_ERASE).encode())
    shown = events(capsys)
    assert not [e for e in shown if e["event"] == "erase"]
    [rejected] = violations(shown)
    assert rejected["rule"] == "pending_audit_queue" and "'erase' cannot happen while" in str(rejected["reason"])
    assert "2020-01-01" in str(rejected["line"])  # what was tried is on record (encrypted)
    assert not (cli_home / audit_queue.PENDING).exists()
    verify(capsys)


def test_locked_events_are_marked_and_keep_their_claimed_time(
    cli_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", "wrong")
    assert main(["audit", "show"]) == 1  # a real failed unlock, queued
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    forged_import = {"event": "model_import", "actor": "cli", "details": {"name": "x", "sha256": "0" * 64},
                     "time": "2020-01-01T00:00:00+00:00"}
    append_lines(cli_home, json.dumps(forged_import).encode())
    shown = events(capsys)
    [failed] = [e for e in shown if e["event"] == "unlock_failed"]
    [imported] = [e for e in shown if e["event"] == "model_import"]
    for entry in (failed, imported):
        assert entry["details"]["recorded_while_locked"] is True  # type: ignore[index]
    # The chain time is the unlock that moved it in; the queue's claim is kept beside it, as a claim.
    assert imported["details"]["at"] == "2020-01-01T00:00:00+00:00"  # type: ignore[index]
    assert str(imported["time"]) > "2021"
    verify(capsys)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (json.dumps({**FORGED_ERASE, "event": "model_remove", "details": {"name": "m", "note": "x"}}), "details"),
        (json.dumps({**FORGED_ERASE, "event": "model_remove", "details": {"name": "m"}, "actor": "api:k"}), "actor"),
        (json.dumps({**FORGED_ERASE, "event": "model_remove", "details": {"name": ["m"]}}), "short string"),
        (json.dumps({**FORGED_ERASE, "event": "model_remove", "details": {"name": "m"}, "time": "soon"}), "time"),
        (json.dumps({**FORGED_ERASE, "event": "unlock_failed", "details": {}, "extra": 1}), "not an event"),
        ("[" * 100_000, "too long"),
        ("not json at all", "not JSON"),
    ],
    ids=["extra-detail", "api-actor", "non-string", "bad-time", "extra-field", "deep-nesting", "garbage"],
)
def test_malformed_lines_are_rejected_and_recorded(
    cli_home: Path, capsys: pytest.CaptureFixture[str], line: str, reason: str
) -> None:
    append_lines(cli_home, line.encode())
    shown = events(capsys)
    assert not [e for e in shown if str(e["event"]).startswith("model_")]
    [rejected] = violations(shown)
    assert reason in str(rejected["reason"])
    verify(capsys)


def test_the_queue_is_bounded(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = json.dumps({"event": "unlock_failed", "actor": "cli", "details": {}, "time": "2026-01-01T00:00:00+00:00"})
    flood = (line.encode() + b"\n") * (3 * audit_queue.MAX_QUEUE_BYTES // (len(line) + 1))
    (cli_home / audit_queue.PENDING).write_bytes(flood)
    # A full queue takes nothing more (a failed unlock is then not queued, and flush says it was full).
    assert audit_queue.defer(cli_home, "unlock_failed", actor="cli") is False
    assert (cli_home / audit_queue.PENDING).stat().st_size == len(flood)
    shown = events(capsys)
    failed = [e for e in shown if e["event"] == "unlock_failed"]
    assert 0 < len(failed) <= audit_queue.MAX_QUEUE_BYTES // len(line)
    assert any("queue over" in str(v.get("reason")) for v in violations(shown))
    verify(capsys)


def test_defer_refuses_events_that_cannot_happen_while_locked(cli_home: Path) -> None:
    with pytest.raises(audit_queue.RejectedLine):
        audit_queue.defer(cli_home, "erase", actor="cli")


def test_an_event_deferred_by_another_process_is_chained(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A real `models remove` without a passphrase, in its own process, queues model_remove.
    env_code = (
        "import sys, os; os.environ.pop('ENCLAVE_PASSPHRASE'); from engine.policy import audit_queue; "
        f"audit_queue.defer(__import__('pathlib').Path({str(cli_home)!r}), 'model_remove', actor='cli', "
        "details={'name': 'gone'})"
    )
    subprocess.run([sys.executable, "-c", env_code], check=True, timeout=60)
    [removed] = [e for e in events(capsys) if e["event"] == "model_remove"]
    assert removed["details"] == {"name": "gone", "at": removed["details"]["at"],  # type: ignore[index]
                                  "recorded_while_locked": True}
