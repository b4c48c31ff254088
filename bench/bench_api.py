"""HTTP overhead of Enclave's endpoint: the engine called directly vs `enclave serve` vs llama-cpp-python's server.

Same model (the bundled demo GGUF), same thread count, same context, one run: time to first token and
decode tokens/s of a streamed /v1/completions (greedy), printed side by side with ratios to the engine.

Run: python bench/bench_api.py [--tokens 48] [--runs 2] [--skip llama-cpp-python]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import demo_home, free_port, machine, median, wait_ready  # noqa: E402
from engine.runtime import GenerationParams, Runtime  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived"
PASSPHRASE = "bench-passphrase-not-secret"
CONTEXT = 2048
Sample = tuple[float, float]  # (time to first token s, decode tokens/s)



def engine_direct(runtime: Runtime, model: str, prompt: str, tokens: int) -> Sample:
    """One greedy completion through Runtime.complete (worker thread + chunk queue, no HTTP)."""
    started = time.perf_counter()
    first = last = None
    pieces = 0
    for chunk in runtime.complete(prompt, GenerationParams(max_tokens=tokens, temperature=0.0), model=model):
        if chunk.text:
            last = time.perf_counter()
            first = first or last
            pieces += 1
    assert first is not None and last is not None
    return first - started, (pieces - 1) / (last - first) if last > first else 0.0


def http_stream(base: str, key: str, model: str, prompt: str, tokens: int) -> Sample:
    """One greedy streamed /v1/completions; counts SSE chunks that carry text."""
    body = {"model": model, "prompt": prompt, "max_tokens": tokens, "temperature": 0.0, "stream": True}
    started = time.perf_counter()
    first = last = None
    pieces = 0
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("POST", f"{base}/completions", json=body, headers=headers, timeout=300) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if choices[0].get("text"):
                last = time.perf_counter()
                first = first or last
                pieces += 1
    assert first is not None and last is not None
    return first - started, (pieces - 1) / (last - first) if last > first else 0.0



def prompts(runs: int) -> list[str]:
    """The warm-up prompt then one distinct prompt per run (same for every path: equal prefix reuse)."""
    return [f"{PROMPT} (warm-up)"] + [f"{PROMPT} (day {i})" for i in range(runs)]


def served(
    command: list[str], ready_url: str, env: dict[str, str], measure: Callable[[str], Sample], runs: int
) -> list[Sample]:
    """Start a server, warm it up, take `runs` samples, stop it."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(ready_url, process)
        warm_up, *rest = prompts(runs)
        measure(warm_up)  # loads the model
        return [measure(prompt) for prompt in rest]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def summary(samples: list[Sample]) -> dict[str, float]:
    """Medians of the samples."""
    return {"ttft_s": median([s[0] for s in samples]), "decode_tok_s": median([s[1] for s in samples])}


def main() -> None:
    """Measure and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--skip", action="append", default=[], help="enclave-http or llama-cpp-python")
    args = parser.parse_args()

    home = demo_home()
    from engine.models import ModelRegistry
    from engine.models.demo import DEMO_NAME
    from engine.policy.keys import issue_key
    from engine.vault import FLOOR, Vault

    threads = os.cpu_count() or 1
    registry = ModelRegistry()
    record = registry.update_settings(DEMO_NAME, threads=threads, context_size=CONTEXT)
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    _, key = issue_key(vault, "bench")
    vault.close()
    env = {**os.environ, "ENCLAVE_HOME": str(home), "ENCLAVE_PASSPHRASE": PASSPHRASE}

    results: dict[str, dict[str, float]] = {}
    runtime = Runtime(registry)
    try:
        runtime.load(DEMO_NAME)
        warm_up, *rest = prompts(args.runs)
        engine_direct(runtime, DEMO_NAME, warm_up, args.tokens)
        results["engine (direct)"] = summary([engine_direct(runtime, DEMO_NAME, p, args.tokens) for p in rest])
    finally:
        runtime.close()
    if "enclave-http" not in args.skip:
        port = free_port()
        command = [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--model", DEMO_NAME]
        base = f"http://127.0.0.1:{port}/v1"
        samples = served(command, f"http://127.0.0.1:{port}/health", env,
                         lambda p: http_stream(base, key, DEMO_NAME, p, args.tokens), args.runs)
        results["Enclave HTTP"] = summary(samples)
    if "llama-cpp-python" not in args.skip:
        port = free_port()
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(record.path), "--model_alias", DEMO_NAME,
                   "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_ctx", str(CONTEXT),
                   "--host", "127.0.0.1", "--port", str(port)]
        base = f"http://127.0.0.1:{port}/v1"
        try:
            samples = served(command, f"{base}/models", env,
                             lambda p: http_stream(base, "none", DEMO_NAME, p, args.tokens), args.runs)
            results["llama-cpp-python server"] = summary(samples)
        except RuntimeError as exc:
            print(f"llama-cpp-python server skipped ({exc}); install the `bench` extra", file=sys.stderr)

    reference = results["engine (direct)"]
    print(f"\nModel {DEMO_NAME}, {threads} threads, context {CONTEXT}, {args.tokens} tokens, median of {args.runs}")
    print(f"Machine: {machine()['cpu']}\n")
    print("| path | TTFT (ms) | decode tok/s | TTFT vs engine | tok/s vs engine |")
    print("|---|---:|---:|---:|---:|")
    for name, values in results.items():
        ttft_ratio = values["ttft_s"] / reference["ttft_s"] if reference["ttft_s"] else 0.0
        speed_ratio = values["decode_tok_s"] / reference["decode_tok_s"] if reference["decode_tok_s"] else 0.0
        print(f"| {name} | {values['ttft_s'] * 1000:.1f} | {values['decode_tok_s']:.1f} | "
              f"{ttft_ratio:.2f}x | {speed_ratio:.2f}x |")
    if "Enclave HTTP" in results and "llama-cpp-python server" in results:
        ours, theirs = results["Enclave HTTP"], results["llama-cpp-python server"]
        decode, ttft = ours["decode_tok_s"] / theirs["decode_tok_s"], ours["ttft_s"] / theirs["ttft_s"]
        print(f"\nEnclave HTTP vs llama-cpp-python server: decode {decode:.2f}x, TTFT {ttft:.2f}x")
    out = ROOT / "bench" / "results" / "api.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "tokens": args.tokens, "threads": threads, "results": results},
                              indent=2))


if __name__ == "__main__":
    main()
