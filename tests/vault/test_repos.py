"""Repositories: conversations, messages, search, settings, API keys, request log, audit chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

import pytest

from engine.errors import IntegrityError, NotFoundError, UserError
from engine.vault import RequestLogEntry, Vault
from engine.vault.search import SearchIndex
from tests.vault.conftest import PASSPHRASE, all_bytes, raw_db


def test_conversation_lifecycle(vault: Vault) -> None:
    a = vault.conversations.create("Alpha", model="m1", system_prompt="be brief", subject="work")
    b = vault.conversations.create("Beta")
    assert (a.title, a.model, a.system_prompt, a.subject, a.message_count) == ("Alpha", "m1", "be brief", "work", 0)
    vault.conversations.add_message(a.id, "user", "hi", metadata={"tokens": 1})
    assert [c.id for c in vault.conversations.list()] == [a.id, b.id]  # newest-updated first
    vault.conversations.rename(b.id, "Beta 2")
    vault.conversations.set_model(b.id, "m2")
    vault.conversations.set_system_prompt(b.id, "sys")
    got = vault.conversations.get(b.id)
    assert (got.title, got.model, got.system_prompt) == ("Beta 2", "m2", "sys")
    assert vault.conversations.list()[0].id == b.id
    with pytest.raises(NotFoundError):
        vault.conversations.get("0" * 32)
    with pytest.raises(NotFoundError):
        vault.conversations.add_message("0" * 32, "user", "x")
    with pytest.raises(UserError):
        vault.conversations.add_message(a.id, "wizard", "x")


def test_messages_in_order_and_delete_from(vault: Vault) -> None:
    conv = vault.conversations.create("c")
    msgs = [vault.conversations.add_message(conv.id, role, f"m{i}") for i, role in enumerate(["user", "assistant"] * 3)]
    stored = vault.conversations.messages(conv.id)
    assert [m.content for m in stored] == [f"m{i}" for i in range(6)]
    assert [m.seq for m in stored] == [1, 2, 3, 4, 5, 6]
    assert stored[0].metadata is None and stored[0].created_at.tzinfo is not None
    assert vault.conversations.delete_messages_from(conv.id, msgs[3].id) == 3
    assert [m.content for m in vault.conversations.messages(conv.id)] == ["m0", "m1", "m2"]
    assert vault.conversations.get(conv.id).message_count == 3
    again = vault.conversations.add_message(conv.id, "assistant", "regenerated")
    assert again.seq == 4
    with pytest.raises(NotFoundError):
        vault.conversations.delete_messages_from(conv.id, msgs[5].id)


def test_search_is_case_insensitive_cjk_safe_and_kept_in_sync(vault: Vault) -> None:
    cn = vault.conversations.create("项目计划")
    en = vault.conversations.create("Holiday")
    vault.conversations.add_message(cn.id, "user", "我们明天讨论预算和时间表")
    m = vault.conversations.add_message(en.id, "user", "Book the HOTEL in Lisbon")
    assert [(h.conversation_id, h.message_id) for h in vault.conversations.search("预算")] == [
        (cn.id, vault.conversations.messages(cn.id)[0].id)
    ]
    assert [h.conversation_id for h in vault.conversations.search("计划")] == [cn.id]
    hits = vault.conversations.search("hotel")
    assert [(h.message_id, h.role) for h in hits] == [(m.id, "user")] and "HOTEL" in hits[0].snippet
    # Index built now; later writes must show up without rebuilding.
    later = vault.conversations.add_message(en.id, "assistant", "Hotel booked near the river")
    assert {h.message_id for h in vault.conversations.search("HOTEL")} == {m.id, later.id}
    vault.conversations.rename(en.id, "Lisbon trip")
    assert [h.message_id for h in vault.conversations.search("trip")] == [None]
    vault.conversations.delete_messages_from(en.id, later.id)
    assert {h.message_id for h in vault.conversations.search("hotel")} == {m.id}
    vault.conversations.erase(cn.id)
    assert vault.conversations.search("预算") == []
    assert len(vault.conversations.search("o", limit=2)) == 2
    assert vault.conversations.search("   ") == []


def test_search_index_is_fast_on_100k_messages() -> None:
    index = SearchIndex()
    for c in range(1000):
        index.put_conversation(f"c{c}", f"conversation {c}")
        for m in range(100):
            index.add_message(
                f"c{c}", f"m{c}-{m}", "user", f"message {m} of conversation {c}, 一些中文内容 lorem ipsum"
            )
    index.add_message("c7", "needle", "assistant", "the rare Zebrafish appears once")
    start = time.perf_counter()
    hits = index.search("zebrafish", 50)
    elapsed = time.perf_counter() - start
    assert [h.message_id for h in hits] == ["needle"]
    assert elapsed < 0.5, f"search over 100k messages took {elapsed:.3f}s"


def test_settings(vault: Vault, home: Path) -> None:
    assert vault.settings.get("missing", 42) == 42
    vault.settings.set("theme", "dark")
    vault.settings.set("limits", {"rpm": 10, "names": ["a", "b"]})
    vault.settings.set("theme", "light")
    assert vault.settings.get("theme") == "light"
    assert vault.settings.all() == {"theme": "light", "limits": {"rpm": 10, "names": ["a", "b"]}}
    assert vault.settings.delete("theme") and not vault.settings.delete("theme")
    assert vault.settings.all() == {"limits": {"rpm": 10, "names": ["a", "b"]}}


def test_api_keys_store_only_a_hash_and_verify(vault: Vault, home: Path) -> None:
    record, secret = vault.api_keys.create("ci-bot", models=["tiny"], rpm=30, tokens_per_day=1000, store_content=False)
    assert secret.startswith(f"enc-{record.id}-") and len(secret) > 60
    assert (record.models, record.rpm, record.tokens_per_day, record.store_content) == (("tiny",), 30, 1000, False)
    assert record.allows_model("tiny") and not record.allows_model("other")
    assert vault.api_keys.verify(secret) == record
    assert vault.api_keys.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert vault.api_keys.verify("enc-" + "0" * 32 + "-" + "x" * 43) is None
    assert vault.api_keys.verify("Bearer nonsense") is None
    with pytest.raises(UserError, match="already exists"):
        vault.api_keys.create("ci-bot")
    assert vault.api_keys.get("ci-bot").id == record.id
    vault.api_keys.revoke("ci-bot")
    assert vault.api_keys.verify(secret) is None
    assert vault.api_keys.get("ci-bot").revoked
    with pytest.raises(NotFoundError):
        vault.api_keys.revoke("ci-bot")
    _, second = vault.api_keys.create("ci-bot")  # the name is free again
    assert [k.revoked for k in vault.api_keys.list()] == [True, False]
    vault.close()
    raw = b"".join(all_bytes(home).values())
    for s in (secret, second):
        assert s.encode() not in raw
        assert hashlib.sha256(s.encode()).hexdigest().encode() not in raw  # the hash is inside the envelope


def test_request_log(vault: Vault) -> None:
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    vault.request_log.append(RequestLogEntry("k", "m", 200, 5, 7, 12.5, "question", "answer", time=t0))
    vault.request_log.append(RequestLogEntry("nostore", "m", 429, time=t0 + dt.timedelta(seconds=1)))
    recent = vault.request_log.recent()
    assert [e.key_name for e in recent] == ["nostore", "k"]
    assert recent[1].request_text == "question" and recent[1].latency_ms == 12.5 and recent[1].time == t0
    assert recent[0].request_text is None and recent[0].response_text is None
    assert vault.request_log.recent(limit=1)[0].key_name == "nostore"
    assert vault.request_log.delete_before(t0 + dt.timedelta(milliseconds=500)) == 1


def test_request_log_rows_written_before_cached_tokens_read_as_none_cached(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.vault.request_log as request_log

    # A row as an earlier version wrote it: its body has no cached_prompt_tokens.
    monkeypatch.setattr(request_log, "_FIELDS", [f for f in request_log._FIELDS if f != "cached_prompt_tokens"])
    vault.request_log.append(RequestLogEntry("old", "m", 200, 5, 7))
    monkeypatch.undo()
    vault.request_log.append(RequestLogEntry("new", "m", 200, 5, 7, cached_prompt_tokens=4))
    entries = {e.key_name: e for e in vault.request_log.recent(10)}
    assert entries["old"].cached_prompt_tokens == 0 and entries["new"].cached_prompt_tokens == 4
    assert entries["old"].prompt_tokens == 5


def test_request_log_texts_are_erased_by_match_and_their_old_ciphertext_scrubbed(vault: Vault, home: Path) -> None:
    vault.request_log.append(RequestLogEntry("k", "m", 200, 5, 7, request_text="About Jane", response_text="ok"))
    vault.request_log.append(RequestLogEntry("k", "m", 200, 3, 2, request_text="weather", response_text="rain"))
    vault.request_log.append(RequestLogEntry("nostore", "m", 200, 1, 1))
    wal = home / "vault.db-wal"
    assert wal.stat().st_size > 0  # the sealed texts are in the WAL now
    assert vault.request_log.erase_texts("  ") == 0  # an empty match selects nothing
    assert vault.request_log.erase_texts("jane") == 1
    by_key = {(e.key_name, e.prompt_tokens): e for e in vault.request_log.recent()}
    assert by_key[("k", 5)].request_text is None and by_key[("k", 5)].completion_tokens == 7
    assert by_key[("k", 3)].request_text == "weather"
    assert not wal.exists() or wal.stat().st_size == 0  # the frames holding the old ciphertext are gone
    assert vault.request_log.erase_texts(None) == 1  # all that still has texts: the weather request
    assert all(e.request_text is None and e.response_text is None for e in vault.request_log.recent())


def test_audit_chain_records_and_verifies(vault: Vault) -> None:
    vault.audit.append("custom", actor="tester", details={"n": 1, "text": "ü"})
    entries = vault.audit.entries()
    assert [e.event for e in entries] == ["init", "custom"]
    assert [e.seq for e in entries] == [1, 2] and entries[1].details == {"n": 1, "text": "ü"}
    vault.audit.verify()
    assert vault.audit.entries(since=entries[1].time) == entries[1:]


def _tamper_audit(home: Path, sql: str) -> None:
    with raw_db(home) as conn:
        conn.executescript(sql)


def _chain(vault: Vault) -> None:
    for i in range(4):
        vault.audit.append("event", actor="t", details={"i": i})
    vault.close()


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM audit WHERE seq = 3",  # delete in the middle
        "UPDATE audit SET seq = -2 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3;"
        " UPDATE audit SET seq = 3 WHERE seq = -2",  # reorder
        "UPDATE audit SET time = '2020-01-01T00:00:00.000000+00:00' WHERE seq = 2",  # edit
        "UPDATE audit SET body = (SELECT body FROM audit WHERE seq = 4) WHERE seq = 3",  # swap content
        "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)",  # truncate the end
        "UPDATE audit SET mac = (SELECT mac FROM audit WHERE seq = 4) WHERE seq = 3",
    ],
)
def test_audit_verify_detects_tampering(vault: Vault, home: Path, sql: str) -> None:
    _chain(vault)
    with Vault.unlock(home, PASSPHRASE) as v:
        v.audit.verify()
    # Unlock appended an entry: tamper with what is there now.
    _tamper_audit(home, sql)
    with Vault.unlock(home, PASSPHRASE) as v, pytest.raises(IntegrityError, match="audit chain broken") as info:
        v.audit.verify()
    assert info.value.exit_code == 2


def test_audit_truncation_with_a_rewritten_head_count_is_detected(vault: Vault, home: Path) -> None:
    _chain(vault)
    with raw_db(home) as conn:
        conn.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
        conn.execute("UPDATE header SET audit_count = audit_count - 1")
    with Vault.unlock(home, PASSPHRASE) as v, pytest.raises(IntegrityError, match="audit chain broken"):
        v.audit.verify()


def test_audit_head_pins_the_chain_length(vault: Vault, home: Path) -> None:
    for i in range(3):
        vault.audit.append("event", actor="t", details={"i": i})
    # Another connection edits the file under the open vault (what a disk-level attacker can do).
    with raw_db(home) as conn:
        conn.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
        conn.execute(
            "UPDATE header SET audit_count = audit_count - 1,"
            " audit_head = (SELECT mac FROM audit ORDER BY seq DESC LIMIT 1)"
        )
    with pytest.raises(IntegrityError, match="head was altered"):
        vault.audit.verify()


def test_keys_made_before_the_private_default_keep_logging(vault: Vault) -> None:
    """Content logging became opt-in: a key stored before (its body may lack the field) still logs."""
    record, _ = vault.api_keys.create("legacy", store_content=True)
    store = vault._store  # the repository's own sealing, to write a body as an older release did

    def strip_field(db):  # type: ignore[no-untyped-def]
        body = db.execute("SELECT body FROM api_keys WHERE id = ?", [record.id]).fetchone()[0]
        data = store.open_json(db, "api_keys", "body", record.id, body, store.stream_keys["api_keys"])
        del data["store_content"], data["expires_at"]
        sealed = store.seal_json(db, "api_keys", "body", record.id, store.stream_keys["api_keys"], data)
        db.execute("UPDATE api_keys SET body = ? WHERE id = ?", [sealed, record.id])

    vault.run_raw(strip_field)
    legacy = vault.api_keys.get("legacy")
    assert legacy.store_content and legacy.expires_at is None and legacy.live()
    fresh, _ = vault.api_keys.create("fresh")
    assert not fresh.store_content  # new keys: metadata only unless asked
