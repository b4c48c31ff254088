"""`enclave tools add | list | allow | deny | refresh | remove` against the real test MCP server."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault
from tests.tools.conftest import SERVER

PASSPHRASE = "correct horse battery staple"


def test_cli_registers_allows_and_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "cli-home"
    Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    command = shlex.join([sys.executable, str(SERVER), str(tmp_path / "calls"), "stdio"])
    assert main(["tools", "add", "corp", "--command", command]) == 0
    assert "none allowed yet: lookup, wipe_disk, big, slow" in capsys.readouterr().err
    assert main(["tools", "allow", "corp", "lookup", "--always"]) == 0
    assert main(["tools", "list"]) == 0
    out = capsys.readouterr().out
    assert "lookup" in out and "always" in out and "wipe_disk" in out
    assert main(["tools", "allow", "corp", "nope"]) == 1
    assert "has no tool 'nope'" in capsys.readouterr().err
    assert main(["tools", "add", "Bad Name", "--url", "https://x/mcp"]) == 1
    assert "invalid tool server name" in capsys.readouterr().err
    assert main(["tools", "deny", "corp", "lookup"]) == 0
    assert main(["tools", "refresh", "corp"]) == 0
    assert main(["tools", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["allowed"]) for t in listed["tools"]] == [
        ("lookup", False), ("wipe_disk", False), ("big", False), ("slow", False)]
    assert main(["tools", "remove", "corp"]) == 0
    assert main(["tools", "remove", "corp"]) == 1
    assert not (tmp_path / "calls").exists()  # listing runs no tool
    # The command line (it names a path) is stored only encrypted.
    assert not any(b"mcp_server.py" in p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_a_real_process_gets_one_line_for_an_unreachable_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
    env = {"ENCLAVE_HOME": str(home), "ENCLAVE_PASSPHRASE": PASSPHRASE, "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, "-m", "engine.cli", "tools", "add", "gone", "--command",
                           "/nonexistent/mcp-server"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and done.stderr.startswith("enclave: tool server 'gone' failed")
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_cli_attaches_always_allowed_tools_to_an_assistant_and_keys_opt_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tiny_gguf: Path
) -> None:
    home = tmp_path / "cli-home"
    vault = Vault.init(home, PASSPHRASE, kdf=FLOOR)[0]
    vault.documents.create_collection("IT handbook")
    vault.close()
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    ModelRegistry().import_file(tiny_gguf, "tiny")
    command = shlex.join([sys.executable, str(SERVER), str(tmp_path / "calls"), "stdio"])
    assert main(["tools", "add", "corp", "--command", command]) == 0
    assert main(["tools", "allow", "corp", "wipe_disk"]) == 0  # asked each time: cannot be attached
    create = ["assistants", "create", "helpdesk", "--model", "tiny", "--docs", "IT handbook"]
    capsys.readouterr()
    assert main([*create, "--tools", "corp.wipe_disk"]) == 1
    assert "not marked \"always allow\"" in capsys.readouterr().err
    assert main(["tools", "allow", "corp", "lookup", "--always"]) == 0
    assert main([*create, "--tools", "corp.lookup", "--tool-choice", "required"]) == 0
    assert "tools corp.lookup" in capsys.readouterr().out
    assert main(["assistants", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["tools"], listed["tool_choice"]) == (["corp.lookup"], "required")
    assert main(["keys", "create", "--name", "agent", "--tools"]) == 0
    assert main(["keys", "create", "--name", "plain"]) == 0
    capsys.readouterr()
    assert main(["keys", "list", "--json"]) == 0
    keys = {k["name"]: k["tools"] for k in json.loads(capsys.readouterr().out)}
    assert keys == {"agent": True, "plain": False}
