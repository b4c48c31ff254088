"""What deterministic mode costs: the same requests with and without it, side by side on the demo model.

A deterministic request (a seed, or a key's "reproducible" rule) is evaluated from scratch in a context of
its own and decoded in a batch of its own, one such request at a time (engine.runtime.batch). This
measures, in interleaved rounds on one loaded model:
- one request alone (the deterministic one pays for evaluating its prompt in fixed-size chunks);
- four concurrent requests (the normal path decodes them together; deterministic ones run one after another);
reporting wall time, time to first token and generated tokens per second for each mode.

Run: python bench/bench_deterministic.py [--rounds 3] [--tokens 32]. Writes bench/results/deterministic.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import demo_home, machine, median  # noqa: E402

CLIENTS = 4
PROMPT = "Write a short note to the records team about the retention policy for case files, numbered {i}. " * 4


def run(runtime: Any, model: str, clients: int, tokens: int, deterministic: bool, round_: int) -> dict[str, float]:
    """`clients` requests at once; wall time, median time to first token, generated tokens per second."""
    from engine.runtime import GenerationParams

    results: list[tuple[float, int]] = [(0.0, 0)] * clients
    started = time.perf_counter()

    def one(i: int) -> None:
        params = GenerationParams(
            max_tokens=tokens, temperature=1.0, seed=1000 + i, deterministic=deterministic, ignore_eos=True
        )
        messages = [{"role": "user", "content": PROMPT.format(i=i + 10 * round_)}]
        first, count = 0.0, 0
        for chunk in runtime.chat(messages, params, model=model):
            if not first and chunk.text:
                first = time.perf_counter() - started
            if chunk.usage is not None:
                count = chunk.usage.completion_tokens
        results[i] = (first, count)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "ttft_s": median([r[0] for r in results]),
        "tokens_per_s": sum(r[1] for r in results) / wall,
    }


def main() -> int:
    """Measure and write bench/results/deterministic.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    home = demo_home()
    os.environ["ENCLAVE_HOME"] = str(home)
    from engine.models import ModelRegistry
    from engine.models.demo import DEMO_NAME
    from engine.runtime import Runtime

    runtime = Runtime(ModelRegistry())
    runtime.load(DEMO_NAME)
    run(runtime, DEMO_NAME, 1, 4, True, -1)  # warm up both contexts
    rows: dict[str, list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for clients in (1, CLIENTS):
            for deterministic in (False, True):  # interleaved: the machine's load hits both alike
                name = f"{clients}x {'deterministic' if deterministic else 'normal'}"
                rows.setdefault(name, []).append(run(runtime, DEMO_NAME, clients, args.tokens, deterministic, round_))
    runtime.close()
    summary = {
        name: {key: round(median([r[key] for r in runs]), 3) for key in runs[0]} for name, runs in rows.items()
    }
    result = {"machine": machine(), "model": DEMO_NAME, "tokens": args.tokens, "rounds": args.rounds,
              "median": summary, "runs": rows}
    out = ROOT / "bench" / "results" / "deterministic.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, values in summary.items():
        print(f"{name:<20} wall {values['wall_s']:7.2f} s  ttft {values['ttft_s']:6.2f} s  "
              f"{values['tokens_per_s']:7.1f} tok/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
