"""Policy at the HTTP endpoint: labels per key (admin switch), allowlist on loads, violations audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.policy import allowlist, labels
from engine.policy.keys import issue_key
from tests.api.conftest import Api, start_api, stop_api

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


@pytest.fixture()
def api(enclave_home: Path, tiny_gguf: Path) -> Iterator[Api]:
    """A server on a free port over this test's home."""
    running = start_api(enclave_home, tiny_gguf)
    yield running
    stop_api(running)


def test_replies_are_labelled_until_an_admin_switches_a_key_off(api: Api) -> None:
    _, quiet = issue_key(api.vault, "quiet", actor="cli")
    with api.client() as client:
        reply = client.post("/v1/chat/completions", json=CHAT)
        assert reply.headers["x-enclave-ai-generated"] == "true"
        label = reply.json()["enclave_label"]
        assert label["ai_generated"] is True and label["model"] == "tiny" and len(label["model_sha256"]) == 64
    labels.set_key_labels(api.vault, "quiet", False, actor="gui")
    assert api.vault.audit.entries()[-1].details == {"key": "quiet", "labels": False}
    with api.client(quiet) as client:
        reply = client.post("/v1/chat/completions", json=CHAT)
        assert reply.status_code == 200 and "x-enclave-ai-generated" not in reply.headers
        assert "enclave_label" not in reply.json()
        streamed = client.post("/v1/chat/completions", json={**CHAT, "stream": True}).text
        assert "enclave_label" not in streamed
    with api.client() as client:  # other keys keep their labels, streamed too
        streamed = client.post("/v1/chat/completions", json={**CHAT, "stream": True})
        assert streamed.headers["x-enclave-ai-generated"] == "true" and "enclave_label" in streamed.text
    with pytest.raises(Exception, match="administrator"):
        labels.set_key_labels(api.vault, "quiet", True, actor="api:quiet")


def test_allowlist_applies_to_the_endpoint_and_violations_are_audited(api: Api) -> None:
    allowlist.set_required(api.vault, True, actor="cli")
    with api.client() as client:
        refused = client.post("/v1/chat/completions", json=CHAT)
        assert refused.status_code == 403 and "not approved" in refused.json()["error"]["message"]
    violation = [e for e in api.vault.audit.entries() if e.event == "policy_violation"][-1]
    assert violation.actor == "api:test" and violation.details["action"] == "load"
    allowlist.approve(api.vault, "tiny", actor="cli", registry=api.runtime.registry)
    with api.client() as client:
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200


def test_a_key_asking_for_a_model_it_may_not_use_is_audited(api: Api) -> None:
    _, limited = issue_key(api.vault, "limited", models=["other"], actor="cli")
    with api.client(limited) as client:
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 403
    violation = api.vault.audit.entries()[-1]
    assert (violation.event, violation.details) == (
        "policy_violation",
        {"rule": "key_models", "key": "limited", "model": "tiny"},
    )
    assert json.dumps(violation.details).find("hi") < 0  # no prompt text in the audit log
