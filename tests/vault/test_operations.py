"""Whole-vault operations: check, backup, restore, export, erase (crypto-shredding)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.errors import IntegrityError, NotFoundError, UserError
from engine.vault import Vault
from engine.vault.errors import VaultInUse, WrongPassphrase
from tests.vault.conftest import PASSPHRASE, all_bytes, file_hashes, raw_db


def test_check_is_clean_on_a_sound_vault(vault: Vault) -> None:
    conv = vault.conversations.create("c")
    vault.conversations.add_message(conv.id, "user", "x")
    vault.settings.set("a", 1)
    assert vault.check() == []


def test_backup_is_consistent_standalone_and_opens_elsewhere(vault: Vault, home: Path, tmp_path: Path) -> None:
    conv = vault.conversations.create("backed up")
    vault.conversations.add_message(conv.id, "user", "in the WAL right now")
    target = vault.backup(tmp_path / "out" / "backup.db")
    assert target.exists() and not Path(str(target) + "-wal").exists()
    assert not list(target.parent.glob("*.part"))
    other = tmp_path / "other-home"
    other.mkdir()
    shutil.copyfile(target, other / "vault.db")
    with Vault.unlock(other, PASSPHRASE) as copy:
        assert copy.conversations.messages(conv.id)[0].content == "in the WAL right now"
        assert copy.check() == []
    assert vault.audit.entries()[-1].event == "backup"


def test_restore_replaces_the_vault_and_keeps_the_old_one(vault: Vault, home: Path, tmp_path: Path) -> None:
    kept = vault.conversations.create("kept")
    backup = vault.backup(tmp_path / "b.db")
    later = vault.conversations.create("added after the backup")
    with pytest.raises(VaultInUse):
        Vault.restore(home, backup, passphrase=PASSPHRASE)
    vault.close()
    before = file_hashes(home)
    with pytest.raises(WrongPassphrase):
        Vault.restore(home, backup, passphrase="not it")
    assert file_hashes(home) == before
    with pytest.raises(UserError, match="no backup file"):
        Vault.restore(home, tmp_path / "missing.db", passphrase=PASSPHRASE)
    Vault.restore(home, backup, passphrase=PASSPHRASE)
    with Vault.unlock(home, PASSPHRASE) as v:
        assert [c.id for c in v.conversations.list()] == [kept.id]
        assert "restore" in [e.event for e in v.audit.entries()]
        v.audit.verify()
    saved = list((home / "backups").glob("vault-before-restore-*.db"))
    assert len(saved) == 1
    other = tmp_path / "saved-home"
    other.mkdir()
    shutil.copyfile(saved[0], other / "vault.db")
    with Vault.unlock(other, PASSPHRASE) as old:
        assert later.id in {c.id for c in old.conversations.list()}


def test_restore_refuses_a_damaged_backup(vault: Vault, home: Path, tmp_path: Path) -> None:
    conv = vault.conversations.create("c")
    vault.conversations.add_message(conv.id, "user", "payload")
    with raw_db(home) as conn:
        blob = conn.execute("SELECT body FROM messages").fetchone()[0]
    backup = vault.backup(tmp_path / "b.db")
    vault.close()
    data = backup.read_bytes()
    at = data.index(blob[29:61]) + 5
    backup.write_bytes(data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1 :])
    before = file_hashes(home)
    with pytest.raises(IntegrityError, match="backup is damaged.*messages row"):
        Vault.restore(home, backup, passphrase=PASSPHRASE)
    assert file_hashes(home) == before
    backup.write_bytes(data[: len(data) // 2])
    with pytest.raises(IntegrityError):
        Vault.restore(home, backup, passphrase=PASSPHRASE)
    assert file_hashes(home) == before


def test_export_is_openai_shaped_and_whole(vault: Vault, tmp_path: Path) -> None:
    a = vault.conversations.create("A", model="m", system_prompt="be brief")
    vault.conversations.add_message(a.id, "user", "hi", metadata={"tokens": 2})
    vault.conversations.add_message(a.id, "assistant", "hello")
    b = vault.conversations.create("B")
    out = vault.export_json(tmp_path / "export.json")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["format"] == "enclave-export" and doc["encrypted"] is False
    by_id = {c["id"]: c for c in doc["conversations"]}
    assert set(by_id) == {a.id, b.id}
    assert by_id[a.id]["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    assert by_id[a.id]["message_metadata"][0]["metadata"] == {"tokens": 2}
    one = json.loads(vault.export_json(tmp_path / "one.json", a.id).read_text(encoding="utf-8"))
    assert [c["id"] for c in one["conversations"]] == [a.id]
    with pytest.raises(NotFoundError):
        vault.export_json(tmp_path / "none.json", "0" * 32)
    assert not (tmp_path / "none.json").exists() and not list(tmp_path.glob("*.part"))
    assert vault.audit.entries()[-1].event == "export"


def _chunks(blob: bytes) -> list[bytes]:
    body = blob[29:]  # past version, key id and nonce: pure ciphertext
    return [body[i : i + 32] for i in range(0, len(body) - 32, max(32, len(body) // 8))]


def _vault_files(home: Path) -> bytes:
    return b"".join(data for path, data in all_bytes(home).items() if path.name.startswith("vault.db"))


def test_erase_destroys_the_key_and_scrubs_the_bytes(vault: Vault, home: Path) -> None:
    gone = vault.conversations.create("to be erased")
    for i in range(5):
        vault.conversations.add_message(gone.id, "user", f"secret {i} " + "x" * (i * 4000))  # overflow pages too
    stays = vault.conversations.create("stays")
    vault.conversations.add_message(stays.id, "user", "still here")
    with raw_db(home) as conn:
        key_id = conn.execute("SELECT key_id FROM conversations WHERE id = ?", [gone.id]).fetchone()[0]
        blobs = [r[0] for r in conn.execute("SELECT body FROM messages WHERE conversation_id = ?", [gone.id])]
        blobs += [conn.execute("SELECT body FROM conversations WHERE id = ?", [gone.id]).fetchone()[0]]
        blobs += [conn.execute("SELECT wrapped FROM data_keys WHERE id = ?", [key_id]).fetchone()[0]]
    chunks = [c for blob in blobs for c in _chunks(blob)]
    before = _vault_files(home)
    assert all(c in before for c in chunks), "control: the ciphertext is on disk before the erase"

    vault.conversations.erase(gone.id)

    after = _vault_files(home)
    assert [c for c in chunks if c in after] == []
    with raw_db(home) as conn:
        assert conn.execute("SELECT COUNT(*) FROM data_keys WHERE id = ?", [key_id]).fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM messages WHERE conversation_id = ?", [gone.id]).fetchone()[0] == 0
    with pytest.raises(NotFoundError):
        vault.conversations.get(gone.id)
    assert vault.conversations.messages(stays.id)[0].content == "still here"
    assert vault.audit.entries()[-1].details == {"conversation_id": gone.id}
    vault.close()
    assert [c for c in chunks if c in _vault_files(home)] == []


def test_erase_all(vault: Vault, home: Path) -> None:
    ids = [vault.conversations.create(f"c{i}").id for i in range(3)]
    for conv_id in ids:
        vault.conversations.add_message(conv_id, "user", "bye")
    assert vault.conversations.erase_all() == 3
    assert vault.conversations.list() == []
    with raw_db(home) as conn:
        # Only the four stream keys (audit, settings, api_keys, request_log) remain.
        assert conn.execute("SELECT COUNT(*) FROM data_keys").fetchone()[0] == 4
    assert vault.check() == []


def test_restore_from_replaces_an_open_vault_and_keeps_the_lock(vault: Vault, home: Path, tmp_path: Path) -> None:
    kept = vault.conversations.create("in the backup")
    steps: list[tuple[int, int]] = []
    backup = vault.backup(tmp_path / "b.db", actor="gui", progress=lambda done, total: steps.append((done, total)))
    assert steps and steps[-1][0] == steps[-1][1]  # progress reached the end
    later = vault.conversations.create("after the backup")
    with pytest.raises(WrongPassphrase):
        vault.restore_from(backup, "not the passphrase")
    assert not vault.is_locked and {c.id for c in vault.conversations.list()} == {kept.id, later.id}
    restored = vault.restore_from(backup, PASSPHRASE, actor="gui")
    try:
        assert vault.is_locked  # the old handle is closed
        assert [c.id for c in restored.conversations.list()] == [kept.id]
        last = restored.audit.entries()[-1]
        assert (last.event, last.actor, last.details["file"]) == ("restore", "gui", "b.db")
        with pytest.raises(VaultInUse):  # the lock passed to the restored vault, never let go
            Vault.unlock(home, PASSPHRASE)
        vault.close()  # closing the old handle must not release the restored vault's lock
        with pytest.raises(VaultInUse):
            Vault.unlock(home, PASSPHRASE)
        assert list((home / "backups").glob("vault-before-restore-*.db"))
    finally:
        restored.close()
    Vault.unlock(home, PASSPHRASE).close()
