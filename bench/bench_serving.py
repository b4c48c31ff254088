"""Serving benchmark (issue 8): Enclave's endpoint vs llama-cpp-python's server vs llama.cpp's llama-server.

Side by side in one run: the same GGUF (the bundled demo model), the same thread count, on loopback,
all servers up at once and measured in interleaved rounds. Measures single-stream decode tokens/s and
time to first token, aggregate tokens/s with 1, 4 and 8 concurrent streaming clients, and time to first
token at turn 1 and turn 10 of four interleaved conversations (new ones every round). Prints a Markdown
table; writes bench/results/serving.json and serving.png.

Run: python bench/bench_serving.py [--quick] [--rounds N] [--model PATH]

With --model, any GGUF stands in for the demo model and the results go to serving-<file name>.json/.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port, machine, median, wait_ready  # noqa: E402

PARALLEL = 4
# Before every measured request (or burst of concurrent ones) the servers get this long with nothing to
# do: a person or a tool takes at least that long between turns, and work a server does after a reply
# (Enclave evaluates what a conversation is expected to send next) then stays out of the next server's
# measurement. All three servers run on the same cores.
SETTLE_S = 0.1
CONTEXT_PER_SEQUENCE = 4096
PASSPHRASE = "bench-passphrase-not-secret"
# The conversations' questions: different words each turn (a server that learns a transcript's framing
# must learn "\nUser:", not a repeated question), 14 tokens each with that framing on the demo model.
QUESTIONS = (
    "What did the fishermen catch that day?",
    "Who opened the bakery first that morning?",
    "Where did the keeper sleep after watching?",
    "How cold was the harbour water then?",
    "Which boat left the harbour before dawn?",
    "Did anyone see the storm coming in?",
    "Was the lighthouse still burning at sunrise?",
    "Can you describe the market there today?",
    "Why were the nets torn this time?",
    "Tell me about the keeper and dog.",
)
STORY = (
    "The harbour town woke slowly. Fishermen checked their nets, the baker opened his shutters, and "
    "the lighthouse keeper climbed down the long spiral stairs after another night of watching the sea."
)


@dataclass
class Server:
    """A running server under test."""

    name: str
    base_url: str
    api_key: str
    model: str
    process: subprocess.Popen[bytes]
    extra_body: dict[str, Any] = field(default_factory=dict)


@contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            server.process.kill()


def start_enclave(model_path: Path, threads: int) -> Server:
    home = Path(tempfile.mkdtemp(prefix="enclave-serve-bench-"))
    env = {**os.environ, "ENCLAVE_HOME": str(home), "ENCLAVE_PASSPHRASE": PASSPHRASE, "ENCLAVE_NO_DEMO": "1"}
    enclave = [sys.executable, "-m", "engine.cli"]
    subprocess.run([*enclave, "init"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*enclave, "models", "import", str(model_path), "--name", "demo"], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [*enclave, "models", "set", "demo", "--threads", str(threads), "--context", str(CONTEXT_PER_SEQUENCE)],
        env=env,
        check=True,
        capture_output=True,
    )
    created = subprocess.run(
        [*enclave, "keys", "create", "--name", "bench"], env=env, check=True, capture_output=True, text=True
    )
    key = next(word for word in created.stdout.split() if word.startswith("enc-"))
    port = free_port()
    process = subprocess.Popen(
        [*enclave, "serve", "--port", str(port), "--model", "demo"], env=env, stderr=subprocess.DEVNULL
    )
    wait_ready(f"http://127.0.0.1:{port}/health", process)
    return Server("Enclave", f"http://127.0.0.1:{port}/v1", key, "demo", process)


def start_llama_cpp_python(model_path: Path, threads: int) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path),
            "--model_alias",
            "demo",
            "--n_ctx",
            str(CONTEXT_PER_SEQUENCE),
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/v1/models", process)
    return Server("llama-cpp-python server", f"http://127.0.0.1:{port}/v1", "none", "demo", process)


def start_llama_server(binary: Path, model_path: Path, threads: int) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [
            str(binary),
            "-m",
            str(model_path),
            "-c",
            str(CONTEXT_PER_SEQUENCE * PARALLEL),
            "-np",
            str(PARALLEL),
            "-t",
            str(threads),
            "-tb",
            str(threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-a",
            "demo",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/health", process)
    return Server("llama.cpp llama-server", f"http://127.0.0.1:{port}/v1", "none", "demo", process)


async def stream_completion(client: httpx.AsyncClient, server: Server, prompt: str, max_tokens: int) -> dict[str, Any]:
    """One streaming /v1/completions request: time to first token, token count, decode time, the
    prompt tokens the server reported as cached (-1 if it does not say) and the reply's text.

    Each request on its own connection: llama-server closes kept-alive connections after a stream.
    Tokens are counted as the chunks that carry text, the same way for every server.
    """
    body = {
        "model": server.model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},  # servers that know it report cached prompt tokens
        **server.extra_body,
    }
    started = time.perf_counter()
    first = last = None
    pieces = 0
    text: list[str] = []
    cached = -1.0
    async with client.stream(
        "POST",
        f"{server.base_url}/completions",
        json=body,
        headers={"Authorization": f"Bearer {server.api_key}", "Connection": "close"},
    ) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{server.name}: HTTP {response.status_code} {await response.aread()!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if event.get("choices") and event["choices"][0].get("text"):
                text.append(event["choices"][0]["text"])
                now = time.perf_counter()
                first = first or now
                last = now
                pieces += 1
            details = (event.get("usage") or {}).get("prompt_tokens_details") or {}
            if details.get("cached_tokens") is not None:
                cached = float(details["cached_tokens"])
    if first is None or last is None:
        raise RuntimeError(f"{server.name}: empty stream")
    return {
        "ttft": first - started,
        "pieces": pieces,
        "decode_s": last - first,
        "total_s": last - started,
        "cached_tokens": cached,
        "text": "".join(text),
    }


async def single_stream(server: Server, tokens: int, runs: int) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=300) as client:
        results = []
        for i in range(runs):
            await asyncio.sleep(SETTLE_S)
            results.append(await stream_completion(client, server, STORY + f" Day {i}.", tokens))
    return {
        "ttft_s": median([r["ttft"] for r in results]),
        "decode_tok_s": median([(r["pieces"] - 1) / r["decode_s"] for r in results if r["decode_s"] > 0]),
    }


async def concurrent(server: Server, clients: int, tokens: int) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=clients + 2)) as client:
        await asyncio.sleep(SETTLE_S)
        started = time.perf_counter()
        results = await asyncio.gather(
            *(stream_completion(client, server, f"{STORY} Chapter {i}: ", tokens) for i in range(clients)),
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
    failed = [r for r in results if isinstance(r, BaseException)]
    ok = [r for r in results if not isinstance(r, BaseException)]
    cut = sum(1 for r in ok if r["pieces"] < tokens * 0.5)
    return {"aggregate_tok_s": sum(r["pieces"] for r in ok) / wall, "failed": len(failed), "cut_off": cut}


async def interleaved_conversations(servers: list[Server], turns: int, tokens: int, tag: int = 0) -> dict[str, Any]:
    """Four conversations taking turns on every server, request by request in rotating server order.

    Each server keeps its own four transcripts, its replies included (as chat clients send them back);
    the same request goes to each server in turn, `SETTLE_S` apart, so the TTFTs compared at a turn were
    measured seconds apart. `tag` makes the conversations new ones (nothing cached from an earlier pass).
    Returns, per server, the median TTFT at turn 1 and at the last turn, and the median number of
    prompt tokens it reported as cached then.
    """
    transcripts = {s.name: [f"Conversation {c} of pass {tag}. {STORY}\n" for c in range(4)] for s in servers}
    ttft: dict[tuple[str, int], list[float]] = {}
    cached: dict[str, list[float]] = {}
    async with httpx.AsyncClient(timeout=600) as client:
        for turn in range(1, turns + 1):
            for c in range(4):
                for server in rotated(servers, turn * 4 + c):
                    transcript = transcripts[server.name]
                    transcript[c] += f"\nUser: {QUESTIONS[(turn + 3 * c) % len(QUESTIONS)]}\nAssistant:"
                    await asyncio.sleep(SETTLE_S)
                    result = await stream_completion(client, server, transcript[c], tokens)
                    ttft.setdefault((server.name, turn), []).append(result["ttft"])
                    if turn == turns and result["cached_tokens"] >= 0:
                        cached.setdefault(server.name, []).append(result["cached_tokens"])
                    transcript[c] += result["text"]  # the reply goes back, as chat clients send it
    out: dict[str, dict[str, float]] = {}
    for server in servers:
        out[server.name] = {
            "turn1_ttft_s": median(ttft[(server.name, 1)]),
            f"turn{turns}_ttft_s": median(ttft[(server.name, turns)]),
        }
        if server.name in cached:
            out[server.name][f"turn{turns}_cached_prompt_tokens"] = median(cached[server.name])
    return out


OURS = "Enclave"
CLOSEST_PEER = "llama.cpp llama-server"


def rotated(servers: list[Server], shift: int) -> list[Server]:
    """The order to measure `servers` in, this time: no server always first (or last), and Enclave right
    next to llama-server, in alternating order. This machine's speed drifts within seconds: the pair whose
    ratios the targets are about is measured back to back, not with another server's phase in between.
    """
    pair = [s for s in servers if s.name in (OURS, CLOSEST_PEER)]
    if len(pair) < 2:
        k = shift % len(servers)
        return servers[k:] + servers[:k]
    others = [s for s in servers if s.name not in (OURS, CLOSEST_PEER)]
    if shift % 2:
        pair.reverse()
    return pair + others if shift // 2 % 2 == 0 else others + pair


PHASES = ("single", "concurrent1", "concurrent4", "concurrent8")
CONVERSATION_TURNS = 10
CONVERSATION_REPLY_TOKENS = 8


def measure_phase(server: Server, phase: str, tokens: int) -> dict[str, float]:
    if phase == "single":
        return asyncio.run(single_stream(server, tokens, 2))
    return asyncio.run(concurrent(server, int(phase.removeprefix("concurrent")), tokens))


def measure(servers: list[Server], rounds: int, quick: bool) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Every phase on every server, in `rounds` rounds with the servers in rotating order.

    This machine's speed drifts by tens of percent over seconds (shared host), so measuring one server
    after the other would compare different machines. Interleaving phase by phase and taking medians
    over rounds (and ratios as the median of per-round ratios) keeps the comparison side by side.
    """
    tokens = 32 if quick else 96
    for server in servers:  # warm-up: load the model, fill caches, first-request costs
        asyncio.run(single_stream(server, 8, 1))
    phases = (*PHASES, "conversations")
    per_round: dict[str, dict[str, list[dict[str, float]]]] = {s.name: {p: [] for p in phases} for s in servers}
    for round_ in range(rounds):
        for index, phase in enumerate(PHASES):
            for server in rotated(servers, round_ + index):
                print(f"round {round_ + 1}/{rounds}: {phase} on {server.name} …", file=sys.stderr, flush=True)
                per_round[server.name][phase].append(measure_phase(server, phase, tokens))
        print(f"round {round_ + 1}/{rounds}: conversations on every server …", file=sys.stderr, flush=True)
        passes = asyncio.run(
            interleaved_conversations(servers, CONVERSATION_TURNS, CONVERSATION_REPLY_TOKENS, tag=round_)
        )
        for name, conv in passes.items():
            per_round[name]["conversations"].append(conv)
    results: dict[str, dict[str, Any]] = {}
    for server in servers:
        runs = per_round[server.name]
        results[server.name] = {
            "single": {
                "ttft_s": median([r["ttft_s"] for r in runs["single"]]),
                "decode_tok_s": median([r["decode_tok_s"] for r in runs["single"]]),
            }
        }
        for phase in PHASES[1:]:
            results[server.name][phase] = {
                "aggregate_tok_s": median([r["aggregate_tok_s"] for r in runs[phase]]),
                "failed": int(sum(r["failed"] for r in runs[phase])),
                "cut_off": int(sum(r["cut_off"] for r in runs[phase])),
            }
        convs = runs["conversations"]
        results[server.name]["conversations"] = {key: median([c[key] for c in convs]) for key in convs[0]}
    return results, per_round


