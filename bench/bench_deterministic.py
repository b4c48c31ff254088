"""What deterministic mode costs: the same requests with and without it, side by side on the demo model.

A deterministic request (a seed, or a key's "reproducible" rule) runs in a context of its own, up to four
decoding together there under the conditions that make each one's logits independent of the others'
(engine.runtime.deterministic). This measures, in interleaved rounds on one loaded model, with
prompt-lookup speculation on (the default) and off (engine.runtime.speculative; deterministic requests
speculate too, in their own context):
- one request alone (the deterministic one pays for evaluating its prompt in fixed-size chunks);
- three concurrent requests (issue 30's target: 3 concurrent seeded streams' throughput ≥ 0.9× that of 3
  concurrent unseeded ones);
for two prompts: a note to write (little to copy) and a document to quote (where speculation pays);
reporting wall time, time to first token and generated tokens per second for each mode, and the ratio
deterministic / normal (median over rounds of each round's ratio). It also checks that a seeded request
gives the same tokens cold, warm, while three other streams run, and while two other seeded ones run.

Run: python bench/bench_deterministic.py [--rounds 5] [--tokens 32] [--speculation lookup,off]
[--prompts note,quote]. Writes bench/results/deterministic.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_extractive import document  # noqa: E402
from bench.common import demo_home, machine, median  # noqa: E402

CLIENTS = 3
PROMPTS = {
    "note": "Write a short note to the records team about the retention policy for case files, numbered {i}. " * 4,
    "quote": "{i}. Quote this document word for word, then stop.\n\n" + document(8),
}


def run(
    runtime: Any, model: str, clients: int, tokens: int, deterministic: bool, round_: int, prompt: str = "note"
) -> dict[str, float]:
    """`clients` requests at once; wall time, median time to first token, generated tokens per second."""
    from engine.runtime import GenerationParams

    results: list[tuple[float, int]] = [(0.0, 0)] * clients
    started = time.perf_counter()

    def one(i: int) -> None:
        params = GenerationParams(
            max_tokens=tokens, temperature=1.0, seed=1000 + i, deterministic=deterministic, ignore_eos=True
        )
        messages = [{"role": "user", "content": PROMPTS[prompt].replace("{i}", str(i + 10 * round_))}]
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


def reproducible(runtime: Any, model: str, tokens: int) -> bool:
    """A seeded request's tokens cold (first after loading), warm and under three other streams: the same?"""
    from engine.runtime import GenerationParams

    params = GenerationParams(max_tokens=tokens, temperature=0.8, seed=42, deterministic=True, ignore_eos=True)
    messages = [{"role": "user", "content": PROMPTS["quote"].replace("{i}", "0")}]
    cold = runtime.chat(messages, params, model=model).text()
    warm = runtime.chat(messages, params, model=model).text()
    busy = GenerationParams(max_tokens=tokens, temperature=1.0, ignore_eos=True)
    others = [
        threading.Thread(
            target=lambda i=i: runtime.chat([{"role": "user", "content": f"Story {i}"}], busy, model=model).text()
        )
        for i in range(3)
    ]
    for thread in others:
        thread.start()
    loaded = runtime.chat(messages, params, model=model).text()
    for thread in others:
        thread.join()
    # Three seeded streams at once (seeds 42, 43, 44): each gives what it gives alone.
    seeds = [replace(params, seed=42 + i) for i in range(3)]
    alone = [cold, *(runtime.chat(messages, p, model=model).text() for p in seeds[1:])]
    together: list[str] = [""] * 3

    def seeded(i: int) -> None:
        together[i] = runtime.chat(messages, seeds[i], model=model).text()

    threads = [threading.Thread(target=seeded, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return bool(cold) and cold == warm == loaded and together == alone


def main() -> int:
    """Measure and write bench/results/deterministic.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--speculation", default="lookup,off", help="the settings to measure, comma-separated")
    parser.add_argument("--prompts", default="note,quote", help=f"which of {', '.join(PROMPTS)}, comma-separated")
    args = parser.parse_args()
    home = demo_home()
    os.environ["ENCLAVE_HOME"] = str(home)
    from engine.models import ModelRegistry
    from engine.models.demo import DEMO_NAME
    from engine.runtime import Runtime

    registry = ModelRegistry()
    rows: dict[str, list[dict[str, float]]] = {}
    identical: dict[str, bool] = {}
    for speculation in args.speculation.split(","):
        registry.update_settings(DEMO_NAME, speculation=speculation)
        runtime = Runtime(registry)
        runtime.load(DEMO_NAME)
        identical[speculation] = reproducible(runtime, DEMO_NAME, args.tokens)
        run(runtime, DEMO_NAME, 1, 4, True, -1)  # warm up both contexts
        for round_ in range(args.rounds):
            for prompt in args.prompts.split(","):
                for clients in (1, CLIENTS):
                    for deterministic in (False, True):  # interleaved: the machine's load hits both alike
                        mode = "deterministic" if deterministic else "normal"
                        name = f"speculation {speculation}, {prompt}, {clients}x {mode}"
                        rows.setdefault(name, []).append(
                            run(runtime, DEMO_NAME, clients, args.tokens, deterministic, round_, prompt)
                        )
        runtime.close()
    summary = {name: {key: round(median([r[key] for r in runs]), 3) for key in runs[0]} for name, runs in rows.items()}
    ratios = {
        name.replace(" normal", ""): round(
            median(
                [
                    d["tokens_per_s"] / n["tokens_per_s"]
                    for n, d in zip(runs, rows[name.replace("normal", "deterministic")], strict=True)
                    if n["tokens_per_s"] > 0
                ]
            ),
            3,
        )
        for name, runs in rows.items()
        if name.endswith("normal")
    }
    result = {
        "machine": machine(),
        "model": DEMO_NAME,
        "tokens": args.tokens,
        "rounds": args.rounds,
        "median": summary,
        "deterministic_vs_normal": ratios,
        "reproducible": identical,
        "runs": rows,
    }
    out = ROOT / "bench" / "results" / "deterministic.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, values in summary.items():
        print(
            f"{name:<48} wall {values['wall_s']:7.2f} s  ttft {values['ttft_s']:6.2f} s  "
            f"{values['tokens_per_s']:7.1f} tok/s"
        )
    print(f"deterministic / normal tokens/s, median of the rounds' ratios (target: {CLIENTS}x >= 0.9):")
    for name, value in ratios.items():
        print(f"  {name:<44} {value:.2f}")
    print("same tokens cold, warm, under 3 streams and 3 seeded at once:", identical)
    shutil.rmtree(home, ignore_errors=True)  # (the demo model's copy: 253 MB)
    return 0 if all(identical.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
