"""The benchmarks' temporary ENCLAVE_HOME (a 253 MB copy of the demo model) is removed whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.common import temporary_demo_home


def _assembled(registry: Any) -> object:
    """Stands for the demo model's assembly: a large file in the models folder, as the real one leaves."""
    home = Path(os.environ["ENCLAVE_HOME"])
    (home / "models").mkdir(parents=True, exist_ok=True)
    (home / "models" / "demo.gguf").write_bytes(b"\0" * 1024)
    return object()


def test_the_home_is_removed_on_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.models.demo.ensure_demo_model", _assembled)
    before = os.environ.get("ENCLAVE_HOME")
    seen: list[Path] = []
    with pytest.raises(KeyboardInterrupt), temporary_demo_home() as home:
        seen.append(home)
        assert (home / "models" / "demo.gguf").is_file()
        raise KeyboardInterrupt
    assert not seen[0].exists()
    assert os.environ.get("ENCLAVE_HOME") == before


def test_the_home_is_removed_when_the_demo_model_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Path] = []

    def missing(registry: Any) -> None:
        made.append(Path(os.environ["ENCLAVE_HOME"]))

    monkeypatch.setattr("engine.models.demo.ensure_demo_model", missing)
    with pytest.raises(SystemExit), temporary_demo_home():
        pass
    assert made and not made[0].exists()


# A bench script calling `demo_home()`: the stand-in for the demo model's assembly, then it either returns
# or waits to be terminated. It prints its home so the test can look for it afterwards.
SCRIPT = """
import os, sys, time
from pathlib import Path
import engine.models.demo as demo

def assembled(registry):
    home = Path(os.environ["ENCLAVE_HOME"])
    (home / "models").mkdir(parents=True, exist_ok=True)
    (home / "models" / "demo.gguf").write_bytes(b"0" * 1024)
    return object()

demo.ensure_demo_model = assembled
from bench.common import demo_home
print(demo_home(), flush=True)
if sys.argv[1] == "wait":
    time.sleep(60)
"""


@pytest.mark.parametrize("ending", ["return", "sigterm"])
def test_a_bench_s_own_demo_home_is_removed_when_it_ends(ending: str) -> None:
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "wait" if ending == "sigterm" else "return"],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    home = Path(process.stdout.readline().strip())
    assert home.name.startswith("enclave-bench-")
    if ending == "sigterm":
        assert (home / "models" / "demo.gguf").is_file()
        process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) in (0, 143)
    assert not home.exists()
