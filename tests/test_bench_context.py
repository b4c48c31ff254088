"""The context-settings bench (bench/bench_context.py) runs every configuration and reports ratios to
llama-server's settings, on the suite's tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_configuration_is_measured_against_llama_servers_settings(tiny_gguf: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_context.py"), "--model", str(tiny_gguf)]
        + ["--tokens", "64", "--rounds", "2", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    names = set(report["results"])
    assert len(names) == 3 and any(name.startswith("llama-server") for name in names)
    for figures in report["results"].values():
        assert figures["prefill_s"] > 0 and figures["prefill_cpu_s"] > 0 and figures["decode_ms_per_token"] > 0
    assert set(report["ratios"]) == {name for name in names if not name.startswith("llama-server")}
    assert all(len(rounds) == 2 for rounds in report["per_round"].values())


def test_a_prompt_longer_than_a_sequences_context_is_refused() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_context.py"), "--tokens", "5000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "--tokens must be between" in run.stderr
