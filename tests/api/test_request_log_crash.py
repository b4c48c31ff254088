"""A request is on record before its response starts: a server killed right after a 200 keeps it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from engine.vault import Vault
from engine.vault.records import PENDING_STATUS
from tests.api.conftest import PASSPHRASE
from tests.api.serving import prepare_home, serve


def test_a_server_killed_right_after_a_200_keeps_the_request_on_record(api_home: Path, tiny_gguf: Path) -> None:
    key = prepare_home(api_home, tiny_gguf)
    with Vault.unlock(api_home, PASSPHRASE) as vault:
        before = {e.id for e in vault.request_log.recent(1000)}
    with serve(api_home, key) as served:
        body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 400,
                "stream": True}
        with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as response:
            assert response.status_code == 200
            next(response.iter_lines())  # the reply has started reaching the client
            os.kill(served.process.pid, signal.SIGKILL)  # and the server dies now
        served.process.wait(timeout=10)
    with Vault.unlock(api_home, PASSPHRASE) as vault:
        new = [e for e in vault.request_log.recent(1000) if e.id not in before]
    assert len(new) == 1
    assert new[0].status == PENDING_STATUS  # logged first, never completed: the crash shows


def test_a_completed_request_has_one_complete_row(api_home: Path, tiny_gguf: Path) -> None:
    key = prepare_home(api_home, tiny_gguf)  # a metadata-only key (the default): the row, not the text
    with Vault.unlock(api_home, PASSPHRASE) as vault:
        before = {e.id for e in vault.request_log.recent(1000)}
    with serve(api_home, key) as served:
        reply = httpx.post(
            f"{served.url}/v1/chat/completions", timeout=30, headers={"Authorization": f"Bearer {key}"},
            json={"model": "tiny", "messages": [{"role": "user", "content": "canary-log"}], "max_tokens": 3},
        )
        assert reply.status_code == 200
    with Vault.unlock(api_home, PASSPHRASE) as vault:
        rows = [e for e in vault.request_log.recent(1000) if e.id not in before]
    assert len(rows) == 1 and rows[0].request_text is None
    assert rows[0].status == 200 and rows[0].model == "tiny" and rows[0].completion_tokens > 0