def paired_ratio(
    per_round: dict[str, Any], ours: str, theirs: str, phase: str, field_: str, their_field: str | None = None
) -> float:
    """Median over rounds of ours/theirs, each ratio from one round (measured minutes apart at most).

    `theirs` may be `ours` with another field: the ratio of two figures of one server within each round.
    """
    pairs = zip(per_round[ours][phase], per_round[theirs][phase], strict=True)
    return median([a[field_] / b[their_field or field_] for a, b in pairs if b[their_field or field_] > 0])


def plot(results: dict[str, dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = list(results)
    labels = [name.replace(" ", "\n", 1) for name in names]  # two lines: long names overlap otherwise
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for offset, clients in enumerate((1, 4, 8)):
        axes[0].bar(
            [i + offset * 0.25 for i in range(len(names))],
            [results[n][f"concurrent{clients}"]["aggregate_tok_s"] for n in names],
            0.25,
            label=f"{clients} clients",
        )
    axes[0].set_xticks([i + 0.25 for i in range(len(names))], labels, fontsize=8)
    axes[0].set_title("aggregate decode tokens/s")
    axes[0].legend(fontsize=7)
    axes[1].bar(range(len(names)), [results[n]["single"]["decode_tok_s"] for n in names])
    axes[1].set_xticks(range(len(names)), labels, fontsize=8)
    axes[1].set_title("single-stream tokens/s")
    for i, n in enumerate(names):
        conv = results[n]["conversations"]
        axes[2].bar(
            [i - 0.2, i + 0.2],
            [conv["turn1_ttft_s"] * 1000, conv["turn10_ttft_s"] * 1000],
            0.4,
            color=["#7aa6c2", "#2c5d7c"],
        )
    axes[2].set_xticks(range(len(names)), labels, fontsize=8)
    axes[2].set_title("TTFT ms: turn 1 (light) vs turn 10 (dark)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def start_servers(stack: ExitStack, model_path: Path, threads: int, skip: list[str]) -> list[Server]:
    """Enclave, llama-cpp-python's server and llama-server (built first, if need be) on `model_path`, each
    stopped when `stack` closes; `skip` names servers to leave out."""
    starters = {
        "enclave": lambda: start_enclave(model_path, threads),
        "llama-cpp-python": lambda: start_llama_cpp_python(model_path, threads),
    }
    if "llama-server" not in skip:
        built = subprocess.run(
            ["bash", str(ROOT / "bench" / "build_llama_server.sh")], cwd=ROOT, capture_output=True, text=True
        )
        if built.returncode == 0:
            binary = Path(built.stdout.strip().splitlines()[-1])
            starters["llama-server"] = lambda: start_llama_server(binary, model_path, threads)
        else:
            print("llama-server could not be built:", built.stderr[-500:], file=sys.stderr)
    return [stack.enter_context(running(start())) for key, start in starters.items() if key not in skip]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer tokens, one round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are taken over them)")
    parser.add_argument(
        "--skip", action="append", default=[], help="server to skip: enclave, llama-cpp-python, llama-server"
    )
    parser.add_argument("--model", type=Path, help="a GGUF to serve instead of the bundled demo model")
    args = parser.parse_args()
    threads = os.cpu_count() or 1

    from bench.common import demo_home
    from engine.models import ModelRegistry

    demo_home()
    model_path = args.model.resolve() if args.model else ModelRegistry().resolve(None).path
    if not model_path.is_file():
        raise SystemExit(f"no such model file: {model_path}")
    stem = "serving" if args.model is None else f"serving-{model_path.stem}"
    rounds = 1 if args.quick else args.rounds
    with ExitStack() as stack:
        servers = start_servers(stack, model_path, threads, args.skip)
        results, per_round = measure(servers, rounds, args.quick)

    print(f"\nModel: {model_path.name}, {threads} threads, parallel {PARALLEL}, median of {rounds} interleaved rounds;")
    print(f"{machine()['cpu']}\n")
    print(
        "| server | single tok/s | TTFT ms | 1 client tok/s | 4 clients tok/s | 8 clients tok/s | "
        "turn-1 TTFT ms | turn-10 TTFT ms | failed/cut at 8 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['single']['decode_tok_s']:.1f} | {r['single']['ttft_s'] * 1000:.0f} | "
            f"{r['concurrent1']['aggregate_tok_s']:.1f} | {r['concurrent4']['aggregate_tok_s']:.1f} | "
            f"{r['concurrent8']['aggregate_tok_s']:.1f} | {r['conversations']['turn1_ttft_s'] * 1000:.0f} | "
            f"{r['conversations']['turn10_ttft_s'] * 1000:.0f} | "
            f"{r['concurrent8']['failed']}/{r['concurrent8']['cut_off']} |"
        )

    ours, server, lcp = OURS, CLOSEST_PEER, "llama-cpp-python server"
    ratios: dict[str, float] = {}
    if ours in results:
        ratios["turn10_vs_turn1_ttft"] = paired_ratio(
            per_round, ours, ours, "conversations", "turn10_ttft_s", "turn1_ttft_s"
        )
    if ours in results and server in results:
        ratios["single_stream_vs_llama_server"] = paired_ratio(per_round, ours, server, "single", "decode_tok_s")
        ratios["concurrent4_vs_llama_server"] = paired_ratio(per_round, ours, server, "concurrent4", "aggregate_tok_s")
        ratios["concurrent8_vs_llama_server"] = paired_ratio(per_round, ours, server, "concurrent8", "aggregate_tok_s")
        ratios["turn10_ttft_vs_llama_server"] = paired_ratio(per_round, ours, server, "conversations", "turn10_ttft_s")
    if ours in results and lcp in results:
        ratios["concurrent4_vs_llama_cpp_python"] = paired_ratio(per_round, ours, lcp, "concurrent4", "aggregate_tok_s")
        ratios["turn10_ttft_vs_llama_cpp_python"] = paired_ratio(per_round, ours, lcp, "conversations", "turn10_ttft_s")
    print("\nratios: " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    payload = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "threads": threads,
        "parallel": PARALLEL,
        "model": model_path.name,
        "method": (
            f"all servers up at once; {rounds} rounds, each running every phase on every server in rotating "
            "order (Enclave and llama-server back to back), then four new conversations of 10 turns "
            "interleaved over all servers request by request; figures are medians over rounds, ratios "
            "medians of per-round ratios"
        ),
        "results": results,
        "ratios": ratios,
        "per_round": per_round,
    }
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    if plot(results, out / f"{stem}.png"):
        print(f"plot: {out / f'{stem}.png'}")
    shutil.rmtree(os.environ["ENCLAVE_HOME"], ignore_errors=True)


if __name__ == "__main__":
    main()
