"""Audit events: names are fixed, truncation at the end is caught even without a later append."""

from __future__ import annotations

import pytest

from engine.errors import IntegrityError
from engine.policy import audit_events
from engine.vault import Vault


def test_truncating_the_end_is_detected(vault: Vault) -> None:
    for i in range(3):
        audit_events.record(vault, "setting_change", actor="t", details={"key": "k", "value": i})
    vault.run_raw(lambda db: db.execute("DELETE FROM audit WHERE seq = 4"))
    with pytest.raises(IntegrityError, match="after entry 3: 4 entries expected"):
        vault.audit.verify()


def test_only_known_events_are_recorded(vault: Vault) -> None:
    with pytest.raises(ValueError, match="unknown audit event"):
        audit_events.record(vault, "made_up", actor="t")


def test_setting_change_records_name_and_value(vault: Vault) -> None:
    audit_events.set_setting(vault, "gui.autolock_minutes", 5, actor="gui")
    entry = vault.audit.entries()[-1]
    assert (entry.event, entry.actor, entry.details) == (
        "setting_change",
        "gui",
        {"key": "gui.autolock_minutes", "value": 5},
    )
    assert vault.settings.get("gui.autolock_minutes") == 5
