"""Helpers shared by the benchmark scripts: a temporary ENCLAVE_HOME with the demo model, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
from pathlib import Path
from typing import Any


def demo_home() -> Path:
    """A throwaway ENCLAVE_HOME with the bundled demo model registered (assembled once per run)."""
    home = Path(tempfile.mkdtemp(prefix="enclave-bench-"))
    os.environ["ENCLAVE_HOME"] = str(home)
    os.environ.pop("ENCLAVE_NO_DEMO", None)
    from engine.models import ModelRegistry
    from engine.models.demo import ensure_demo_model

    if ensure_demo_model(ModelRegistry()) is None:
        raise SystemExit("the demo model package is not installed: pip install -e '.[demo]'")
    return home


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}


def median(values: list[float]) -> float:
    """Median, or 0 for an empty list."""
    return statistics.median(values) if values else 0.0
