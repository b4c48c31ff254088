"""The processing record is built from the live configuration."""

from __future__ import annotations

from pathlib import Path

from engine.models import ModelRegistry
from engine.policy import allowlist, report, retention
from engine.policy.keys import issue_key
from engine.vault import Vault


def test_report_reflects_the_actual_configuration(vault: Vault, registry: ModelRegistry, tiny_gguf: Path) -> None:
    model = registry.import_file(tiny_gguf, "tiny")
    allowlist.approve(vault, "tiny", actor="cli", registry=registry)
    issue_key(vault, "ci", models=["tiny"], rpm=30, tokens_per_day=1000, store_content=False, actor="cli")
    vault.conversations.create("secret title 8c1e", subject="Jane Roe")
    retention.set_days(vault, "conversations", 90, actor="cli")
    report.set_controller(vault, "ACME GmbH, dpo@acme.example", actor="cli")
    vault.audit.append("server_start", actor="local", details={"bind": "127.0.0.1:8765"})

    data = report.processing_record(vault, registry, actor="cli")
    assert data["controller"] == "ACME GmbH, dpo@acme.example"
    categories = {c["category"]: c for c in data["data_categories"]}
    assert set(categories) >= {"conversations", "api_content", "api_metadata", "audit"}
    assert categories["conversations"]["retention"] == "90 days, then crypto-shredded"
    assert categories["conversations"]["records"] == 1
    assert categories["api_content"]["retention"].startswith("kept until erased")
    assert str(vault.home / "vault.db") in categories["conversations"]["stored_in"]
    assert data["api_keys"] == [
        {
            "name": "ci",
            "status": "active",
            "models": ["tiny"],
            "requests_per_minute": 30,
            "tokens_per_day": 1000,
            "stores_content": False,
            "ai_labels": True,
            "reproducible": False,
            "created_at": data["api_keys"][0]["created_at"],
        }
    ]
    assert data["models"][0]["sha256"] == model.sha256 and data["models"][0]["approved"] is True
    assert data["models"][0]["licence"] == (model.facts.license or "not stated in the file")
    assert data["endpoint"]["binds_used"] == ["127.0.0.1:8765"]
    assert "no outbound network connection" in data["transfers"]
    assert data["audit_chain"] == "intact" and "retention_purge" in data["audited_events"]
    assert data["data_subjects"]["tagged_subjects"] == 1
    text = report.render_text(data)
    for expected in ("ACME GmbH", model.sha256, "90 days", "ci [active]", "content not stored", "Argon2id"):
        assert expected in text
    # Names and counts only: no conversation content, no subject names.
    assert "secret title" not in text and "Jane Roe" not in text
    assert vault.audit.entries()[-1].event == "report"
