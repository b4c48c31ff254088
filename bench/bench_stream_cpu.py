"""CPU time of the API server per streamed token, for two or more code versions side by side.

One `enclave serve` per checkout (`--server-roots`), all started at once over the same model; then, round
after round, each server in turn serves N concurrent streaming /v1/completions requests while the others
idle. Per token the clients received: the CPU time of the server's event-loop thread (the "api-server"
thread: chunk delivery, SSE formatting, writes) and of the whole process (decoding included), from
/proc/PID/task/TID/schedstat. CPU time, interleaved rounds and one long-lived server per version make the
comparison hold on a machine that others load too; wall times there would not.

Run: python bench/bench_stream_cpu.py --server-roots . /path/to/other/checkout [--models tiny demo]
     [--streams 1 4] [--tokens 128] [--rounds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_overhead import http_streams, timed_server  # noqa: E402
from bench.common import exit_on_sigterm, median, temporary_demo_home  # noqa: E402


def loop_thread(process: Any, dump: Path) -> int:
    """The native id of the server's event-loop thread (the decode timer writes the thread names)."""
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not dump.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return int(json.loads(dump.with_suffix(".threads.json").read_text())["api-server"])


def main() -> None:
    """Print, per model and stream count, each version's median CPU ms per token and the per-round ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-roots", nargs="+", type=Path, required=True)
    parser.add_argument("--models", nargs="+", default=["tiny"], help="demo, tiny, or GGUF paths")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--sampling", action="store_true")
    args = parser.parse_args()
    exit_on_sigterm()  # a timeout's SIGTERM still stops the servers and removes the temporary folders
    threads = os.cpu_count() or 1
    roots = [root.resolve() for root in args.server_roots]
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        home = stack.enter_context(temporary_demo_home())
        for name in args.models:
            if name == "demo":
                from engine.models import ModelRegistry

                path = ModelRegistry().resolve(None).path
            elif name == "tiny":
                from tests.tiny_gguf import write_tiny_gguf

                path = write_tiny_gguf(home / "tiny-test.gguf")
            else:
                path = Path(name).resolve()
            with ExitStack() as servers:
                running = [servers.enter_context(timed_server(path, threads, root)) for root in roots]
                loops = [loop_thread(process, dump) for _, _, process, dump in running]
                for streams in args.streams:
                    spent: dict[Path, list[tuple[float, float]]] = {root: [] for root in roots}
                    for _ in range(args.rounds):
                        for root, (base, key, process, _), tid in zip(roots, running, loops, strict=True):
                            _, _, stamps, cpu = asyncio.run(
                                http_streams(base, key, process.pid, streams, args.tokens, args.sampling)
                            )
                            received = max(1, len(stamps))
                            spent[root].append(
                                (cpu.get(tid, float("nan")) / received * 1000, sum(cpu.values()) / received * 1000)
                            )
                    row = {"model": name, "streams": streams, "rounds": args.rounds, "versions": {}}
                    for root in roots:
                        row["versions"][str(root)] = {
                            "loop_cpu_ms_per_token": median([loop for loop, _ in spent[root]]),
                            "server_cpu_ms_per_token": median([whole for _, whole in spent[root]]),
                            "loop_per_round": [round(loop, 4) for loop, _ in spent[root]],
                        }
                    if len(roots) > 1:
                        first, other = spent[roots[0]], spent[roots[1]]
                        ratios = [a[0] / b[0] for a, b in zip(first, other, strict=True)]
                        row["loop_ratio_first_to_second"] = median(ratios)
                        row["loop_ratio_per_round"] = [round(r, 3) for r in ratios]
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print("\n| model | streams | version | event loop CPU ms / token | server CPU ms / token |")
    print("|---|---|---|---|---|")
    for row in rows:
        for version, figures in row["versions"].items():
            print(
                f"| {row['model']} | {row['streams']} | {version} | {figures['loop_cpu_ms_per_token']:.3f} | "
                f"{figures['server_cpu_ms_per_token']:.3f} |"
            )
        if "loop_ratio_first_to_second" in row:
            print(f"| | | first ÷ second, median of per-round ratios | {row['loop_ratio_first_to_second']:.2f} | |")


if __name__ == "__main__":
    main()
