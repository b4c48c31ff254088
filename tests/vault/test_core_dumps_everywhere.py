"""Every process that unlocks the vault writes no core file: CLI commands and the GUI, not only the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault

PASSPHRASE = "correct horse battery staple"
ROOT = Path(__file__).resolve().parents[2]
# Core dumps allowed first (as on a developer machine), then the command runs in this very process.
PROBE = (
    "import resource, sys; from engine.cli import main; "
    "ceiling = resource.getrlimit(resource.RLIMIT_CORE)[1]; "
    "resource.setrlimit(resource.RLIMIT_CORE, (min(1 << 20, ceiling) if ceiling >= 0 else 1 << 20, ceiling)); "
    "code = main(sys.argv[1:]); "
    "print('RLIMIT_CORE', resource.getrlimit(resource.RLIMIT_CORE)[0], code, file=sys.stderr)"
)


@pytest.fixture()
def prepared(enclave_home: Path, tiny_gguf: Path) -> Path:
    """A vault and the tiny model as default."""
    Vault.init(enclave_home, PASSPHRASE, kdf=FLOOR)[0].close()
    registry = ModelRegistry()
    registry.import_file(tiny_gguf, "tiny")
    registry.set_default("tiny")
    return enclave_home


@pytest.mark.parametrize(
    "argv",
    [["chat", "--new", "hello"], ["audit", "verify"], ["keys", "list"], ["gui", "--screenshot", "{tmp}/s.png"]],
    ids=["chat", "audit-verify", "keys-list", "gui"],
)
def test_unlocking_disables_core_dumps(prepared: Path, tmp_path: Path, argv: list[str]) -> None:
    import resource

    if resource.getrlimit(resource.RLIMIT_CORE)[1] == 0:
        pytest.skip("core dumps are already forbidden for this test run (hard limit 0)")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    env = {**os.environ, "ENCLAVE_PASSPHRASE": PASSPHRASE, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env,
                            timeout=180, cwd=ROOT)
    last = result.stderr.strip().splitlines()[-1]
    assert last == "RLIMIT_CORE 0 0", result.stderr[-2000:]
