"""Host overhead per generated token and stream: the wall time spent outside llama.cpp's decode.

Every `llama_decode` call is timed (bench/decode_timer.py). With N streams decoding together, the window
from the moment all of them have their first token to the moment the first one ends holds only decoding
steps; its wall time minus the time inside llama_decode, divided by the tokens produced in it, is what
the host (sampling hand-off, detokenising, stop strings, chunk hand-over, SSE formatting and writes)
costs per token per stream. On a GPU the decode shrinks and this figure does not: it says, on a machine
without one, how much of a GPU's speed the serving path would keep.

Two paths: `runtime` (in process: Runtime.complete, chunks taken by a listener as the API does) and
`http` (an `enclave serve` subprocess with the timer installed, N streaming /v1/completions clients).
Models: the bundled demo model and the suite's tiny test model (or --model PATH).

The http path also reads the server's CPU time (/proc/PID/task/TID/schedstat, nanoseconds) around the
streams: of its event loop's thread (SSE formatting, writes, chunk delivery) and of the whole process
(decoding included), per token received by the clients. `--server-roots A B` runs the server from other
checkouts too, round after round interleaved, to compare code versions on one machine.

Run: python bench/bench_overhead.py [--streams 1 4] [--tokens 128] [--paths runtime http] [--sampling]
     [--server-roots . /tmp/base]
     [--full-vocabulary] (in process only: sampler chains without the preselection, for a before/after)
     [--numpy-scan] (in process only: the preselection's passes in numpy rather than C, engine/runtime/scan.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import decode_timer  # noqa: E402
from bench.common import exit_on_sigterm, machine, median, temporary_demo_home  # noqa: E402

PROMPT = "The harbour town woke slowly. Fishermen checked their nets, and the lighthouse keeper said"


def window_figure(
    firsts: list[float], ends: list[float], stamps: list[float], intervals: list[tuple[float, float]]
) -> dict[str, float]:
    """Overhead per token per stream over the window in which every stream was decoding."""
    start, end = max(firsts), min(ends)
    tokens = sum(1 for t in stamps if start < t <= end)
    if end <= start or tokens == 0:
        return {"tokens": 0, "overhead_ms_per_token": float("nan"), "decode_ms_per_step": float("nan")}
    inside = decode_timer.decode_time_within(intervals, start, end)
    steps = sum(1 for a, b in intervals if a >= start and b <= end)
    return {
        "tokens": tokens,
        "wall_s": end - start,
        "decode_s": inside,
        "overhead_ms_per_token": (end - start - inside) / tokens * 1000,
        "decode_ms_per_step": inside / max(1, steps) * 1000,
    }


def runtime_path(model: str, streams: int, tokens: int, sampling: bool) -> dict[str, float]:
    """N concurrent Runtime.complete streams, chunks taken on the model's thread by a listener."""
    from engine.runtime import GenerationParams, Runtime

    runtime = Runtime()
    try:
        runtime.load(model)
        params = GenerationParams(
            max_tokens=tokens,
            temperature=0.8 if sampling else 0.0,
            top_p=0.95,
            ignore_eos=True,
            seed=None,
        )
        # Warm-up: the first decode after loading maps the weights in.
        runtime.complete(PROMPT, GenerationParams(max_tokens=4, temperature=0.0), model=model).text()
        decode_timer.INTERVALS.clear()
        stamps: list[float] = []
        firsts: list[float] = []
        ends: list[float] = []
        done = threading.Semaphore(0)
        lock = threading.Lock()

        def listener(generation: Any) -> Any:
            first = [True]

            def on_item(item: Any) -> None:
                now = time.perf_counter()
                if item is None:
                    done.release()
                    return
                if isinstance(item, BaseException):
                    raise item
                with lock:
                    if item.finish_reason is not None:
                        ends.append(now)
                    elif item.text:
                        stamps.append(now)
                        if first[0]:
                            first[0] = False
                            firsts.append(now)
                            generation.handled()

            return on_item

        for i in range(streams):
            generation = runtime.complete(f"{PROMPT} (story {i})", params, model=model)
            generation.listen(listener(generation))
        for _ in range(streams):
            done.acquire()
        return window_figure(firsts, ends, stamps, list(decode_timer.INTERVALS))
    finally:
        runtime.close()


def thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of process `pid` so far (the scheduler's nanosecond count)."""
    times: dict[int, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            times[int(tid)] = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):  # a thread that ended meanwhile
            continue
    return times


@contextmanager
def timed_server(
    model_path: Path, threads: int, root: Path = ROOT
) -> Iterator[tuple[str, str, subprocess.Popen[bytes], Path]]:
    """An `enclave serve` subprocess (code from `root`) with llama_decode timed; yields (base url, key,
    process, intervals file)."""
    from bench.common import free_port, wait_ready

    with tempfile.TemporaryDirectory(prefix="enclave-overhead-") as tmp:
        home = Path(tmp) / "home"
        env = {
            **os.environ,
            "ENCLAVE_HOME": str(home),
            "ENCLAVE_PASSPHRASE": "bench-passphrase-not-secret",
            "ENCLAVE_NO_DEMO": "1",
            "PYTHONPATH": str(root),
        }
        enclave = [sys.executable, "-m", "engine.cli"]
        for args in (
            ["init"],
            ["models", "import", str(model_path), "--name", "bench"],
            ["models", "set", "bench", "--threads", str(threads), "--context", "2048"],
        ):
            subprocess.run([*enclave, *args], env=env, check=True, capture_output=True)
        created = subprocess.run(
            [*enclave, "keys", "create", "--name", "bench"], env=env, check=True, capture_output=True, text=True
        )
        key = next(word for word in created.stdout.split() if word.startswith("enc-"))
        port = free_port()
        dump = Path(tmp) / "decode.json"
        # The timer as a script: its engine is the one on PYTHONPATH (`root`), whatever that checkout's bench.
        timer = str(ROOT / "bench" / "decode_timer.py")
        process = subprocess.Popen(
            [sys.executable, timer, str(dump), "serve", "--port", str(port), "--model", "bench"],
            env=env,
            cwd=root,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/health", process)
            yield f"http://127.0.0.1:{port}/v1", key, process, dump
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def http_streams(
    base: str, key: str, pid: int, streams: int, tokens: int, sampling: bool
) -> tuple[list[float], list[float], list[float], dict[int, float]]:
    """The streams' first-token, end and token times, and each server thread's CPU seconds spent meanwhile."""
    import httpx

    firsts: list[float] = []
    ends: list[float] = []
    stamps: list[float] = []

    async def one(client: httpx.AsyncClient, i: int) -> None:
        body = {
            "model": "bench",
            "prompt": f"{PROMPT} (story {i})",
            "max_tokens": tokens,
            "temperature": 0.8 if sampling else 0.0,
            "top_p": 0.95,
            "stream": True,
        }
        first = True
        headers = {"Authorization": f"Bearer {key}"}
        async with client.stream("POST", f"{base}/completions", json=body, headers=headers) as response:
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {await response.aread()!r}")
            async for line in response.aiter_lines():
                now = time.perf_counter()
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                choice = (event.get("choices") or [{}])[0]
                if choice.get("finish_reason"):
                    ends.append(now)
                elif choice.get("text"):
                    stamps.append(now)
                    if first:
                        first = False
                        firsts.append(now)

    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=streams + 2)) as client:
        await one(client, -1)  # warm-up
        firsts.clear(), ends.clear(), stamps.clear()
        before = thread_cpu_s(pid)
        await asyncio.gather(*(one(client, i) for i in range(streams)))
        after = thread_cpu_s(pid)
    spent = {tid: cpu - before.get(tid, 0.0) for tid, cpu in after.items()}
    return firsts, ends, stamps, spent


def http_path(
    model_path: Path, threads: int, streams: int, tokens: int, sampling: bool, root: Path = ROOT
) -> dict[str, float]:
    """N concurrent streaming /v1/completions on an `enclave serve` with llama_decode timed."""
    with timed_server(model_path, threads, root) as (base, key, process, dump):
        firsts, ends, stamps, spent = asyncio.run(http_streams(base, key, process.pid, streams, tokens, sampling))
        process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not dump.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        intervals = [tuple(pair) for pair in json.loads(dump.read_text())]
        names = json.loads(dump.with_suffix(".threads.json").read_text())
    # A reply that ends early (the model's end of text) ends the window: the API has no ignore_eos.
    figure = window_figure(firsts, ends, stamps, intervals)  # type: ignore[arg-type]
    received = max(1, len(stamps))
    figure["loop_cpu_ms_per_token"] = spent.get(names.get("api-server", -1), float("nan")) / received * 1000
    figure["process_cpu_ms_per_token"] = sum(spent.values()) / received * 1000
    return figure


