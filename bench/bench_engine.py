"""Decode speed through Enclave's runtime next to a plain llama-cpp-python loop, same model and settings.

Run: python bench/bench_engine.py [--tokens 128] [--runs 3]. Prints the ratio engine / raw; the engine
adds a worker thread and a queue per chunk, which should cost next to nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import demo_home, machine, median  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def raw_llama_cpp(model_path: str, n_ctx: int, threads: int, tokens: int) -> tuple[float, float]:
    """(time to first token, decode tokens/s) for llama-cpp-python's own streaming completion."""
    from llama_cpp import Llama

    llm = Llama(model_path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    eos = llm.token_eos()
    started = time.perf_counter()
    first = None
    count = 0
    for _ in llm.create_completion(PROMPT, max_tokens=tokens, temperature=0.0, stream=True, logit_bias={eos: -1e9}):
        count += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    llm.close()
    assert first is not None
    return first - started, (count - 1) / (end - first)


def engine(tokens: int) -> tuple[float, float]:
    """(time to first token, decode tokens/s) through Runtime.complete (worker thread + queue)."""
    from engine.runtime import GenerationParams, Runtime

    runtime = Runtime()
    runtime.load()
    started = time.perf_counter()
    first = None
    count = 0
    gen = runtime.complete(PROMPT, GenerationParams(max_tokens=tokens, temperature=0.0, ignore_eos=True))
    for chunk in gen:
        if chunk.finish_reason is None:
            count += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    runtime.close()
    assert first is not None
    return first - started, (count - 1) / (end - first)


def main() -> None:
    """Run both side by side, alternating, and print the ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    demo_home()
    from engine.models import ModelRegistry
    from engine.models.memory import DEFAULT_CONTEXT

    record = ModelRegistry().resolve(None)
    threads = os.cpu_count() or 1
    results: dict[str, list[tuple[float, float]]] = {"engine": [], "raw": []}
    for _ in range(args.runs):  # alternate so drift affects both equally
        results["raw"].append(raw_llama_cpp(str(record.path), DEFAULT_CONTEXT, threads, args.tokens))
        results["engine"].append(engine(args.tokens))
    summary = {
        name: {"ttft_s": median([r[0] for r in runs]), "decode_tok_s": median([r[1] for r in runs])}
        for name, runs in results.items()
    }
    ratio = summary["engine"]["decode_tok_s"] / summary["raw"]["decode_tok_s"]
    print(
        f"model {record.name} ({record.facts.quantization}), {threads} threads, {args.tokens} tokens, {args.runs} runs"
    )
    print("| path | decode tok/s | TTFT ms |\n|---|---|---|")
    for name, label in (("engine", "Enclave runtime"), ("raw", "llama-cpp-python loop")):
        print(f"| {label} | {summary[name]['decode_tok_s']:.1f} | {summary[name]['ttft_s'] * 1000:.0f} |")
    print(f"ratio engine/raw decode: {ratio:.3f}")
    out = Path(__file__).parent / "results" / "engine.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"machine": machine(), "summary": summary, "ratios": {"engine_vs_raw_decode": ratio}}, indent=2)
    )


if __name__ == "__main__":
    main()
