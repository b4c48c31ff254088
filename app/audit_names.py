"""How the Privacy view names audit events and who caused them, in the person's language.

The chain itself stores the engine's event codes (`unlock`, `api_key_create`, …) and actors (`gui`,
`cli`, …), as `enclave audit show` prints them; the view shows these words instead and keeps the code
in the tooltip, so an auditor can match the two.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QCoreApplication, QDateTime, QLocale, Qt

translate = QCoreApplication.translate  # lupdate reads `translate("Context", "text")` calls too


def event_label(event: str) -> str:
    """A short translated description of an audit event code (the code itself when unknown)."""
    labels = {
        "init": QCoreApplication.translate("AuditEvents", "Vault created"),
        "unlock": QCoreApplication.translate("AuditEvents", "Unlocked"),
        "unlock_failed": QCoreApplication.translate("AuditEvents", "Wrong passphrase given"),
        "passwd": QCoreApplication.translate("AuditEvents", "Passphrase changed"),
        "recover": QCoreApplication.translate("AuditEvents", "Passphrase reset with the recovery key"),
        "backup": QCoreApplication.translate("AuditEvents", "Encrypted backup written"),
        "restore": QCoreApplication.translate("AuditEvents", "Restored from a backup"),
        "export": QCoreApplication.translate("AuditEvents", "Exported (not encrypted)"),
        "erase": QCoreApplication.translate("AuditEvents", "Conversations erased"),
        "api_content_erase": QCoreApplication.translate("AuditEvents", "API request texts erased"),
        "import": QCoreApplication.translate("AuditEvents", "Conversations imported"),
        "retention_purge": QCoreApplication.translate("AuditEvents", "Expired data purged"),
        "api_key_create": QCoreApplication.translate("AuditEvents", "API key created"),
        "api_key_revoke": QCoreApplication.translate("AuditEvents", "API key revoked"),
        "server_start": QCoreApplication.translate("AuditEvents", "Server started"),
        "server_stop": QCoreApplication.translate("AuditEvents", "Server stopped"),
        "model_import": QCoreApplication.translate("AuditEvents", "Model imported"),
        "model_remove": QCoreApplication.translate("AuditEvents", "Model removed"),
        "model_default": QCoreApplication.translate("AuditEvents", "Default model changed"),
        "model_approve": QCoreApplication.translate("AuditEvents", "Model approved"),
        "model_unapprove": QCoreApplication.translate("AuditEvents", "Model approval withdrawn"),
        "setting_change": QCoreApplication.translate("AuditEvents", "Setting changed"),
        "subject_tag": QCoreApplication.translate("AuditEvents", "Conversations tagged with a data subject"),
        "label_switch": QCoreApplication.translate("AuditEvents", "AI labels switched for an API key"),
        "policy_violation": QCoreApplication.translate("AuditEvents", "Refused by policy"),
        "report": QCoreApplication.translate("AuditEvents", "Processing report generated"),
        "upstream_add": QCoreApplication.translate("AuditEvents", "Upstream server added"),
        "upstream_remove": QCoreApplication.translate("AuditEvents", "Upstream server removed"),
        "dataset_import": QCoreApplication.translate("AuditEvents", "Training dataset imported"),
        "dataset_remove": QCoreApplication.translate("AuditEvents", "Training dataset removed"),
        "training_start": QCoreApplication.translate("AuditEvents", "Training started"),
        "training_stop": QCoreApplication.translate("AuditEvents", "Training stopped at a checkpoint"),
        "training_discard": QCoreApplication.translate("AuditEvents", "Unfinished training discarded"),
        "training_finish": QCoreApplication.translate("AuditEvents", "Adapter trained"),
        "adapter_load": QCoreApplication.translate("AuditEvents", "Adapter loaded"),
        "adapter_remove": QCoreApplication.translate("AuditEvents", "Adapted model removed"),
        "adapter_withdraw": QCoreApplication.translate("AuditEvents", "Adapters withdrawn (subject erased)"),
        "documents_add": QCoreApplication.translate("AuditEvents", "Documents added"),
        "documents_collection": QCoreApplication.translate("AuditEvents", "Document collection created"),
        "documents_remove": QCoreApplication.translate("AuditEvents", "Documents removed"),
        "documents_search": QCoreApplication.translate("AuditEvents", "Documents searched"),
        "documents_tag": QCoreApplication.translate("AuditEvents", "Documents tagged with a data subject"),
        "assistant_create": QCoreApplication.translate("AuditEvents", "Assistant defined"),
        "assistant_remove": QCoreApplication.translate("AuditEvents", "Assistant removed"),
        "tool_server_add": QCoreApplication.translate("AuditEvents", "Tool server added"),
        "tool_server_remove": QCoreApplication.translate("AuditEvents", "Tool server removed"),
        "tool_rule": QCoreApplication.translate("AuditEvents", "Tool rule changed"),
        "tool_call": QCoreApplication.translate("AuditEvents", "Tool called"),
        "assistant_tools_skipped": QCoreApplication.translate(
            "AuditEvents", "Assistant answered without its tools (the key may not use tools)"),
        "pair_create": QCoreApplication.translate("AuditEvents", "Device paired"),
        "pair_revoke": QCoreApplication.translate("AuditEvents", "Paired device cut off"),
        "pair_redeem": QCoreApplication.translate("AuditEvents", "Pairing code used by its device"),
        "pair_redeem_refused": QCoreApplication.translate("AuditEvents", "Used or expired pairing code refused"),
        "admin_channel": QCoreApplication.translate("AuditEvents", "Command run through the server's admin channel"),
        "remote_add": QCoreApplication.translate("AuditEvents", "Organisation server added"),
        "remote_remove": QCoreApplication.translate("AuditEvents", "Organisation server removed"),
    }
    return labels.get(event, event)


def actor_label(actor: str) -> str:
    """Who did it, translated for the actors Enclave itself uses (others as stored)."""
    labels = {
        "gui": QCoreApplication.translate("AuditEvents", "desktop app"),
        "cli": QCoreApplication.translate("AuditEvents", "command line"),
        "serve": QCoreApplication.translate("AuditEvents", "server"),
        "local": QCoreApplication.translate("AuditEvents", "this computer"),
    }
    return labels.get(actor, actor)


def _count(one: str, many: str, n: int) -> str:
    """`one` or `many` (both already translated, with a `{n}`), the number in the locale's digits."""
    return (one if n == 1 else many).format(n=QLocale().toString(n))


