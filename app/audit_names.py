"""How the Privacy view names audit events and who caused them, in the person's language.

The chain itself stores the engine's event codes (`unlock`, `api_key_create`, …) and actors (`gui`,
`cli`, …), as `enclave audit show` prints them; the view shows these words instead and keeps the code
in the tooltip, so an auditor can match the two.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication


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
