"""The per-token sampling call on the demo model's real logits: llama.cpp's `llama_sampler_sample` over the
whole vocabulary against the chain on the exact preselection (engine/runtime/candidates.py).

Right after each decode of a seeded sampled reply, both paths sample the same row with chains of the same
seed (the order alternates from token to token: the first to read the row pays its cache misses), timed as
CPU time of the calling thread, so other processes on the machine count less. Prints the medians and how
many tokens the two paths agreed on (all of them, or the preselection is wrong).

Run: python bench/bench_sampling_call.py [--tokens 128] [--runs 3]   (about a minute on 2 cores)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import temporary_demo_home  # noqa: E402

PROMPT = "The harbour town woke slowly. Fishermen checked their nets, and the lighthouse keeper said"


def measure(model: Any, prompt: list[int], params: Any, tokens: int, runs: int) -> str:
    """Both paths on every row of `runs` seeded replies of `tokens` tokens; a line of figures."""
    from llama_cpp import llama_cpp as C

    from engine.runtime import CancelToken, GenerationParams

    native, fast = model._sampler(params, prompt), model._sampler(params, prompt)
    native_s: list[float] = []
    fast_s: list[float] = []
    agreed = 0
    sample = model._sample

    def whole(index: int) -> int:
        start = time.thread_time()
        token = int(C.llama_sampler_sample(native.sampler.sampler, model.ctx.ctx, index))
        native_s.append(time.thread_time() - start)
        native.taken(token)
        return token

    def preselected(index: int) -> int:
        start = time.thread_time()
        logits = model._logits(index, model.ctx)
        token = int(fast.choose(logits, fast.preselect(logits)))
        fast_s.append(time.thread_time() - start)
        return token

    def both(request: Any) -> None:
        nonlocal agreed
        index = request.batch_index
        if len(native_s) % 2:
            a, b = whole(index), preselected(index)
        else:
            b, a = preselected(index), whole(index)
        agreed += a == b
        sample(request)

    model._sample = both
    try:
        for _ in range(runs):
            reply = GenerationParams(max_tokens=tokens, temperature=0.8, seed=1, ignore_eos=True)
            model.admit(prompt, reply, CancelToken(), lambda _item: None, 0.0)
            while model.active:
                model.step()
    finally:
        model._sample = sample
        native.close()
        fast.close()
    return (
        f"llama_sampler_sample {statistics.median(native_s) * 1000:.3f} ms, "
        f"preselected {statistics.median(fast_s) * 1000:.3f} ms (median CPU time per token), "
        f"same token {agreed}/{len(fast_s)}, equal logits in the top k {fast.ties}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from engine.models import ModelRegistry
    from engine.runtime import GenerationParams
    from engine.runtime.batch import BatchedModel

    cases = {
        "temperature 0.8, top-p 0.95": GenerationParams(temperature=0.8, top_p=0.95, seed=3),
        "+ repeat 1.1, presence 0.3": GenerationParams(
            temperature=0.8, top_p=0.95, seed=3, repeat_penalty=1.1, presence_penalty=0.3
        ),
    }
    with temporary_demo_home():
        record = ModelRegistry().resolve(None)
        settings = replace(record.settings, context_size=1024, parallel=1, threads=1, speculation="off")
        model = BatchedModel(replace(record, settings=settings))
        prompt = model.tokenize(PROMPT)
        try:
            for label, params in cases.items():
                print(f"{label}: {measure(model, prompt, params, args.tokens, args.runs)}")
        finally:
            model.close()


if __name__ == "__main__":
    main()
