"""`enclave keys …` and `enclave serve` end to end: keys made on the CLI work against a served endpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from engine.cli import main
from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault
from tests.api.conftest import PASSPHRASE
from tests.api.serving import SERVE, free_port, wait_until_healthy


@pytest.fixture(autouse=True)
def prepared(api_home: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A vault (floor KDF) and the tiny model in the module's home; the passphrase in the env."""
    if not Vault.exists(api_home):
        Vault.init(api_home, PASSPHRASE, kdf=FLOOR)[0].close()
        registry = ModelRegistry()
        registry.import_file(tiny_gguf, "tiny")
        registry.set_default("tiny")
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)


def test_keys_create_list_revoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "ci", "--models", "tiny", "--rpm", "5", "--no-store"]) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("enc-") and "shown only this once" in err
    assert main(["keys", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["name"] == "ci" and listed[0]["models"] == ["tiny"] and listed[0]["store_content"] is False
    assert secret not in json.dumps(listed)
    assert main(["keys", "create", "--name", "ci"]) == 1  # a live key has this name
    assert "already exists" in capsys.readouterr().err
    assert main(["keys", "revoke", "ci"]) == 0
    assert main(["keys", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "revoke", "ci"]) == 1


def test_keys_create_reproducible_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "audit-repro", "--reproducible"]) == 0
    capsys.readouterr()
    assert main(["keys", "list", "--json"]) == 0
    listed = {k["name"]: k for k in json.loads(capsys.readouterr().out)}
    assert listed["audit-repro"]["reproducible"] is True
    assert main(["keys", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("audit-repro"))
    assert "reproducible" in row
    assert main(["keys", "revoke", "audit-repro"]) == 0


def test_serve_runs_until_sigterm_and_audits(api_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "serve-test"]) == 0
    secret = capsys.readouterr().out.strip()
    port = free_port()
    env = {**os.environ, "ENCLAVE_PASSPHRASE": PASSPHRASE}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--model", "tiny"],
        env=env, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        wait_until_healthy(process, port)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=secret, max_retries=0)
        reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=3)
        assert reply.choices[0].message.content is not None
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, process.stderr.read() if process.stderr else ""
    with Vault.unlock(api_home, PASSPHRASE) as vault:
        events = [(e.event, e.details.get("bind")) for e in vault.audit.entries()]
        logged = vault.request_log.recent(10)
    assert ("server_start", f"127.0.0.1:{port}") in events and ("server_stop", f"127.0.0.1:{port}") in events
    assert any(e.key_name == "serve-test" and e.status == 200 for e in logged)


def test_serve_refuses_a_public_bind_without_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "no-keys"
    Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    assert main(["serve", "--host", "0.0.0.0", "--port", str(free_port())]) == 1
    assert "refusing to listen" in capsys.readouterr().err
