"""Hostile GGUF headers through the real `enclave models import`: one clear line, exit 1, nothing kept.

Each file is a few bytes to a few MB that claims something absurd (nesting, counts, lengths); the
header reader must refuse it within its bounds, in seconds, without a traceback or a partial import.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.models import gguf_header
from engine.models.gguf_header import GGUFError, read_header

STRING, ARRAY, U32 = 8, 9, 4


def gstr(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def gguf(kvs: bytes, kv_count: int = 1, tensor_count: int = 0) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, tensor_count, kv_count) + kvs


def nested_arrays(depth: int) -> bytes:
    """One key whose value is an array of an array of … `depth` deep, ending in one u32."""
    return gguf(gstr(b"deep") + struct.pack("<I", ARRAY) + struct.pack("<IQ", ARRAY, 1) * (depth - 1)
                + struct.pack("<IQ", U32, 1) + struct.pack("<I", 7))


def string_array(count: int) -> bytes:
    """One key holding `count` empty strings (each read one at a time)."""
    return gguf(gstr(b"many") + struct.pack("<IIQ", ARRAY, STRING, count) + struct.pack("<Q", 0) * count)


HOSTILE = {
    "nested-20000": (nested_arrays(20_000), "nests more than"),
    "array-count-2^63": (gguf(gstr(b"k") + struct.pack("<IIQ", ARRAY, U32, 2**63)), "implausibly long"),
    "string-length-2^62": (gguf(gstr(b"k") + struct.pack("<IQ", STRING, 2**62)), "implausibly long"),
    "string-past-the-end": (gguf(gstr(b"k") + struct.pack("<IQ", STRING, 60 * 2**20) + b"x" * 100), "truncated"),
    "key-length-2^40": (gguf(struct.pack("<Q", 2**40) + b"k"), "implausibly long"),
    "kv-count-2^60": (gguf(b"", kv_count=2**60), "implausible"),
    "tensor-count-2^60": (gguf(b"", kv_count=0, tensor_count=2**60), "implausible"),
    "array-items-past-the-end": (gguf(gstr(b"k") + struct.pack("<IIQ", ARRAY, U32, 10**7)), "truncated"),
    "too-many-strings": (string_array(gguf_header.MAX_WALKED_ITEMS + 1), "implausibly many items"),
}


def run_import(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "models", "import", str(path), "--name", "hostile"],
        capture_output=True, text=True, timeout=120, env=os.environ.copy(),
    )


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_header_is_refused_cleanly_by_models_import(case: str, tmp_path: Path, enclave_home: Path) -> None:
    data, message = HOSTILE[case]
    path = tmp_path / f"{case}.gguf"
    path.write_bytes(data.ljust(64, b"\0") if len(data) < 64 else data)
    started = time.monotonic()
    result = run_import(path)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert time.monotonic() - started < 30
    models = enclave_home / "models"
    assert not models.exists() or {p.name for p in models.iterdir()} <= {"registry.json", "registry.lock"}


def test_the_walk_is_bounded_in_time(tmp_path: Path) -> None:
    path = tmp_path / "walk.gguf"
    path.write_bytes(string_array(gguf_header.MAX_WALKED_ITEMS - 1))  # the key counts too: just within
    started = time.monotonic()
    header = read_header(path)
    assert header.array_lengths["many"] == gguf_header.MAX_WALKED_ITEMS - 1
    assert time.monotonic() - started < 15


def test_kept_strings_are_bounded_in_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gguf_header, "MAX_KEPT_BYTES", 1000)
    path = tmp_path / "strings.gguf"
    kvs = b"".join(gstr(f"k{i}".encode()) + struct.pack("<I", STRING) + gstr(b"v" * 300) for i in range(4))
    path.write_bytes(gguf(kvs, kv_count=4))
    with pytest.raises(GGUFError, match="implausibly large in total"):
        read_header(path)


def test_shallow_nesting_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "nested.gguf"
    path.write_bytes(nested_arrays(gguf_header.MAX_ARRAY_DEPTH))
    assert read_header(path).array_lengths["deep"] == 1
