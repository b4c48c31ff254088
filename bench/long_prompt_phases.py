"""Where a long prompt's time to first token goes in Enclave's runtime, in process (no HTTP).

One `BatchedModel` (the demo model, or any GGUF) evaluates a new prompt of `--tokens` tokens (prose that
starts with words of its own, as the serving bench's long phase sends) until its first text, greedy and
sampled (temperature 0.8, top_p 0.95) in alternating order; with `--idle`, two other such conversations are
answered first and left idle in the cache. Each phase is timed: tokenising, `admit` (slot choice, sampler
chain, prompt-lookup index), `_clear_for_prompt` (idle caches moved to RAM), every `llama_decode` call, the
first token's sampling, and the rest (the time to first text not inside any of them). What is not inside
`llama_decode` is Enclave's own share; `bench/bench_context.py` compares what is inside it with
llama-server's context settings.

Run: python bench/long_prompt_phases.py [--tokens 3900] [--rounds 2] [--threads 2] [--idle] [--batch-size 512]
[--model PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import serving_long  # noqa: E402
from bench.common import machine, median, temporary_demo_home  # noqa: E402

GREEDY = {"temperature": 0.0}
SAMPLED = {"temperature": 0.8, "top_p": 0.95}
KEYS = ("ttft_s", "tokenize_s", "admit_s", "clear_s", "decode_s", "first_sample_s", "rest_s")


def timed(fn: Callable[..., Any], into: dict[str, float], key: str) -> Callable[..., Any]:
    """`fn`, adding the wall time of each call to `into[key]`."""

    def wrapper(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            into[key] = into.get(key, 0.0) + time.perf_counter() - started

    return wrapper


def first_text(model: Any, text: str, sampling: dict[str, float], max_tokens: int) -> dict[str, Any]:
    """Serve `text` until its first text chunk (then to its end): the phases' times, and the decode calls."""
    from llama_cpp import llama_cpp as C

    from engine.runtime import CancelToken, Chunk, GenerationParams

    phases: dict[str, float] = {}
    calls: list[tuple[int, float]] = []
    original = C.llama_decode

    def decode(ctx: Any, batch: Any) -> int:
        started = time.perf_counter()
        try:
            return int(original(ctx, batch))
        finally:
            calls.append((int(batch.n_tokens), time.perf_counter() - started))

    first: list[float] = []
    done: list[bool] = []

    def emit(item: Any) -> None:
        if isinstance(item, Chunk) and item.text and not first:
            first.append(time.perf_counter())
        if item is None or isinstance(item, BaseException) or (isinstance(item, Chunk) and item.finish_reason):
            done.append(True)

    sample = model._sample

    def first_sample(request: Any) -> None:  # only the first token's sampling is timed
        if "first_sample_s" in phases:
            return sample(request)
        return timed(sample, phases, "first_sample_s")(request)

    model._clear_for_prompt = timed(model._clear_for_prompt, phases, "clear_s")
    model._sample = first_sample
    C.llama_decode = decode
    try:
        started = time.perf_counter()
        prompt = model.tokenize(text)
        phases["tokenize_s"] = time.perf_counter() - started
        params = GenerationParams(max_tokens=max_tokens, **sampling)
        timed(model.admit, phases, "admit_s")(prompt, params, CancelToken(), emit, 0.0)
        while not first:
            model.step()
        ttft = first[0] - started
        decoded = sum(seconds for _, seconds in calls)
        phases = dict(phases)  # (as they were at the first text; the steps after it add to the old dict)
        while not done:
            model.step()
    finally:
        C.llama_decode = original
        del model._clear_for_prompt, model._sample
    phases.setdefault("clear_s", 0.0)
    phases.setdefault("first_sample_s", 0.0)
    rest = ttft - decoded - sum(phases[k] for k in ("tokenize_s", "admit_s", "clear_s", "first_sample_s"))
    return {
        "ttft_s": ttft,
        **phases,
        "decode_s": decoded,
        "rest_s": rest,
        "prompt_tokens": len(prompt),
        "decode_calls": [(n, round(seconds, 3)) for n, seconds in calls],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=3900, help="the prompt's length")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each greedy and sampled")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=512, help="the model's micro-batch (n_ubatch)")
    parser.add_argument("--idle", action="store_true", help="two other long conversations idle in the cache")
    parser.add_argument("--model", type=Path, help="a GGUF instead of the bundled demo model")
    args = parser.parse_args()
    with ExitStack() as stack:
        stack.enter_context(temporary_demo_home())
        from engine.models import ModelRegistry
        from engine.runtime import llama_log
        from engine.runtime.batch import BatchedModel

        llama_log.install()
        registry = ModelRegistry()
        record = registry.import_file(args.model, "bench") if args.model else registry.resolve(None)
        settings = replace(record.settings, threads=args.threads, context_size=4096, batch_size=args.batch_size)
        model = BatchedModel(replace(record, settings=settings))
        stack.callback(model.close)

        def count(text: str) -> int:
            return len(model.tokenize(text))

        runs: dict[str, list[dict[str, Any]]] = {"greedy": [], "sampled": []}
        for round_ in range(args.rounds):
            kinds = [("greedy", GREEDY), ("sampled", SAMPLED)]
            for kind, sampling in kinds if round_ % 2 == 0 else kinds[::-1]:
                tag = f"{round_}-{kind}"
                if args.idle:
                    for i in range(2):
                        first_text(model, serving_long.long_text(args.tokens, f"{tag}-idle{i}", count), GREEDY, 4)
                text = serving_long.long_text(args.tokens, tag, count)
                runs[kind].append(first_text(model, text, sampling, 8))
                print(f"round {round_ + 1}: {kind}: {runs[kind][-1]}", file=sys.stderr, flush=True)
    results = {kind: {key: median([r[key] for r in rows]) for key in KEYS} for kind, rows in runs.items()}
    print(
        json.dumps(
            {
                "machine": machine(),
                "tokens": args.tokens,
                "threads": args.threads,
                "batch_size": args.batch_size,
                "idle": args.idle,
                "rounds": args.rounds,
                "results": results,
                "per_round": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
