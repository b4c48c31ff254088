"""Replay greedy replies through the speculation policy offline: tokens per unit of step time, noise-free.

On a shared machine, timings of speculative decoding say more about the neighbours than about the policy.
This script takes the extractive bench's tasks (bench/bench_extractive.py: quote, code, chat; a new task
each round), makes the demo model's greedy reply to each once (llama.cpp, speculation plays no part: a
greedy reply is the same with and without it), then replays each reply through `Drafter`: at every step
the policy drafts, the drafted tokens the reply has are kept, and the step costs what a decode of that
many tokens costs on a CPU (by default the demo model's quiet-machine curve, 2 threads; `--cost` to give
another). It prints the speed-up over decoding one token a step for: the policy as it learns step costs
(as it runs in the engine), the policy given the true costs, and an oracle that drafts exactly the run
of tokens that will be kept, step by step (nearly a bound for prompt-lookup drafts).

Run: python bench/replay_speculation.py [--rounds 2] [--tokens 128] [--replies FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.runtime.speculative import MAX_LOOKUP_DRAFT, NGRAM_SIZES, Drafter, StepCost  # noqa: E402

# Step time by tokens in the batch, in one-token steps: the demo model, 2 threads, a quiet machine (1 token
# 15 ms, 2 tokens 29 ms, 9 tokens 81 ms, 17 tokens 128 ms; longer batches extrapolated by their trend).
CPU_CURVE: tuple[tuple[int, float], ...] = ((1, 1.0), (2, 1.93), (9, 5.4), (17, 8.5), (33, 13.0), (65, 21.0))


Cost = Callable[[int], float]


def curve_cost(curve: tuple[tuple[int, float], ...]) -> Cost:
    """A step's cost by tokens in the batch, interpolated along the curve."""
    xs, ys = zip(*curve, strict=True)
    return lambda n: float(np.interp(n, xs, ys))


def replay(tokens: list[int], prompt: int, cost: Cost, *, learned: bool) -> float:
    """The speed-up of the policy over one token a step on this reply."""
    drafter, measured, spent = Drafter(list(tokens[: prompt + 1])), StepCost(), 0.0
    while len(drafter.history) < len(tokens):
        step_cost: Cost = measured.marginal(1) if learned else (lambda k: cost(1 + k))
        draft = drafter.draft(len(tokens) - len(drafter.history) - 1, step_cost)
        at, kept = len(drafter.history), 0
        while kept < len(draft) and draft[kept] == tokens[at + kept]:
            kept += 1
        for token in tokens[at : at + kept + 1]:
            drafter.push(token)
        drafter.record(len(draft), kept)
        spent += cost(1 + len(draft))
        measured.record(1 + len(draft), cost(1 + len(draft)) * 0.015)
    return (len(tokens) - prompt - 1) / spent


def oracle(tokens: list[int], prompt: int, cost: Cost) -> float:
    """The speed-up of drafting, from the same matches, exactly the tokens that will be kept (when it pays)."""
    drafter, spent = Drafter(list(tokens[: prompt + 1])), 0.0
    while len(drafter.history) < len(tokens):
        found, at, kept = drafter.match(), len(drafter.history), 0
        if found is not None:
            start = found[0]
            while (
                kept < MAX_LOOKUP_DRAFT
                and at + kept < len(tokens)
                and start + kept < at
                and drafter.history[start + kept] == tokens[at + kept]
            ):
                kept += 1
        if kept and (kept + 1) / cost(1 + kept) <= 1.0:
            kept = 0
        for token in tokens[at : at + kept + 1]:
            drafter.push(token)
        spent += cost(1 + kept)
    return (len(tokens) - prompt - 1) / spent


def greedy_replies(rounds: int, max_tokens: int) -> dict[str, dict[str, object]]:
    """The demo model's greedy reply to each task, as token ids (prompt, then reply)."""
    from llama_cpp import Llama

    from bench.bench_extractive import tasks
    from bench.common import temporary_demo_home
    from engine.models import ModelRegistry

    replies: dict[str, dict[str, object]] = {}
    with temporary_demo_home():
        path = ModelRegistry().resolve(None).path
        llm = Llama(str(path), n_ctx=8192, n_batch=512, n_threads=2, verbose=False)
        for round_ in range(rounds):
            for phase, text in tasks(round_).items():
                prompt = llm.tokenize(text.encode())
                reply: list[int] = []
                for token in llm.generate(prompt, temp=0.0, top_k=1, reset=True):
                    if llm.token_eos() == token or len(reply) >= max_tokens:
                        break
                    reply.append(token)
                replies[f"{phase} {round_}"] = {"prompt": len(prompt), "tokens": [*prompt, *reply]}
                print(f"{phase} {round_}: {len(reply)} tokens", file=sys.stderr, flush=True)
    return replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="tasks per phase (each round has its own)")
    parser.add_argument("--tokens", type=int, default=128, help="max tokens of each reply")
    parser.add_argument("--replies", type=Path, help="a JSON file of replies: read if it exists, else written")
    parser.add_argument("--cost", help="a step-cost curve 'tokens:steps,...' (default: the demo model on a CPU)")
    args = parser.parse_args()
    if args.replies is not None and args.replies.is_file():
        replies = json.loads(args.replies.read_text())
    else:
        replies = greedy_replies(args.rounds, args.tokens)
        if args.replies is not None:
            args.replies.write_text(json.dumps(replies))
    curve = CPU_CURVE
    if args.cost:
        curve = tuple((int(n), float(t)) for n, t in (pair.split(":") for pair in args.cost.split(",")))
    cost = curve_cost(curve)
    print(f"n-grams {NGRAM_SIZES}, drafts up to {MAX_LOOKUP_DRAFT}; step costs {curve}\n")
    print("| reply | learned costs | true costs | oracle |\n|---|---|---|---|")
    for name, reply in replies.items():
        tokens, prompt = list(reply["tokens"]), int(reply["prompt"])
        rates = (replay(tokens, prompt, cost, learned=True), replay(tokens, prompt, cost, learned=False))
        print(f"| {name} | {rates[0]:.2f}× | {rates[1]:.2f}× | {oracle(tokens, prompt, cost):.2f}× |")


if __name__ == "__main__":
    main()