def _quoted(value: object) -> str:
    return translate("AuditDetails", "“{name}”").format(name=value)


def _list(values: object) -> str:
    items = values if isinstance(values, list) else [values]
    return translate("AuditDetails", ", ").join(map(str, items))


def category_label(category: str) -> str:
    """A data category of the retention policy, as a person reads it."""
    labels = {
        "conversations": translate("AuditDetails", "conversations"),
        "api_content": translate("AuditDetails", "API request texts"),
        "api_metadata": translate("AuditDetails", "API request records"),
        "audit": translate("AuditDetails", "audit log entries"),
    }
    return labels.get(category, category)


def _days(days: object) -> str:
    if not isinstance(days, int):
        return translate("AuditDetails", "forever")
    return _count(translate("AuditDetails", "{n} day"), translate("AuditDetails", "{n} days"), days)


def _setting(key: str, value: object) -> str:
    """A changed setting, as a sentence: which setting, and what it is now."""
    if key == "policy.retention" and isinstance(value, dict):
        kept = [
            translate("AuditDetails", "{category} {days}").format(category=category_label(c), days=_days(value.get(c)))
            for c in ("conversations", "api_content", "api_metadata", "audit")
        ]
        text = translate("AuditDetails", "Retention set: keep {rules}.").format(rules=_list(kept))
        if value.get("legal_hold"):
            text += " " + translate("AuditDetails", "Legal hold on: nothing expires.")
        held = value.get("held_subjects") or []
        if held:
            text += " " + translate("AuditDetails", "Held data subjects: {subjects}.").format(subjects=_list(held))
        return text
    if key == "policy.models.allowlist_required":
        if value:
            return translate("AuditDetails", "Only approved models may be loaded.")
        return translate("AuditDetails", "Any imported model may be loaded.")
    if key == "policy.controller":
        return translate("AuditDetails", "Controller named in the processing record: {name}.").format(name=value)
    if isinstance(value, bool):
        value = translate("AuditDetails", "on") if value else translate("AuditDetails", "off")
    return translate("AuditDetails", "Setting {name} changed to {value}.").format(name=key, value=value)


