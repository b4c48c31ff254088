"""Retention with a fake clock: expired data is gone for good, legal hold and held subjects are respected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.errors import IntegrityError, UserError
from engine.policy import retention
from engine.policy.retention import RetentionPolicy, RetentionTimer
from engine.vault import RequestLogEntry, Vault
from tests.policy.conftest import PASSPHRASE, raw, vault_bytes

NOW = dt.datetime.now(dt.UTC)
LATER = NOW + dt.timedelta(days=40)  # the fake clock: 40 days on


def _blobs(vault: Vault, sql: str) -> list[bytes]:
    return [bytes(r[0]) for r in vault.run_raw(lambda db: db.execute(sql).fetchall())]


def test_default_keeps_everything_forever(vault: Vault) -> None:
    conv = vault.conversations.create("kept")
    assert retention.get_policy(vault) == RetentionPolicy()
    counts = retention.purge(vault, now=LATER + dt.timedelta(days=3650))
    assert counts == dict.fromkeys(("conversations", "api_content", "api_metadata", "documents", "audit"), 0)
    assert vault.conversations.get(conv.id).title == "kept"
    assert vault.audit.entries()[-1].event == "retention_purge"  # a manual purge is on record even if empty


def test_expired_conversations_are_shredded_and_unrecoverable(vault: Vault, home: Path) -> None:
    old = vault.conversations.create("old chat")
    vault.conversations.add_message(old.id, "user", "expired canary 7d1f")
    retention.set_days(vault, "conversations", 30, actor="cli")
    ciphertexts = _blobs(vault, "SELECT body FROM messages") + _blobs(vault, "SELECT body FROM conversations")
    key_id = vault.run_raw(lambda db: db.execute("SELECT key_id FROM conversations").fetchone()[0])
    assert retention.purge(vault, now=NOW + dt.timedelta(days=29))["conversations"] == 0
    fresh = vault.conversations.create("fresh chat")  # updated now: 40 days later it is 40 days old too
    counts = retention.purge(vault, now=LATER, actor="cli")
    assert counts["conversations"] == 2 and vault.conversations.list() == []
    purge_event = vault.audit.entries()[-1]
    assert purge_event.event == "retention_purge" and purge_event.details["counts"]["conversations"] == 2
    assert "old chat" not in str(purge_event.details) and fresh.id not in str(purge_event.details)
    vault.close()
    assert raw(home, "SELECT COUNT(*) FROM data_keys WHERE id = ?", (key_id,)) == [(0,)]
    on_disk = vault_bytes(home)
    assert all(blob not in on_disk for blob in ciphertexts)  # not in the db, the -wal or a backup
    assert b"expired canary" not in on_disk
    with Vault.unlock(home, PASSPHRASE) as again:
        again.audit.verify()


def test_legal_hold_stops_every_purge(vault: Vault) -> None:
    conv = vault.conversations.create("under hold")
    vault.request_log.append(RequestLogEntry("k", "m", 200, request_text="q", response_text="a", time=NOW))
    for category in ("conversations", "api_content", "api_metadata"):
        retention.set_days(vault, category, 1, actor="cli")
    retention.set_days(vault, "audit", 30, actor="cli")
    retention.set_legal_hold(vault, True, actor="cli")
    assert sum(retention.purge(vault, now=LATER).values()) == 0
    assert vault.conversations.get(conv.id).title == "under hold"
    assert vault.request_log.recent()[0].request_text == "q"
    assert vault.audit.entries()[0].event == "init"
    retention.set_legal_hold(vault, False, actor="cli")
    assert retention.purge(vault, now=LATER)["conversations"] == 1


def test_held_subject_keeps_only_that_persons_conversations(vault: Vault) -> None:
    held = vault.conversations.create("litigation", subject="Jane Roe")
    other = vault.conversations.create("other", subject="John Doe")
    retention.set_days(vault, "conversations", 30, actor="cli")
    retention.set_legal_hold(vault, True, actor="cli", subject="Jane Roe")
    assert retention.purge(vault, now=LATER)["conversations"] == 1
    assert [c.id for c in vault.conversations.list()] == [held.id]
    assert other.id not in {c.id for c in vault.conversations.list()}


def test_api_content_is_crypto_shredded_and_metadata_kept(vault: Vault, home: Path) -> None:
    old = NOW - dt.timedelta(days=40)
    vault.request_log.append(
        RequestLogEntry("k", "m", 200, 3, 4, request_text="old secret q", response_text="a", time=old)
    )
    vault.request_log.append(RequestLogEntry("k", "m", 200, request_text="new q", response_text="b", time=NOW))
    before = _blobs(vault, "SELECT body FROM request_log ORDER BY time")
    keys_before = vault.run_raw(lambda db: db.execute("SELECT COUNT(*) FROM data_keys").fetchone()[0])
    retention.set_days(vault, "api_content", 30, actor="cli")
    retention.set_days(vault, "api_metadata", 365, actor="cli")
    counts = retention.purge(vault, now=NOW)
    assert counts["api_content"] == 1 and counts["api_metadata"] == 0
    newest, oldest = vault.request_log.recent()
    assert (oldest.request_text, oldest.response_text, oldest.prompt_tokens) == (None, None, 3)
    assert newest.request_text == "new q"
    # The old day's key is gone (crypto-shredded), the current day's key stays.
    assert vault.run_raw(lambda db: db.execute("SELECT COUNT(*) FROM data_keys").fetchone()[0]) == keys_before - 1
    assert vault.check() == []
    vault.close()
    assert before[0] not in vault_bytes(home) and before[1] in vault_bytes(home)


def test_api_metadata_expiry_deletes_rows(vault: Vault) -> None:
    vault.request_log.append(RequestLogEntry("k", "m", 200, request_text="q", time=NOW - dt.timedelta(days=400)))
    retention.set_days(vault, "api_metadata", 365, actor="cli")
    assert retention.purge(vault, now=NOW)["api_metadata"] == 1
    assert vault.request_log.recent() == []


def test_audit_retention_keeps_a_verifiable_chain(vault: Vault, home: Path) -> None:
    for i in range(5):
        vault.audit.append("custom", actor="t", details={"i": i})
    retention.set_days(vault, "audit", 30, actor="cli")
    counts = retention.purge(vault, now=LATER)
    assert counts["audit"] == 7  # init, 5 custom, the rule change
    entries = vault.audit.entries()
    assert [e.event for e in entries] == ["retention_purge"] and entries[0].seq == 8
    vault.audit.verify()
    vault.audit.append("custom", actor="t")
    vault.audit.verify()
    vault.close()
    # Moving the recorded start without the key is detected.
    raw(home, "UPDATE header SET audit_base_seq = audit_base_seq - 1")
    with Vault.unlock(home, PASSPHRASE) as again, pytest.raises(IntegrityError, match="start was altered"):
        again.audit.verify()


def test_audit_cannot_expire_sooner_than_a_month(vault: Vault) -> None:
    with pytest.raises(UserError, match="at least 30 days"):
        retention.set_days(vault, "audit", 7, actor="cli")
    with pytest.raises(UserError, match="unknown data category"):
        retention.set_days(vault, "photos", 7, actor="cli")
    with pytest.raises(UserError, match="administrator"):
        retention.set_days(vault, "conversations", 7, actor="api:ci")


def test_rule_changes_are_audited(vault: Vault) -> None:
    retention.set_days(vault, "conversations", 90, actor="gui")
    event = vault.audit.entries()[-1]
    assert (event.event, event.actor, event.details["value"]["conversations"]) == ("setting_change", "gui", 90)


def test_timer_purges_at_start_and_then_daily(vault: Vault) -> None:
    vault.conversations.create("old")
    retention.set_days(vault, "conversations", 30, actor="cli")
    clock = iter([LATER, LATER + dt.timedelta(days=1), LATER + dt.timedelta(days=2)])
    timer = RetentionTimer(vault, actor="serve", interval_s=0.05, clock=lambda: next(clock, LATER))
    timer.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while timer.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        timer.stop()
    purges = [e for e in vault.audit.entries() if e.event == "retention_purge"]
    assert vault.conversations.list() == [] and timer.runs >= 2
    assert [p.details["trigger"] for p in purges] == ["start"]  # the empty daily rounds leave no entry


def test_preview_counts_what_purge_erases_and_changes_nothing(vault: Vault) -> None:
    old = vault.conversations.create("old")
    vault.conversations.add_message(old.id, "user", "text")
    vault.request_log.append(RequestLogEntry("k", "m", 200, request_text="q", response_text="a", time=NOW))
    vault.request_log.append(RequestLogEntry("k", "m", 200, time=NOW))
    policy = RetentionPolicy().with_days({"conversations": 30, "api_content": 30, "api_metadata": 30})
    before = vault.audit.entries()
    preview = retention.preview(vault, policy, now=LATER)
    assert {category: n for category, n in preview.items() if n} == {
        "conversations": 1,
        "api_content": 1,
        "api_metadata": 2,
    }
    assert vault.audit.entries() == before and len(vault.conversations.list()) == 1  # a dry run
    assert retention.preview(vault, policy, now=NOW) == dict.fromkeys(preview, 0)
    retention.set_policy(vault, policy, actor="cli")
    assert retention.purge(vault, now=LATER, actor="cli") == preview
