"""The offline guarantee: a full session (init, import, chat, keys, serve, API calls, export, report) run
as real processes with every non-loopback network use refused; any attempt fails the test.

Each child loads a `sitecustomize` that installs engine.policy.offline's guard before anything else
runs, so library code (llama.cpp bindings, uvicorn, httpx, openai) is covered too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple"
SITECUSTOMIZE = """
import os
from engine.policy.offline import install_guard

def _log(what):
    with open(os.environ["ENCLAVE_OFFLINE_LOG"], "a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()} {what}\\n")

install_guard(_log)
"""
CLIENT = """
import sys, httpx, openai
base, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
assert [m.id for m in client.models.list().data] == ["tiny"]
reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
assert reply.model_extra["enclave_label"]["ai_generated"] is True
raw = httpx.post(base + "/v1/completions", headers={"Authorization": "Bearer " + key},
                 json={"model": "tiny", "prompt": "Once", "max_tokens": 3})
assert raw.status_code == 200 and raw.headers["x-enclave-ai-generated"] == "true", raw.text
"""


@pytest.fixture()
def guarded_env(tmp_path: Path, enclave_home: Path) -> dict[str, str]:
    """Environment for children with the guard preloaded and attempts logged to a file."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENCLAVE_", "HTTP_PROXY", "HTTPS_PROXY"))}
    env.update(
        PYTHONPATH=f"{site}{os.pathsep}{ROOT}",
        ENCLAVE_HOME=str(enclave_home),
        ENCLAVE_NO_DEMO="1",
        ENCLAVE_PASSPHRASE=PASSPHRASE,
        ENCLAVE_OFFLINE_LOG=str(tmp_path / "attempts.log"),
        # Proxies set on a developer machine must not be the reason a test connects anywhere.
        NO_PROXY="*",
    )
    return env


def _enclave(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _attempts(env: dict[str, str]) -> str:
    path = Path(env["ENCLAVE_OFFLINE_LOG"])
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_the_guard_catches_an_outbound_attempt(guarded_env: dict[str, str]) -> None:
    probe = "import socket; socket.create_connection(('192.0.2.1', 9), timeout=1)"
    result = subprocess.run([sys.executable, "-c", probe], env=guarded_env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "OutboundBlocked" in result.stderr
    lookup = "import socket; socket.getaddrinfo('example.com', 443)"
    result = subprocess.run([sys.executable, "-c", lookup], env=guarded_env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "192.0.2.1" in _attempts(guarded_env) and "example.com" in _attempts(guarded_env)
    local = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); socket.getaddrinfo('localhost', 80)"
    assert subprocess.run([sys.executable, "-c", local], env=guarded_env, timeout=60).returncode == 0


@pytest.mark.slow
def test_a_full_session_makes_no_outbound_connection(
    guarded_env: dict[str, str], tiny_gguf: Path, tmp_path: Path
) -> None:
    env = guarded_env
    steps = [
        ("init", "--kdf-memory-mib", "19", "--kdf-iterations", "2", "--kdf-lanes", "1"),
        ("models", "import", str(tiny_gguf), "--name", "tiny"),
        ("chat", "--max-tokens", "4", "Hello offline world"),
        ("retention", "set", "conversations", "365"),
    ]
    for argv in steps:
        result = _enclave(env, *argv)
        assert result.returncode == 0, (argv, result.stderr)
    key = _enclave(env, "keys", "create", "--name", "offline")
    assert key.returncode == 0, key.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serve = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while "Enclave API on" not in line and time.monotonic() < deadline and serve.poll() is None:
            line = serve.stderr.readline()
        assert "Enclave API on" in line, line
        client = subprocess.run(
            [sys.executable, "-c", CLIENT, f"http://127.0.0.1:{port}", key.stdout.strip()],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert client.returncode == 0, client.stderr
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    assert serve.returncode == 0
    for argv in (("export", "--all", "--out", str(tmp_path / "export")), ("report", "processing"), ("audit", "verify")):
        result = _enclave(env, *argv)
        assert result.returncode == 0, (argv, result.stderr)
    assert (tmp_path / "export" / "manifest.json").exists()
    assert _attempts(env) == ""  # not one outbound attempt, in any process of the session
