"""The AEAD envelope: any flipped byte, any swapped ciphertext, is an integrity error, never garbage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.errors import IntegrityError
from engine.vault import FLOOR, RequestLogEntry, Vault, crypto
from engine.vault.documents import NewDocument, StoredChunk
from engine.vault.errors import RecordTampered
from engine.vault.schema import sealed_columns
from tests.vault.conftest import PASSPHRASE, raw_db


def _populate(vault: Vault) -> dict[str, str]:
    a = vault.conversations.create("alpha", model="m1", system_prompt="be brief")
    b = vault.conversations.create("beta")
    m1 = vault.conversations.add_message(a.id, "user", "first message")
    m2 = vault.conversations.add_message(a.id, "assistant", "second message")
    m3 = vault.conversations.add_message(b.id, "user", "other conversation")
    vault.settings.set("theme", "dark")
    vault.settings.set("font", 12)
    vault.api_keys.create("ci")
    vault.request_log.append(RequestLogEntry("ci", "m1", 200, request_text="q", response_text="a"))
    vault.responses.save("resp_1", "ci", {"output": "stored reply"})
    coll = vault.documents.create_collection("policies")
    doc = vault.documents.add(
        NewDocument(
            coll.id,
            "a.txt",
            "/a.txt",
            "0" * 64,
            "text",
            5,
            0,
            False,
            [{"text": "hello"}],
            [StoredChunk("hello", None, None)],
            np.ones((1, 4), np.float32),
            b"hello",
        )
    )
    dataset = vault.datasets.create({"name": "faq"}, [{"messages": [{"role": "user", "content": "row"}]}])
    job = vault.training_jobs.create({"name": "adapted", "status": "running"})
    blob = vault.training_jobs.put_blob(job.id, b"checkpoint bytes")
    return {
        "a": a.id, "b": b.id, "m1": m1.id, "m2": m2.id, "m3": m3.id, "doc": doc.id,
        "dataset": dataset.id, "job": job.id, "blob": blob,
    }


def test_envelope_layout_and_fresh_nonces() -> None:
    key_id = crypto.new_id()
    aead = AESGCM(bytes(crypto.new_key()))
    ad = crypto.associated_data("t", "c", "r", key_id)
    blobs = [crypto.seal(aead, key_id, ad, b"same plaintext") for _ in range(5000)]
    assert all(b[0] == crypto.ENVELOPE_VERSION and b[1:17].hex() == key_id for b in blobs)
    nonces = {b[17:29] for b in blobs}
    assert len(nonces) == len(blobs)  # random 96-bit nonces never repeated
    assert len({b[29:] for b in blobs}) == len(blobs)
    assert crypto.unseal(aead, blobs[0], ad) == b"same plaintext"
    with pytest.raises(crypto.Tampered):
        crypto.unseal(aead, blobs[0], crypto.associated_data("t", "c", "other-row", key_id))


def _read_all(vault: Vault, ids: dict[str, str]) -> None:
    vault.conversations.list()
    for conv in (ids["a"], ids["b"]):
        vault.conversations.messages(conv)
    vault.settings.all()
    vault.api_keys.list()
    vault.request_log.recent()
    vault.responses.export()
    vault.audit.entries()
    vault.documents.collections()
    doc = vault.documents.document(ids["doc"])
    vault.documents.load_chunks(doc)
    vault.documents.sections(doc.id)
    vault.documents.original(doc.id)
    vault.datasets.list()
    vault.datasets.rows(ids["dataset"])
    vault.training_jobs.list()
    vault.training_jobs.get_blob(ids["job"], ids["blob"])


@pytest.mark.parametrize(("table", "column"), [tc for tc in sealed_columns() if tc[0] != "header"])
def test_one_flipped_byte_in_any_stored_value_is_detected(home: Path, table: str, column: str) -> None:
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    ids = _populate(vault)
    vault.close()
    with raw_db(home) as conn:
        row_id, blob = conn.execute(f"SELECT id, {column} FROM {table} ORDER BY rowid DESC LIMIT 1").fetchone()
        # Flip one bit in the ciphertext body (past the envelope header).
        position = crypto.HEADER_LEN + (len(blob) - crypto.HEADER_LEN) // 2
        flipped = blob[:position] + bytes([blob[position] ^ 0x01]) + blob[position + 1 :]
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", [flipped, row_id])
    with Vault.unlock(home, PASSPHRASE) as v:
        problems = v.check()
        assert any(row_id in p for p in problems), problems
        with pytest.raises(IntegrityError) as info:
            _read_all(v, ids)
            v.audit.verify()
        assert info.value.exit_code == 2


def _swap(home: Path, first: tuple[str, str, str], second: tuple[str, str, str]) -> None:
    with raw_db(home) as conn:
        blobs = [conn.execute(f"SELECT {c} FROM {t} WHERE id = ?", [r]).fetchone()[0] for t, c, r in (first, second)]
        for (table, column, row_id), blob in zip((first, second), reversed(blobs), strict=True):
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", [blob, row_id])


def test_ciphertexts_swapped_between_rows_are_detected(vault: Vault, home: Path) -> None:
    ids = _populate(vault)
    vault.close()
    _swap(home, ("messages", "body", ids["m1"]), ("messages", "body", ids["m2"]))
    with Vault.unlock(home, PASSPHRASE) as v, pytest.raises(RecordTampered, match="messages row"):
        v.conversations.messages(ids["a"])


def test_ciphertexts_swapped_between_tables_are_detected(vault: Vault, home: Path) -> None:
    ids = _populate(vault)
    vault.close()
    # A message body moved into its own conversation's body: same key, other table and row.
    _swap(home, ("messages", "body", ids["m1"]), ("conversations", "body", ids["a"]))
    with Vault.unlock(home, PASSPHRASE) as v:
        with pytest.raises(RecordTampered, match="conversations row"):
            v.conversations.get(ids["a"])
        assert len(v.check()) >= 2


def test_message_moved_to_another_conversation_is_detected(vault: Vault, home: Path) -> None:
    ids = _populate(vault)
    vault.close()
    with raw_db(home) as conn:
        conn.execute("UPDATE messages SET conversation_id = ?, seq = 9 WHERE id = ?", [ids["b"], ids["m1"]])
    with Vault.unlock(home, PASSPHRASE) as v, pytest.raises(RecordTampered, match=ids["m1"]):
        v.conversations.messages(ids["b"])


def test_messages_reordered_by_plaintext_seq_are_detected(vault: Vault, home: Path) -> None:
    ids = _populate(vault)
    vault.close()
    with raw_db(home) as conn:
        conn.execute("UPDATE messages SET seq = 7 WHERE id = ?", [ids["m1"]])
    with Vault.unlock(home, PASSPHRASE) as v, pytest.raises(RecordTampered):
        v.conversations.messages(ids["a"])


def test_settings_swapped_between_names_are_detected(vault: Vault, home: Path) -> None:
    _populate(vault)
    with raw_db(home) as conn:
        rows = conn.execute("SELECT id FROM settings").fetchall()
    vault.close()
    _swap(home, ("settings", "body", rows[0][0]), ("settings", "body", rows[1][0]))
    with Vault.unlock(home, PASSPHRASE) as v, pytest.raises(RecordTampered, match="settings row"):
        v.settings.get("theme")


def test_a_destroyed_data_key_is_an_integrity_error(vault: Vault, home: Path) -> None:
    ids = _populate(vault)
    vault.close()
    with raw_db(home) as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("DELETE FROM data_keys WHERE id = (SELECT key_id FROM conversations WHERE id = ?)", [ids["b"]])
    with Vault.unlock(home, PASSPHRASE) as v:
        with pytest.raises(RecordTampered, match="data_keys"):
            v.conversations.get(ids["b"])
        assert v.conversations.get(ids["a"]).title == "alpha"
