"""Four clients at once with the same long instruction: Enclave vs llama-server vs llama-cpp-python's server.

An internal tool sends every request with the same system prompt or instruction, and several people use
it at the same time. Enclave evaluates that shared start once and shares its KV cells between the
sequences (the requests that arrive with the first wait one step for it); this measures the time until
every one of four concurrent clients has its first token, with an instruction of about 400 tokens that
no server has seen before (a new one every round), side by side in interleaved rounds on the same
GGUF, threads and loopback as `bench_serving.py`.

Run: python bench/bench_shared_prefix.py [--rounds 5]. Writes bench/results/shared_prefix.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_serving import SETTLE_S, Server, rotated, start_servers, stream_completion  # noqa: E402
from bench.common import demo_home, machine, median  # noqa: E402

CLIENTS = 4
WORDS = (  # noqa: SIM905 (a sentence of words reads better than a column of them)
    "policy record patient retention consent archive audit ward clinic nurse doctor form chart request law "
    "period erase export subject hold legal review board minutes invoice supplier ledger"
).split()


def instruction(seed: int) -> str:
    """About 400 tokens of instruction text that no server has cached (different for every seed)."""
    rng = random.Random(seed)
    return "Follow the records policy below.\n" + " ".join(rng.choice(WORDS) for _ in range(380))


async def burst(server: Server, seed: int) -> dict[str, float]:
    """Four requests at once sharing a new instruction: the time until the last of them has a token."""
    shared = instruction(seed)
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=CLIENTS + 2)) as client:
        await asyncio.sleep(SETTLE_S)
        replies = await asyncio.gather(
            *(
                stream_completion(client, server, f"{shared}\nQuestion {i}: which form applies to case {i * 7}?", 4)
                for i in range(CLIENTS)
            ),
            return_exceptions=True,
        )
    ok = [r for r in replies if not isinstance(r, BaseException)]
    if not ok:
        raise RuntimeError(f"{server.name}: every request failed: {replies[0]!r}")
    return {
        "all_first_tokens_s": max(r["ttft"] for r in ok),
        "mean_ttft_s": sum(r["ttft"] for r in ok) / len(ok),
        "cached_prompt_tokens": sum(max(r["cached_tokens"], 0.0) for r in ok),
        "failed": float(len(replies) - len(ok)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip", action="append", default=[], help="enclave, llama-cpp-python, llama-server")
    args = parser.parse_args()
    threads = os.cpu_count() or 1

    from engine.models import ModelRegistry

    demo_home()
    model_path = ModelRegistry().resolve(None).path
    per_round: dict[str, list[dict[str, float]]] = {}
    with ExitStack() as stack:
        servers = start_servers(stack, model_path, threads, args.skip)
        for index, server in enumerate(servers):  # warm-up: load the model, first-request costs
            asyncio.run(burst(server, seed=1000 + index))
            per_round[server.name] = []
        seed = 0
        for round_ in range(args.rounds):
            for server in rotated(servers, round_):
                print(f"round {round_ + 1}/{args.rounds}: {server.name} …", file=sys.stderr, flush=True)
                seed += 1  # a new instruction for every burst: nothing cached from an earlier one
                per_round[server.name].append(asyncio.run(burst(server, seed)))

    results = {name: {key: median([r[key] for r in runs]) for key in runs[0]} for name, runs in per_round.items()}
    ours = "Enclave"
    peers = {"llama.cpp llama-server": "llama_server", "llama-cpp-python server": "llama_cpp_python"}
    ratios: dict[str, float] = {}
    for name, key in peers.items():
        # Rounds where a peer failed requests (llama-cpp-python's server refuses all but one of them)
        # time only the requests it served: no ratio from those.
        pairs = [
            (a, b) for a, b in zip(per_round.get(ours, []), per_round.get(name, []), strict=False) if not b["failed"]
        ]
        if pairs:
            ratios[f"all_first_tokens_vs_{key}"] = median(
                [a["all_first_tokens_s"] / b["all_first_tokens_s"] for a, b in pairs]
            )

    print(f"\n{CLIENTS} concurrent clients, a new ~400-token instruction each round; median of {args.rounds} rounds\n")
    print("| server | every client's first token, ms | mean TTFT ms | prompt tokens reported cached | failed |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        failed = sum(run["failed"] for run in per_round[name])
        print(
            f"| {name} | {r['all_first_tokens_s'] * 1000:.0f} | {r['mean_ttft_s'] * 1000:.0f} | "
            f"{r['cached_prompt_tokens']:.0f} | {failed:.0f} |"
        )
    print("\nratios:", ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
    out: dict[str, Any] = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "threads": threads,
        "clients": CLIENTS,
        "model": model_path.name,
        "results": results,
        "ratios": ratios,
        "per_round": per_round,
    }
    path = ROOT / "bench" / "results" / "shared_prefix.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
