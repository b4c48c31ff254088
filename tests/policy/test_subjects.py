"""Data subjects: tag, export with a manifest, verify, erase, import again (round trip)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.errors import IntegrityError, UserError
from engine.policy import subjects
from engine.policy.subjects import Selection
from engine.vault import FLOOR, RequestLogEntry, Vault
from tests.policy.conftest import raw, vault_bytes

LABEL = {
    "ai_generated": True,
    "producer": "Enclave",
    "model": "tiny",
    "model_sha256": "ab" * 32,
    "created": "2025-01-01T00:00:00+00:00",
    "content_id": "c0ffee",
}


def _person(vault: Vault) -> tuple[str, str, str]:
    jane = vault.conversations.create("Jane's leave request", system_prompt="Be brief.")
    vault.conversations.add_message(jane.id, "user", "Jane Roe asks about parental leave 育儿假")
    vault.conversations.add_message(jane.id, "assistant", "Twelve weeks.", metadata=LABEL)
    other = vault.conversations.create("Budget")
    vault.conversations.add_message(other.id, "user", "Q3 numbers mention Jane Roe once")
    unrelated = vault.conversations.create("Lunch")
    vault.conversations.add_message(unrelated.id, "user", "pizza")
    subjects.tag(vault, [jane.id], "Jane Roe", actor="cli")
    return jane.id, other.id, unrelated.id


def test_tag_is_audited_and_listed(vault: Vault) -> None:
    jane, _, _ = _person(vault)
    assert subjects.subjects(vault) == {"Jane Roe": 1}
    event = vault.audit.entries()[-1]
    assert (event.event, event.details) == ("subject_tag", {"subject": "Jane Roe", "conversations": [jane]})
    with pytest.raises(UserError, match="administrator"):
        subjects.tag(vault, [jane], "X", actor="api:ci")


def test_select_by_subject_match_or_all(vault: Vault) -> None:
    jane, other, unrelated = _person(vault)
    assert [c.id for c in subjects.select(vault, Selection(subject="Jane Roe"))] == [jane]
    assert {c.id for c in subjects.select(vault, Selection(match="jane roe"))} == {jane, other}
    assert len(subjects.select(vault, Selection(all=True))) == 3
    with pytest.raises(UserError, match="exactly one"):
        subjects.select(vault, Selection(subject="Jane Roe", all=True))


def test_export_manifest_erase_and_import_round_trip(vault: Vault, home: Path, tmp_path: Path) -> None:
    jane, other, _ = _person(vault)
    out = tmp_path / "jane-export"
    manifest = subjects.export_bundle(vault, out, Selection(match="Jane Roe"), actor="cli")
    # The manifest: what, when, by whom, and the SHA-256 of every part (checkable with sha256sum).
    assert manifest["what"] == {"match": "Jane Roe", "conversations": 2, "messages": 3}
    assert manifest["exported_by"]["actor"] == "cli" and manifest["exported_at"]
    on_disk = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    for part in manifest["parts"]:
        assert hashlib.sha256((out / part["path"]).read_bytes()).hexdigest() == part["sha256"]
    doc = json.loads((out / f"conversations/{jane}.json").read_text(encoding="utf-8"))
    assert doc["messages"][0] == {"role": "system", "content": "Be brief."}
    assert doc["messages"][1]["content"].endswith("育儿假")  # readable, not \u-escaped
    assert "育儿假" in (out / f"conversations/{jane}.json").read_text(encoding="utf-8")
    reply = doc["message_details"][1]
    assert reply["label"]["text"] == "AI-generated" and reply["label"]["model_sha256"] == "ab" * 32
    assert vault.audit.entries()[-1].event == "export"

    assert subjects.erase(vault, Selection(match="Jane Roe"), actor="cli").conversations == 2
    assert {c.id for c in vault.conversations.list()}.isdisjoint({jane, other})
    erase_event = vault.audit.entries()[-1]
    assert (erase_event.event, erase_event.details) == ("erase", {"match": "Jane Roe", "count": 2})
    vault.close()
    assert "育儿假".encode() not in vault_bytes(home)

    # Another Enclave (a new vault) imports the bundle: same titles, messages, subjects and labels.
    second_home = tmp_path / "elsewhere"
    with Vault.init(second_home, "another passphrase", kdf=FLOOR)[0] as elsewhere:
        imported = subjects.import_bundle(elsewhere, out, actor="cli")
        by_title = {c.title: c for c in imported}
        assert set(by_title) == {"Jane's leave request", "Budget"}
        again = by_title["Jane's leave request"]
        assert again.subject == "Jane Roe" and again.system_prompt == "Be brief."
        messages = elsewhere.conversations.messages(again.id)
        assert [m.content for m in messages] == ["Jane Roe asks about parental leave 育儿假", "Twelve weeks."]
        assert messages[1].metadata == LABEL
        assert elsewhere.audit.entries()[-1].event == "import"


def test_a_changed_part_is_refused_on_import(vault: Vault, tmp_path: Path) -> None:
    jane, _, _ = _person(vault)
    out = tmp_path / "export"
    subjects.export_bundle(vault, out, Selection(subject="Jane Roe"), actor="cli")
    part = out / f"conversations/{jane}.json"
    part.write_text(part.read_text(encoding="utf-8").replace("Twelve", "Fifty"), encoding="utf-8")
    with pytest.raises(IntegrityError, match="does not match its SHA-256"):
        subjects.import_bundle(vault, out, actor="cli")


def test_export_refuses_a_non_empty_folder(vault: Vault, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(UserError, match="not an empty folder"):
        subjects.export_bundle(vault, tmp_path / "busy", Selection(all=True), actor="cli")


def test_plain_export_carries_the_explicit_label(vault: Vault, tmp_path: Path) -> None:
    _person(vault)
    path = vault.export_json(tmp_path / "all.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    labels = [d.get("label") for c in document["conversations"] for d in c["message_metadata"]]
    assert [label["text"] for label in labels if label] == ["AI-generated"]
    assert [label["content_id"] for label in labels if label] == ["c0ffee"]


def _api_requests(vault: Vault) -> dict[str, RequestLogEntry]:
    vault.request_log.append(
        RequestLogEntry(
            "hr-tool",
            "tiny",
            200,
            12,
            5,
            request_text="Summarise JANE ROE's file",
            response_text="She asked for leave.",
        )
    )
    vault.request_log.append(
        RequestLogEntry(
            "hr-tool", "tiny", 200, 7, 3, request_text="Hello", response_text="Jane Roe was mentioned in the reply"
        )
    )
    vault.request_log.append(
        RequestLogEntry("crm", "tiny", 200, 9, 4, request_text="pizza order", response_text="Margherita.")
    )
    return {e.request_text or "": e for e in vault.request_log.recent()}


def test_erasing_a_search_match_erases_the_api_texts_that_contain_it(vault: Vault) -> None:
    _person(vault)
    before = _api_requests(vault)
    erased = subjects.erase(vault, Selection(match="jane roe"), actor="cli")
    assert (erased.conversations, erased.api_requests) == (2, 2)  # a match in the prompt or in the reply
    after = {e.id: e for e in vault.request_log.recent()}
    for text in ("Summarise JANE ROE's file", "Hello"):
        gone = after[before[text].id]
        assert gone.request_text is None and gone.response_text is None
        # What budgets and usage reports need stays.
        assert (gone.key_name, gone.prompt_tokens, gone.completion_tokens) == (
            before[text].key_name,
            before[text].prompt_tokens,
            before[text].completion_tokens,
        )
    kept = after[before["pizza order"].id]
    assert (kept.request_text, kept.response_text) == ("pizza order", "Margherita.")
    events = [(e.event, e.details) for e in vault.audit.entries()[-2:]]
    assert events == [
        ("api_content_erase", {"match": "jane roe", "count": 2}),
        ("erase", {"match": "jane roe", "count": 2}),
    ]


def test_erasing_everything_erases_every_api_text_and_a_subject_label_none(vault: Vault, home: Path) -> None:
    _person(vault)
    _api_requests(vault)
    erased = subjects.erase(vault, Selection(subject="Jane Roe"), actor="cli")
    assert (erased.conversations, erased.api_requests) == (1, 0)  # API requests carry no subject label
    assert sum(1 for e in vault.request_log.recent() if e.request_text) == 3
    sealed_before = [body for (body,) in raw(home, "SELECT body FROM request_log")]
    erased = subjects.erase(vault, Selection(all=True), actor="cli")
    assert (erased.conversations, erased.api_requests) == (2, 3)
    assert all(e.request_text is None and e.response_text is None for e in vault.request_log.recent())
    assert vault.request_log.count() == 3
    # The rows' old ciphertext (readable again with the key, e.g. with a stolen passphrase) is gone from
    # the database and its WAL at once, not only replaced (closing the vault would checkpoint anyway).
    on_disk = vault_bytes(home)
    assert sealed_before and not any(bytes(body) in on_disk for body in sealed_before)  # type: ignore[arg-type]
