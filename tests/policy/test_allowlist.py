"""Model allowlist: unapproved imports refused (nothing kept) and recorded; approval audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.models import ModelRegistry
from engine.models.registry import hash_file
from engine.policy import allowlist
from engine.policy.allowlist import ModelNotApproved
from engine.vault import Vault


def test_off_by_default_everything_imports(vault: Vault, registry: ModelRegistry, tiny_gguf: Path) -> None:
    guard = allowlist.import_guard(vault, actor="cli")
    assert registry.import_file(tiny_gguf, "tiny", approve=guard).name == "tiny"
    assert not allowlist.is_required(vault)


def test_unapproved_import_is_refused_and_approval_lets_it_in(
    vault: Vault, registry: ModelRegistry, tiny_gguf: Path
) -> None:
    allowlist.set_required(vault, True, actor="cli")
    with pytest.raises(ModelNotApproved, match="not approved"):
        registry.import_file(tiny_gguf, "tiny", approve=allowlist.import_guard(vault, actor="cli", name="tiny"))
    assert registry.list() == [] and list(registry.folder.glob("*.gguf*")) == []  # nothing kept, no .part
    violation = vault.audit.entries()[-1]
    assert violation.event == "policy_violation" and violation.details["rule"] == "model_allowlist"
    sha = hash_file(tiny_gguf)
    assert violation.details["sha256"] == sha

    assert allowlist.approve(vault, sha.upper(), actor="gui") == sha
    approval = vault.audit.entries()[-1]
    assert (approval.event, approval.actor, approval.details["sha256"]) == ("model_approve", "gui", sha)
    record = registry.import_file(tiny_gguf, "tiny", approve=allowlist.import_guard(vault, actor="cli"))
    allowlist.check_loadable(vault, record, actor="cli")

    allowlist.unapprove(vault, "tiny", actor="cli", registry=registry)
    with pytest.raises(ModelNotApproved):
        allowlist.check_loadable(vault, record, actor="serve")
    assert vault.audit.entries()[-1].details["action"] == "load"


def test_only_an_admin_changes_the_allowlist(vault: Vault) -> None:
    with pytest.raises(Exception, match="administrator"):
        allowlist.set_required(vault, True, actor="api:ci")
    assert not allowlist.is_required(vault)
    allowlist.set_required(vault, True, actor="cli")
    assert vault.audit.entries()[-1].details == {"key": allowlist.REQUIRED, "value": True}
