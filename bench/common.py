"""Helpers shared by the benchmark scripts: a temporary ENCLAVE_HOME with the demo model, machine facts."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


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


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Poll until the server at `url` answers (or fail if its process exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up")