FIELDS = ("overhead_ms_per_token", "decode_ms_per_step", "tokens", "loop_cpu_ms_per_token", "process_cpu_ms_per_token")


def main() -> None:
    """Measure every model, stream count and path; print the medians as a table, save them as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the median is printed")
    parser.add_argument("--paths", nargs="+", default=["runtime", "http"], choices=["runtime", "http"])
    parser.add_argument("--models", nargs="+", default=["demo", "tiny"], help="demo, tiny, or GGUF paths")
    parser.add_argument("--sampling", action="store_true", help="also with temperature 0.8, top_p 0.95")
    parser.add_argument(
        "--server-roots", nargs="+", type=Path, default=[ROOT], help="checkouts the http path's server runs from"
    )
    parser.add_argument(
        "--full-vocabulary",
        action="store_true",
        help="in process: sampler chains run on the whole vocabulary, without the exact preselection "
        "(engine/runtime/candidates.py), for a before/after comparison",
    )
    parser.add_argument(
        "--numpy-scan",
        action="store_true",
        help="in process: the preselection's passes over the logits in numpy, not C (engine/runtime/scan.py)",
    )
    args = parser.parse_args()
    exit_on_sigterm()  # a timeout's SIGTERM still stops the servers and removes the temporary folders
    roots = [root.resolve() for root in args.server_roots]
    if args.full_vocabulary:
        from engine.runtime import candidates

        candidates.ENABLED = False
    if args.numpy_scan:
        from engine.runtime import scan

        scan.NATIVE = False
    threads = os.cpu_count() or 1
    decode_timer.install()
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        home = stack.enter_context(temporary_demo_home())
        from engine.models import ModelRegistry

        registry = ModelRegistry()
        paths: dict[str, Path] = {}
        for name in args.models:
            if name == "demo":
                paths["demo"] = registry.resolve(None).path
            elif name == "tiny":
                from tests.tiny_gguf import write_tiny_gguf

                paths["tiny"] = write_tiny_gguf(home / "tiny-test.gguf")
            else:
                paths[Path(name).stem] = Path(name).resolve()
        for name, path in paths.items():
            if name != "demo":
                registry.import_file(path, name)
            registry.update_settings(name if name != "demo" else registry.resolve(None).name, threads=threads)
        for name in paths:
            model = registry.resolve(None).name if name == "demo" else name
            for streams in args.streams:
                for sampling in (False, True) if args.sampling else (False,):
                    for path_kind in args.paths:
                        # The http path round-robins over the server checkouts: each round runs every one.
                        kinds = [None] if path_kind == "runtime" else roots
                        runs: dict[Path | None, list[dict[str, float]]] = {root: [] for root in kinds}
                        for _ in range(args.runs):
                            for root in kinds:
                                if root is None:
                                    runs[root].append(runtime_path(model, streams, args.tokens, sampling))
                                else:
                                    figure = http_path(paths[name], threads, streams, args.tokens, sampling, root)
                                    runs[root].append(figure)
                        for root, measured in runs.items():
                            row: dict[str, Any] = {
                                "model": name,
                                "path": path_kind,
                                "server": "" if root is None or len(roots) == 1 else str(root),
                                "streams": streams,
                                "sampling": sampling,
                            }
                            for field in FIELDS:
                                row[field] = median([r.get(field, float("nan")) for r in measured])
                            row["runs"] = measured
                            results.append(row)
                            shown = {k: v for k, v in row.items() if k != "runs"}
                            print(json.dumps(shown), file=sys.stderr, flush=True)
    print(f"\n{machine()['cpu']}, {threads} threads, median of {args.runs} runs\n")
    print(
        "| model | path | streams | sampling | host ms / token / stream | decode ms / step "
        "| event loop CPU ms / token | server CPU ms / token |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        path = f"{r['path']} ({r['server']})" if r["server"] else r["path"]
        print(
            f"| {r['model']} | {path} | {r['streams']} | {'yes' if r['sampling'] else 'no'} | "
            f"{r['overhead_ms_per_token']:.3f} | {r['decode_ms_per_step']:.1f} | "
            f"{r['loop_cpu_ms_per_token']:.3f} | {r['process_cpu_ms_per_token']:.3f} |"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "overhead.json").write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