def _flag(value: object, yes: str, no: str | None) -> str | None:
    return yes if value else no


# The hashes training records, shortened as `sha256` is (the full value stays in the chain's tooltip).
DIGESTS = {
    "adapter_sha256": lambda: translate("AuditDetails", "adapter SHA-256 {digest}…"),
    "base_sha256": lambda: translate("AuditDetails", "base model SHA-256 {digest}…"),
    "dataset_sha256": lambda: translate("AuditDetails", "dataset SHA-256 {digest}…"),
}


# How many files a document import added, replaced, … (engine.documents.library.Status).
IMPORT_COUNTS = {
    "added": lambda: (translate("AuditDetails", "{n} file added"), translate("AuditDetails", "{n} files added")),
    "replaced": lambda: (translate("AuditDetails", "{n} file replaced"),
                         translate("AuditDetails", "{n} files replaced")),
    "unchanged": lambda: (translate("AuditDetails", "{n} file unchanged"),
                          translate("AuditDetails", "{n} files unchanged")),
    "failed": lambda: (translate("AuditDetails", "{n} file unreadable"),
                       translate("AuditDetails", "{n} files unreadable")),
    "cancelled": lambda: (translate("AuditDetails", "{n} file cancelled"),
                          translate("AuditDetails", "{n} files cancelled")),
}


def _collection(collection_id: object, names: Mapping[str, str]) -> str:
    """A collection the chain names by id, as its name (looked up now: names stay out of the chain)."""
    name = names.get(str(collection_id))
    return _quoted(name) if name is not None else translate("AuditDetails", "a removed collection")


