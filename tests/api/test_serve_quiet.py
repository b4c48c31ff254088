"""`enclave serve` keeps llama.cpp's own messages off stderr unless `--verbose` asks for them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault
from tests.api.conftest import PASSPHRASE
from tests.api.serving import SERVE, free_port, wait_until_healthy

# What llama.cpp's loader and context set-up print (function-name prefixes of its log lines).
LLAMA_LINE = re.compile(r"llama_(context|model_loader|kv_cache|model_load)|load_tensors|print_info|llm_load")


@pytest.fixture(autouse=True)
def prepared(api_home: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not Vault.exists(api_home):
        Vault.init(api_home, PASSPHRASE, kdf=FLOOR)[0].close()
    registry = ModelRegistry()
    if "tiny" not in [r.name for r in registry.list()]:
        registry.import_file(tiny_gguf, "tiny")
        registry.set_default("tiny")
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)


def _serve_stderr(*extra: str) -> str:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--model", "tiny", *extra],
        env={**os.environ}, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        wait_until_healthy(process, port)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return err


def test_serve_is_quiet_by_default_and_verbose_on_request() -> None:
    quiet = _serve_stderr()
    assert not [line for line in quiet.splitlines() if LLAMA_LINE.search(line)], quiet
    assert "Enclave API on http://127.0.0.1:" in quiet
    verbose = _serve_stderr("--verbose")
    assert any(LLAMA_LINE.search(line) for line in verbose.splitlines()), verbose
