"""Usage errors exit 1 with one line on stderr, for every command group (exit 2 means tampering only);
`enclave keys create` logs metadata only unless --store-content, and takes an expiry."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENCLAVE = [sys.executable, "-m", "engine.cli"]
PASSPHRASE = "usage errors passphrase"


def run(*args: str, home: Path, passphrase: bool = False) -> subprocess.CompletedProcess[str]:
    """`enclave ARGS` in a subprocess with ENCLAVE_HOME set (and the passphrase, if asked)."""
    env = {**os.environ, "ENCLAVE_HOME": str(home)}
    env.pop("ENCLAVE_PASSPHRASE", None)
    if passphrase:
        env["ENCLAVE_PASSPHRASE"] = PASSPHRASE
    return subprocess.run([*ENCLAVE, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ["no-such-command"],
    ["keys"],  # an action is required
    ["keys", "create"],  # --name is required
    ["keys", "create", "--name", "x", "--rpm", "many"],  # not a number
    ["keys", "create", "--name", "x", "--store-content", "--no-store"],  # mutually exclusive
    ["serve", "--port", "eighty"],
    ["models", "import"],
    ["vault", "backup"],
    ["upstreams", "add", "lab"],
    ["chat", "--unknown-flag", "hi"],
])
def test_usage_errors_exit_1_with_one_line(args: list[str], enclave_home: Path) -> None:
    result = run(*args, home=enclave_home)
    assert result.returncode == 1, (args, result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("enclave") and "--help" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_help_and_version_still_exit_0(enclave_home: Path) -> None:
    assert run("--version", home=enclave_home).returncode == 0
    assert run("keys", "create", "--help", home=enclave_home).returncode == 0


def test_keys_are_private_by_default_and_can_expire(enclave_home: Path) -> None:
    from engine.vault import FLOOR, Vault

    Vault.init(enclave_home, PASSPHRASE, kdf=FLOOR)[0].close()
    plain = run("keys", "create", "--name", "plain", home=enclave_home, passphrase=True)
    assert plain.returncode == 0 and "metadata only" in plain.stderr and "does not expire" in plain.stderr
    kept = run("keys", "create", "--name", "kept", "--store-content", "--expires", "30",
               home=enclave_home, passphrase=True)
    assert kept.returncode == 0 and "prompt and reply texts" in kept.stderr
    last_day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).date()
    dated = run("keys", "create", "--name", "dated", "--no-store", "--expires", last_day.isoformat(),
                home=enclave_home, passphrase=True)
    assert dated.returncode == 0
    for bad in ("2001-01-01", "someday", "0"):
        refused = run("keys", "create", "--name", "bad", "--expires", bad, home=enclave_home, passphrase=True)
        assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    listed = {k["name"]: k for k in json.loads(run("keys", "list", "--json", home=enclave_home,
                                                      passphrase=True).stdout)}
    assert set(listed) == {"plain", "kept", "dated"}
    assert (listed["plain"]["store_content"], listed["kept"]["store_content"], listed["dated"]["store_content"]) \
        == (False, True, False)
    assert listed["plain"]["expires_at"] is None
    assert listed["dated"]["expires_at"].startswith((last_day + dt.timedelta(days=1)).isoformat())
    table = run("keys", "list", home=enclave_home, passphrase=True).stdout
    assert "EXPIRES" in table and "never" in table and "no-store" in table and "logged" in table


def test_keys_reach_collections_only_when_granted(enclave_home: Path) -> None:
    from engine.vault import FLOOR, Vault

    Vault.init(enclave_home, PASSPHRASE, kdf=FLOOR)[0].close()
    assert run("keys", "create", "--name", "none", home=enclave_home, passphrase=True).returncode == 0
    made = run("keys", "create", "--name", "docs", "--collections", "HR, Legal", "--collections-write", "Inbox",
               home=enclave_home, passphrase=True)
    assert made.returncode == 0, made.stderr
    listed = {k["name"]: k for k in json.loads(run("keys", "list", "--json", home=enclave_home,
                                                      passphrase=True).stdout)}
    assert (listed["none"]["collections"], listed["none"]["collections_write"]) == ([], [])
    assert (listed["docs"]["collections"], listed["docs"]["collections_write"]) == (["HR", "Legal"], ["Inbox"])
    table = run("keys", "list", home=enclave_home, passphrase=True).stdout
    assert "COLLECTIONS" in table and "read:HR,Legal write:Inbox" in table


# Libraries a command imports only when it uses them: the SDK of MCP (half a second) for a tool call, pandas
# (sqlite-utils would import it, 0.1-0.2 s) never, Qt and the training stack only for the app and `train`.
NOT_AT_START = ("mcp", "pandas", "PySide6", "torch", "transformers", "peft")


def test_the_parser_and_an_open_vault_import_no_heavy_library_they_do_not_use(tmp_path: Path) -> None:
    """Every `enclave` command builds the whole parser, and most open the vault: neither may pull in the
    libraries above (each launch of the CLI took 1.5 s when they did, 0.55 s without)."""
    script = (
        "import sys\n"
        "from engine.cli import build_parser\n"
        "from pathlib import Path\n"
        "from engine.vault import FLOOR, Vault\n"
        "build_parser()\n"
        f"Vault.init(Path({str(tmp_path)!r}), 'a passphrase for this test', kdf=FLOOR)[0].close()\n"
        f"print(' '.join(name for name in {NOT_AT_START!r} if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
