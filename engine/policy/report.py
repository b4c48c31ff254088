"""`enclave report processing`: a record of processing activities (GDPR Art. 30 style) from the live configuration.

Nothing here is typed in by hand: categories, retention, keys, models and storage come from the vault,
the registry and ENCLAVE_HOME as they are now, so the record cannot drift from what the product does.
Counts and names only; never conversation content.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from engine import __version__
from engine.errors import IntegrityError
from engine.fileio import write_atomic
from engine.models.registry import ModelRegistry
from engine.policy import allowlist, retention
from engine.policy.audit_events import EVENTS, record, set_setting
from engine.policy.categories import CATEGORIES
from engine.vault import Vault
from engine.vault.core import BACKUP_DIR, db_path

CONTROLLER = "policy.controller"
NOT_RECORDED = "not recorded (set it with `enclave report controller TEXT`)"
NO_TRANSFER = (
    "None. Enclave runs models on this machine; the engine opens no outbound network connection "
    "(an automated test runs a full session with outbound sockets blocked)."
)


def set_controller(vault: Vault, text: str, *, actor: str) -> None:
    """Record who the controller (and its contact or DPO) is, for the report."""
    set_setting(vault, CONTROLLER, text.strip(), actor=actor)


def _retention_text(days: int | None) -> str:
    return "kept until erased (no automatic expiry)" if days is None else f"{days} days, then crypto-shredded"


def processing_record(
    vault: Vault, registry: ModelRegistry | None = None, *, actor: str = "local", now: dt.datetime | None = None
) -> dict[str, Any]:
    """The record as data (the CLI prints it as text or JSON); generating it is audited."""
    registry = registry or ModelRegistry()
    policy = retention.get_policy(vault)
    keys = vault.api_keys.list()
    live_keys = [k for k in keys if not k.revoked]
    approved = allowlist.approved(vault)
    conversations = vault.conversations.list()
    documents = vault.documents.documents()
    subjects = {c.subject for c in conversations if c.subject} | {d.subject for d in documents if d.subject}
    home = vault.home
    kdf = vault.kdf()
    try:
        vault.audit.verify()
        chain = "intact"
    except IntegrityError as exc:
        chain = f"BROKEN: {exc}"
    binds = [e.details.get("bind") for e in vault.audit.entries() if e.event == "server_start"]
    datasets = vault.datasets.list()
    jobs = [j.body for j in vault.training_jobs.list()]
    training = []
    for d in datasets:
        trained = [j for j in jobs if j.get("dataset_id") == d.id and j["status"] == "done"]
        training.append(
            {
                "dataset": d.header["name"],
                "sha256": d.header["sha256"],
                "rows": d.row_count,
                "data_subjects": len(d.header.get("subjects", ())),
                "adapters": sorted({j["name"] for j in trained}),
                "legal_basis": sorted({j["legal_basis"] for j in trained if j.get("legal_basis")}),
            }
        )
    storage = f"encrypted vault {db_path(home)}"
    categories = [
        {
            "category": c.name,
            "description": c.description,
            "records": c.count(vault),
            "stored_in": storage,
            "protection": c.protection,
            "retention": _retention_text(policy.days(c.name)) if c.purge is not None else c.retention_note,
        }
        for c in CATEGORIES
    ]
    collections = [
        {
            "collection": coll.name,
            "purpose": coll.purpose or "not recorded",
            "documents": sum(1 for d in documents if d.collection_id == coll.id),
            "keeps_originals": coll.keep_originals,
            "retention": _retention_text(policy.days("documents")),
        }
        for coll in vault.documents.collections()
    ]
    result: dict[str, Any] = {
        "title": "Record of processing activities (GDPR Art. 30; PIPL Art. 54-55 style)",
        "generated_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "product": f"Enclave {__version__}",
        "controller": vault.settings.get(CONTROLLER) or NOT_RECORDED,
        "purposes": [
            "Staff use local language models to draft, summarise and answer questions (desktop app, CLI).",
            *(["Internal applications call local models over an OpenAI-compatible API with API keys."] if keys else []),
            *(
                ["Local models are adapted (LoRA fine-tuning on this machine) to the organisation's own datasets."]
                if datasets
                else []
            ),
            *(
                ["Staff search and ask questions about the organisation's documents (collections below)."]
                if collections
                else []
            ),
        ],
        "training": training,
        "data_subjects": {
            "description": "users of this workstation, and people named in prompts or replies",
            "tagged_subjects": len(subjects),
        },
        "data_categories": categories,
        "document_collections": collections,
        "legal_hold": {"all": policy.legal_hold, "held_subjects": len(policy.held_subjects)},
        "recipients": "None outside this machine. Access: whoever holds the vault passphrase; API clients with a key.",
        "transfers": NO_TRANSFER,
        "endpoint": {
            "default_bind": "127.0.0.1:8765 (this machine only)",
            "binds_used": sorted({b for b in binds if b}),
            "rule": "a non-loopback bind is refused unless an API key exists",
        },
        "api_keys": [
            {
                "name": k.name,
                "status": "revoked" if k.revoked else "active",
                "models": list(k.models) if k.models is not None else "all",
                "requests_per_minute": k.rpm,
                "tokens_per_day": k.tokens_per_day,
                "stores_content": k.store_content,
                "ai_labels": k.label_replies,
                "reproducible": k.reproducible,
                "created_at": k.created_at.isoformat(timespec="seconds"),
            }
            for k in keys
        ],
        "active_api_keys": len(live_keys),
        "models": [
            {
                "name": m.name,
                "sha256": m.sha256,
                "licence": m.facts.license or "not stated in the file",
                "architecture": m.facts.architecture,
                "parameters": m.facts.size_label,
                "quantization": m.facts.quantization,
                "approved": m.sha256 in approved,
            }
            for m in registry.list()
        ],
        "model_allowlist": {"required": allowlist.is_required(vault), "approved": len(approved)},
        "content_labelling": (
            "Every assistant reply is stored with an implicit label (producer, model, model SHA-256, time, "
            "content id); exports show 'AI-generated'; API replies carry the X-Enclave-AI-Generated header "
            "and an enclave_label field"
        ),
        "storage": {
            "home": str(home),
            "vault": str(db_path(home)),
            "models": str(registry.folder),
            "backups": str(home / BACKUP_DIR),
        },
        "security_measures": [
            f"Passphrase stretched with Argon2id ({kdf.memory_kib // 1024} MiB, {kdf.iterations} iterations, "
            f"{kdf.lanes} lanes); a recovery key is the only other way in",
            "Every stored value AES-256-GCM encrypted and bound to its table, column, row and key",
            "Erasure destroys keys; SQLite secure_delete and WAL truncation remove the bytes",
            "Tamper-evident audit log (HMAC chain keyed from the master key)",
            "HTTP endpoint: API keys compared in constant time, Host allowlist, no CORS by default, body caps",
            "Model files verified by SHA-256; chat templates rendered in a sandbox",
        ],
        "audit_chain": chain,
        "audited_events": sorted(EVENTS),
    }
    record(vault, "report", actor=actor, details={"kind": "processing"})
    return result


def render_text(report: dict[str, Any]) -> str:
    """The record as plain text for a person (and for a printout to an auditor)."""
    lines = [report["title"], "=" * len(report["title"]), ""]
    lines += [f"Generated: {report['generated_at']} by {report['product']}", f"Controller: {report['controller']}", ""]
    lines += ["Purposes:", *(f"  - {p}" for p in report["purposes"]), ""]
    subjects = report["data_subjects"]
    lines += [f"Data subjects: {subjects['description']} ({subjects['tagged_subjects']} tagged subject label(s))", ""]
    lines.append("Data categories:")
    for c in report["data_categories"]:
        lines += [
            f"  - {c['category']}: {c['description']} — {c['records']} record(s)",
            f"      stored in: {c['stored_in']}",
            f"      protection: {c['protection']}",
            f"      retention: {c['retention']}",
        ]
    if report.get("document_collections"):
        lines.append("Document collections:")
        for coll in report["document_collections"]:
            lines.append(
                f"  - {coll['collection']}: purpose {coll['purpose']}; {coll['documents']} document(s); "
                f"originals {'kept' if coll['keeps_originals'] else 'not kept'}; retention {coll['retention']}"
            )
    hold = report["legal_hold"]
    lines += [
        "",
        f"Legal hold: {'ON (nothing expires)' if hold['all'] else 'off'}; held subjects: {hold['held_subjects']}",
    ]
    lines += [
        f"Recipients: {report['recipients']}",
        f"Transfers to third countries or other systems: {report['transfers']}",
    ]
    endpoint = report["endpoint"]
    used = ", ".join(endpoint["binds_used"]) or "never started"
    lines += ["", f"HTTP endpoint: default {endpoint['default_bind']}; used: {used}; {endpoint['rule']}"]
    lines.append(f"API keys ({report['active_api_keys']} active):")
    for k in report["api_keys"] or [{"name": None}]:
        if k["name"] is None:
            lines.append("  (none)")
            continue
        models = k["models"] if isinstance(k["models"], str) else ",".join(k["models"])
        lines.append(
            f"  - {k['name']} [{k['status']}]: models {models}; rpm {k['requests_per_minute'] or '-'}; "
            f"tokens/day {k['tokens_per_day'] or '-'}; content {'stored' if k['stores_content'] else 'not stored'}; "
            f"AI labels {'on' if k['ai_labels'] else 'OFF'}"
        )
    allow = report["model_allowlist"]
    lines += [
        "",
        f"Models (allowlist {'required' if allow['required'] else 'not required'}, {allow['approved']} approved):",
    ]
    for m in report["models"] or [{"name": None}]:
        if m["name"] is None:
            lines.append("  (none)")
            continue
        lines.append(
            f"  - {m['name']}: sha256 {m['sha256']}; licence {m['licence']}; {m['architecture']} "
            f"{m['parameters']} {m['quantization']}{'; approved' if m['approved'] else ''}"
        )
    if report.get("training"):
        lines += ["", "Training (fine-tuning) datasets:"]
        for t in report["training"]:
            adapters = ", ".join(t["adapters"]) or "none yet"
            basis = "; ".join(t["legal_basis"]) or "not recorded"
            lines.append(
                f"  - {t['dataset']}: {t['rows']} row(s), {t['data_subjects']} data subject(s), sha256 {t['sha256']}; "
                f"adapters: {adapters}; legal basis: {basis}"
            )
    lines += ["", f"Content labelling: {report['content_labelling']}", "", "Where data lives:"]
    lines += [f"  {name}: {path}" for name, path in report["storage"].items()]
    lines += ["", "Security measures (Art. 32):", *(f"  - {m}" for m in report["security_measures"])]
    lines += ["", f"Audit chain: {report['audit_chain']}", f"Audited events: {', '.join(report['audited_events'])}"]
    return "\n".join(lines) + "\n"


def write_report(path: Path, text: str) -> Path:
    """Write the report whole (it holds names and settings, no content)."""
    write_atomic(Path(path), text.encode("utf-8"))
    return Path(path)
