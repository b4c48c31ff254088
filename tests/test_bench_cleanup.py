"""The benchmarks' temporary ENCLAVE_HOME (a 253 MB copy of the demo model) is removed whatever happens."""

from __future__ import annotations

import os
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
