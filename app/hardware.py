"""What this machine has (CPU, RAM, GPU) and whether a model fits, for the Models view's hardware panel.

Read-only probes of /proc and, when present, `nvidia-smi`; run them in a worker (the GPU probe can take
a second). This belongs in the engine eventually (`/health` wants the same facts); it has no Qt in it.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from engine.models import ModelRecord
from engine.runtime.manager import estimated_memory, total_memory_bytes


@dataclass(frozen=True)
class Gpu:
    """One GPU as the driver names it."""

    name: str
    memory_bytes: int


@dataclass(frozen=True)
class Hardware:
    """The facts the hardware panel shows."""

    cpu: str
    cores: int
    memory_total: int
    memory_available: int
    gpus: tuple[Gpu, ...]
    gpu_offload: bool  # llama.cpp was built with a GPU backend

    def fits(self, record: ModelRecord, *, freed: int = 0) -> bool:
        """True when the model's estimated load size fits in free RAM (plus VRAM when offloading), with
        `freed` bytes more that loading it frees (the same model loaded with other settings)."""
        room = self.memory_available + freed
        if self.gpu_offload:
            room += sum(gpu.memory_bytes for gpu in self.gpus)
        return estimated_memory(record) <= room


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def available_memory() -> int:
    """Memory free for a new model now (MemAvailable: free plus what the kernel can reclaim)."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError):
        return total_memory_bytes() // 2


def _nvidia_gpus() -> tuple[Gpu, ...]:
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return ()
    try:
        output = subprocess.run(
            [tool, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=3, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    gpus = []
    for line in output.strip().splitlines():
        name, _, mib = line.rpartition(",")
        try:
            gpus.append(Gpu(name.strip(), int(float(mib.strip())) * 1024 * 1024))
        except ValueError:
            continue
    return tuple(gpus)


def _gpu_offload() -> bool:
    try:
        from llama_cpp import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # noqa: BLE001 (no backend information: say no GPU)
        return False


def probe() -> Hardware:
    """Look at this machine (call it from a worker)."""
    return Hardware(
        cpu=_cpu_name(),
        cores=os.cpu_count() or 1,
        memory_total=total_memory_bytes(),
        memory_available=available_memory(),
        gpus=_nvidia_gpus(),
        gpu_offload=_gpu_offload(),
    )