def _phrase(event: str, key: str, value: object, names: Mapping[str, str] | None = None) -> str | None:
    """One detail as words (None: nothing worth saying); `names` maps collection ids to names."""
    if value in (None, "", [], {}):
        return None
    number = len(value) if isinstance(value, list) else value
    if event.startswith("documents_") and names is not None:
        if key == "collection":
            return translate("AuditDetails", "collection {name}").format(name=_collection(value, names))
        if key == "collections" and isinstance(value, list):
            return translate("AuditDetails", "collections {names}").format(
                names=_list([_collection(v, names) for v in value]))
    if event.startswith("documents_"):
        if key in IMPORT_COUNTS and isinstance(value, int):
            return _count(*IMPORT_COUNTS[key](), value)
        if key == "documents" and isinstance(value, list):
            return _count(translate("AuditDetails", "{n} document"), translate("AuditDetails", "{n} documents"),
                          len(value))
        if key == "hits" and isinstance(value, int):
            return _count(translate("AuditDetails", "{n} passage found"),
                          translate("AuditDetails", "{n} passages found"), value)
        if key == "whole_collection":
            return translate("AuditDetails", "the whole collection")
        if key == "count" and isinstance(value, int):
            return _count(translate("AuditDetails", "{n} document"), translate("AuditDetails", "{n} documents"),
                          value)
    if key == "name":
        return _quoted(value)
    if key == "bind":
        return translate("AuditDetails", "listening on {address}").format(address=value)
    if key == "file":
        return translate("AuditDetails", "file {name}").format(name=value)
    if key == "folder":
        return translate("AuditDetails", "from folder {name}").format(name=value)
    if key == "subject":
        return translate("AuditDetails", "data subject {name}").format(name=_quoted(value))
    if key == "match":
        return translate("AuditDetails", "matching {text}").format(text=_quoted(value))
    if key == "sha256":
        return translate("AuditDetails", "SHA-256 {digest}…").format(digest=str(value)[:12])
    if key in DIGESTS:
        return DIGESTS[key]().format(digest=str(value)[:12])
    if key == "dataset":
        return translate("AuditDetails", "dataset {name}").format(name=_quoted(value))
    if key == "rows" and isinstance(value, int):
        return _count(translate("AuditDetails", "{n} row"), translate("AuditDetails", "{n} rows"), value)
    if key == "subjects" and isinstance(value, int):
        return _count(translate("AuditDetails", "{n} data subject"),
                      translate("AuditDetails", "{n} data subjects"), value)
    if key == "datasets" and isinstance(value, int):
        return _count(translate("AuditDetails", "{n} dataset"), translate("AuditDetails", "{n} datasets"), value)
    if key == "adapters":
        return translate("AuditDetails", "adapters withdrawn: {names}").format(names=_list(value))
    if key == "url":
        return translate("AuditDetails", "at {url}").format(url=value)
    if key == "model":
        return translate("AuditDetails", "model {name}").format(name=_quoted(value))
    if key == "key":
        return translate("AuditDetails", "API key {name}").format(name=_quoted(value))
    if key == "models":
        return translate("AuditDetails", "models: {names}").format(names=_list(value))
    if key == "collections" and event == "api_key_create":
        return translate("AuditDetails", "may search collections: {names}").format(names=_list(value))
    if key == "collections_write" and event == "api_key_create":
        return translate("AuditDetails", "may fill collections: {names}").format(names=_list(value))
    if key in ("conversation_id", "id"):
        return translate("AuditDetails", "one conversation")
    if key == "at":
        return translate("AuditDetails", "happened at {time}, while the vault was locked").format(time=value)
    if key == "all":
        return translate("AuditDetails", "everything")
    if key == "expires_at" and isinstance(value, str):
        when = QDateTime.fromString(value, Qt.DateFormat.ISODate)
        shown = QLocale().toString(when.toLocalTime(), QLocale.FormatType.ShortFormat) if when.isValid() else value
        return translate("AuditDetails", "expires {time}").format(time=shown)
    if key == "rpm" and isinstance(value, int):
        return _count(translate("AuditDetails", "at most {n} request a minute"),
                      translate("AuditDetails", "at most {n} requests a minute"), value)
    if key == "tokens_per_day" and isinstance(value, int):
        return _count(translate("AuditDetails", "at most {n} token a day"),
                      translate("AuditDetails", "at most {n} tokens a day"), value)
    if key in ("conversations", "count") and isinstance(number, int):
        if event == "api_content_erase":
            return _count(translate("AuditDetails", "{n} API request"), translate("AuditDetails", "{n} API requests"),
                          number)
        return _count(translate("AuditDetails", "{n} conversation"), translate("AuditDetails", "{n} conversations"),
                      number)
    if key == "counts" and isinstance(value, dict):
        parts = [f"{category_label(c)}: {QLocale().toString(int(n))}" for c, n in value.items() if n]
        if not parts:
            return translate("AuditDetails", "nothing had expired")
        return translate("AuditDetails", "removed {counts}").format(counts=_list(parts))
    if key == "kind" and value == "processing":
        return translate("AuditDetails", "record of processing (Art. 30)")
    if key == "rule":
        rules = {"key_models": translate("AuditDetails", "the key may not use this model"),
                 "model_allowlist": translate("AuditDetails", "the model is not approved")}
        return rules.get(str(value), str(value))
    flags = {
        "store_content": (translate("AuditDetails", "prompts and replies are logged"),
                          translate("AuditDetails", "only metadata is logged, no texts")),
        "labels": (translate("AuditDetails", "replies carry the AI label"),
                   translate("AuditDetails", "replies carry no AI label")),
        "tls": (translate("AuditDetails", "encrypted (TLS)"), translate("AuditDetails", "not encrypted")),
        "custom_ca": (translate("AuditDetails", "own certificate authority"), None),
        "plain_http_allowed": (translate("AuditDetails", "plain HTTP allowed"), None),
        "api_key": (translate("AuditDetails", "with an API key"), None),
        "reproducible": (translate("AuditDetails", "every request deterministic"), None),
        "train": (translate("AuditDetails", "may use the fine-tuning API"), None),
        "action": (None, None),  # said by the rule
    }
    if key in flags:
        yes, no = flags[key]
        return _flag(value, yes, no) if yes is not None else None
    if isinstance(value, bool):
        value = translate("AuditDetails", "yes") if value else translate("AuditDetails", "no")
    return f"{key}: {value}"


def describe_details(event: str, details: dict[str, object], collections: Mapping[str, str] | None = None) -> str:
    """An audit entry's details as words in the person's language (never raw names such as `store_content`);
    `collections` (id -> name, app.operations.documents.collection_names) names the document collections
    that the chain records by id only."""
    if event == "setting_change" and "key" in details:
        return _setting(str(details["key"]), details.get("value"))
    phrases = [_phrase(event, key, value, collections) for key, value in details.items()]
    text = translate("AuditDetails", "; ").join(p for p in phrases if p)
    return text[:1].upper() + text[1:] if text else ""
