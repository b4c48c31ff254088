"""Stored Responses in the vault: owned by one API key, deleted with their key, expiring with API content,
erased with a subject's API texts."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from engine.policy import retention, subjects
from engine.vault import Vault
from tests.policy.conftest import vault_bytes

NOW = dt.datetime.now(dt.UTC)


def _save(vault: Vault, text: str, owner: str = "key-a") -> str:
    response_id = secrets.token_hex(16)
    vault.responses.save(response_id, owner, {"response": {"output_text": text}, "messages": [{"content": text}]})
    return response_id


def test_owned_read_and_deleted_with_its_key(vault: Vault, home: Path) -> None:
    canary = f"RESPONSE-CANARY-{secrets.token_hex(4)}"
    response_id = _save(vault, canary)
    assert vault.responses.get(response_id, "key-a") == {
        "response": {"output_text": canary},
        "messages": [{"content": canary}],
    }
    assert vault.responses.get(response_id, "key-b") is None  # another key's
    assert vault.responses.delete(response_id, "key-b") is False
    assert canary.encode() not in vault_bytes(home)  # sealed
    key_id = vault.run_raw(lambda db: db.execute("SELECT key_id FROM responses").fetchone()[0])
    assert vault.responses.delete(response_id, "key-a") is True
    assert vault.responses.get(response_id, "key-a") is None and vault.responses.count() == 0
    assert vault.run_raw(lambda db: db.execute("SELECT 1 FROM data_keys WHERE id = ?", [key_id]).fetchone()) is None


def test_expire_with_api_content_retention(vault: Vault) -> None:
    _save(vault, "old")
    retention.set_days(vault, "api_content", 30, actor="cli")
    assert retention.purge(vault, now=NOW + dt.timedelta(days=29))["api_content"] == 0
    assert vault.responses.count() == 1
    assert retention.purge(vault, now=NOW + dt.timedelta(days=31))["api_content"] == 1
    assert vault.responses.count() == 0


def test_erased_with_a_subjects_api_texts(vault: Vault) -> None:
    kept = _save(vault, "about Bob")
    _save(vault, "about Alice Martin")
    erased = subjects.erase(vault, subjects.Selection(match="alice martin"), actor="cli")
    assert erased.api_requests == 1
    assert vault.responses.count() == 1 and vault.responses.get(kept, "key-a") is not None
    assert subjects.erase(vault, subjects.Selection(all=True), actor="cli").api_requests == 1
    assert vault.responses.count() == 0
