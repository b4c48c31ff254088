"""Serving benchmark (issue 8): Enclave's endpoint vs llama-cpp-python's server vs llama.cpp's llama-server.

Side by side in one run: the same GGUF (the bundled demo model), the same thread count, on loopback,
all servers up at once and measured in interleaved rounds. Measures single-stream decode tokens/s and
time to first token, aggregate tokens/s with 1, 4 and 8 concurrent streaming clients, and time to first
token at turn 1 and turn 10 of four interleaved conversations (new ones every round), and the long-context
phase (bench/serving_long.py: a lone ~4,000-token prompt, then one with two other long conversations idle in
the cache). Every phase runs greedy and sampled (temperature 0.8, top_p 0.95); sampled replies run their
full length (the end-of-generation tokens get a logit bias of -100, on llama-server and Enclave: a reply's
length is then no matter of chance, and none is empty). Ends with Enclave's host
overhead per token and stream (bench/bench_overhead.py). Prints Markdown tables; writes
bench/results/serving.json and serving.png. Every temporary folder (model copies included) is removed on
the way out, on an error or Ctrl-C too.

Run: python bench/bench_serving.py [--quick] [--rounds N] [--model PATH] [--long-tokens N] [--no-long]

With --model, any GGUF stands in for the demo model and the results go to serving-<file name>.json/.png.
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
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import serving_long  # noqa: E402
from bench.common import exit_on_sigterm, free_port, machine, median, temporary_demo_home, wait_ready  # noqa: E402
from bench.serving_report import CLOSEST_PEER, OURS, SAMPLED, compute_ratios, plot, print_tables  # noqa: E402

PARALLEL = 4
# Before every measured request (or burst of concurrent ones) the servers get this long with nothing to
# do: a person or a tool takes at least that long between turns, and work a server does after a reply
# (Enclave evaluates what a conversation is expected to send next) then stays out of the next server's
# measurement. All three servers run on the same cores.
SETTLE_S = 0.1
CONTEXT_PER_SEQUENCE = 4096
SAMPLING = {"temperature": 0.8, "top_p": 0.95}  # the sampled variant of every phase
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
    # Whether the bench bans end-of-generation tokens here by logit bias (see stream_completion): not in
    # llama-cpp-python's server, whose logit bias is a Python processor copying the whole row every token
    # (it would be slowed by the bench, not by its own doing); its sampled replies may end early, as before.
    takes_bans: bool = True


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


def start_enclave(model_path: Path, threads: int, home: Path, speculation: str = "lookup") -> Server:
    env = {**os.environ, "ENCLAVE_HOME": str(home), "ENCLAVE_PASSPHRASE": PASSPHRASE, "ENCLAVE_NO_DEMO": "1"}
    enclave = [sys.executable, "-m", "engine.cli"]
    subprocess.run([*enclave, "init"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*enclave, "models", "import", str(model_path), "--name", "demo"], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [*enclave, "models", "set", "demo", "--threads", str(threads), "--context", str(CONTEXT_PER_SEQUENCE)]
        + ["--speculation", speculation],
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
    url = f"http://127.0.0.1:{port}/v1"
    return Server("llama-cpp-python server", url, "none", "demo", process, takes_bans=False)


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


async def stream_completion(
    client: httpx.AsyncClient,
    server: Server,
    prompt: str,
    max_tokens: int,
    sampled: bool = False,
    ban: Sequence[int] = (),
) -> dict[str, Any]:
    """One streaming /v1/completions request: time to first token, token count, decode time, the
    prompt's tokens and those the server reported as cached (-1 if it does not say) and the reply's text.
    `ban`: tokens every server is asked not to produce (a logit bias of -100: the end-of-generation tokens,
    so that a sampled reply runs its whole length).

    Each request on its own connection: llama-server closes kept-alive connections after a stream.
    Tokens are counted as the chunks that carry text, the same way for every server.
    """
    body = {
        "model": server.model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        **(SAMPLING if sampled else {"temperature": 0.0}),
        "stream": True,
        "stream_options": {"include_usage": True},  # servers that know it report cached prompt tokens
        **({"logit_bias": {str(token): -100.0 for token in ban}} if ban and server.takes_bans else {}),
        **server.extra_body,
    }
    started = time.perf_counter()
    first = last = None
    pieces = 0
    text: list[str] = []
    cached = prompt_tokens = -1.0
    finish = None
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
            if event.get("choices") and event["choices"][0].get("finish_reason"):
                finish = event["choices"][0]["finish_reason"]
            if event.get("choices") and event["choices"][0].get("text"):
                text.append(event["choices"][0]["text"])
                now = time.perf_counter()
                first = first or now
                last = now
                pieces += 1
            usage = event.get("usage") or {}
            details = usage.get("prompt_tokens_details") or {}
            if details.get("cached_tokens") is not None:
                cached = float(details["cached_tokens"])
            if usage.get("prompt_tokens") is not None:
                prompt_tokens = float(usage["prompt_tokens"])
    if first is None or last is None:
        raise RuntimeError(f"{server.name}: empty stream (finish reason {finish})")
    return {
        "ttft": first - started,
        "pieces": pieces,
        "decode_s": last - first,
        "total_s": last - started,
        "cached_tokens": cached,
        "prompt_tokens": prompt_tokens,
        "text": "".join(text),
        "finish_reason": finish,
    }


async def single_stream(
    server: Server, tokens: int, runs: int, sampled: bool = False, ban: Sequence[int] = ()
) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=300) as client:
        results = []
        for i in range(runs):
            await asyncio.sleep(SETTLE_S)
            results.append(await stream_completion(client, server, STORY + f" Day {i}.", tokens, sampled, ban))
    return {
        "ttft_s": median([r["ttft"] for r in results]),
        "decode_tok_s": median([(r["pieces"] - 1) / r["decode_s"] for r in results if r["decode_s"] > 0]),
    }


async def concurrent(
    server: Server, clients: int, tokens: int, sampled: bool = False, ban: Sequence[int] = ()
) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=clients + 2)) as client:
        await asyncio.sleep(SETTLE_S)
        started = time.perf_counter()
        results = await asyncio.gather(
            *(
                stream_completion(client, server, f"{STORY} Chapter {i}: ", tokens, sampled, ban)
                for i in range(clients)
            ),
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
    failed = [r for r in results if isinstance(r, BaseException)]
    ok = [r for r in results if not isinstance(r, BaseException)]
    # Cut: the stream ended without a finish reason, or with less than half of its reply (greedy, every server
    # writes the same long one; sampled, the end-of-generation tokens are banned: see measure_phase).
    cut = sum(1 for r in ok if r["finish_reason"] is None or r["pieces"] < tokens * 0.5)
    return {"aggregate_tok_s": sum(r["pieces"] for r in ok) / wall, "failed": len(failed), "cut_off": cut}


async def interleaved_conversations(
    servers: list[Server], turns: int, tokens: int, tag: int = 0, sampled: bool = False, ban: Sequence[int] = ()
) -> dict[str, Any]:
    """Four conversations taking turns on every server, request by request in rotating server order.

    Each server keeps its own four transcripts, its replies included (as chat clients send them back);
    the same request goes to each server in turn, `SETTLE_S` apart, so the TTFTs compared at a turn were
    measured seconds apart. `tag` makes the conversations new ones (nothing cached from an earlier pass).
    Returns, per server, the median TTFT at turn 1 and at the last turn, and the median number of
    prompt tokens it reported as cached then.
    """
    kind = "sampled" if sampled else "greedy"
    transcripts = {s.name: [f"Conversation {c} of {kind} pass {tag}. {STORY}\n" for c in range(4)] for s in servers}
    ttft: dict[tuple[str, int], list[float]] = {}
    cached: dict[str, list[float]] = {}
    async with httpx.AsyncClient(timeout=600) as client:
        for turn in range(1, turns + 1):
            for c in range(4):
                for server in rotated(servers, turn * 4 + c):
                    transcript = transcripts[server.name]
                    transcript[c] += f"\nUser: {QUESTIONS[(turn + 3 * c) % len(QUESTIONS)]}\nAssistant:"
                    await asyncio.sleep(SETTLE_S)
                    result = await stream_completion(client, server, transcript[c], tokens, sampled, ban)
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
LONG_PHASES = ("long_alone", "long_idle")
CONVERSATION_TURNS = 10
CONVERSATION_REPLY_TOKENS = 8
LONG_REPLY_TOKENS = 64
GROUPS = ("single", "concurrent", "long", "conversations")  # what --phases may name


def variants(phases: tuple[str, ...]) -> list[str]:
    """Every phase greedy, then sampled."""
    return [*phases, *(phase + SAMPLED for phase in phases)]


def measure_phase(server: Server, phase: str, tokens: int, vocabulary: Vocabulary) -> dict[str, float]:
    """One single-stream or concurrent measurement. Sampled replies may not end early: a reply's length would
    otherwise be chance (an early end of text), and tokens per second over the phase's wall time would
    measure that chance more than the server."""
    sampled = phase.endswith(SAMPLED)
    base = phase.removesuffix(SAMPLED)
    ban = vocabulary.end_of_generation if sampled else ()
    if base == "single":
        return asyncio.run(single_stream(server, tokens, 2, sampled, ban))
    return asyncio.run(concurrent(server, int(base.removeprefix("concurrent")), tokens, sampled, ban))


def measure_long(
    server: Server, phase: str, round_: int, long_tokens: int, vocabulary: Vocabulary
) -> dict[str, float]:
    """One long-context measurement on `server`; its prompts are new (tagged by server, round and phase).
    A sampled reply does not end early: it could end at its first token, and carry no decode to time."""
    count = vocabulary.count
    sampled = phase.endswith(SAMPLED)
    tag = f"{server.name.split()[0]}-{round_}-{phase}"

    async def run() -> dict[str, float]:
        async with httpx.AsyncClient(timeout=900) as client:

            async def stream(prompt: str, max_tokens: int) -> dict[str, Any]:
                await asyncio.sleep(SETTLE_S)
                return await stream_completion(
                    client, server, prompt, max_tokens, sampled, ban=vocabulary.end_of_generation if sampled else ()
                )

            prompt = serving_long.long_text(long_tokens, tag, count)
            if phase.startswith("long_alone"):
                return await serving_long.long_alone(stream, prompt, LONG_REPLY_TOKENS)
            others = [serving_long.long_text(long_tokens, f"{tag}-idle{i}", count) for i in range(2)]
            return await serving_long.long_idle(stream, others, prompt, LONG_REPLY_TOKENS)

    return asyncio.run(run())


def measure(
    servers: list[Server],
    rounds: int,
    quick: bool,
    long_tokens: int,
    vocabulary: Vocabulary,
    groups: frozenset[str] = frozenset(GROUPS),
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Every phase on every server, in `rounds` rounds with the servers in rotating order.

    This machine's speed drifts by tens of percent over seconds (shared host), so measuring one server
    after the other would compare different machines. Interleaving phase by phase and taking medians
    over rounds (and ratios as the median of per-round ratios) keeps the comparison side by side.
    """
    tokens = 32 if quick else 96
    for server in servers:  # warm-up: load the model, fill caches, first-request costs
        asyncio.run(single_stream(server, 8, 1))
    phases = variants(tuple(p for p in PHASES if p.rstrip("0123456789") in groups))
    long_phases = variants(LONG_PHASES) if "long" in groups else []
    conversations = variants(("conversations",)) if "conversations" in groups else []
    every = [*phases, *long_phases, *conversations]
    per_round: dict[str, dict[str, list[dict[str, float]]]] = {s.name: {p: [] for p in every} for s in servers}
    for round_ in range(rounds):
        for index, phase in enumerate(phases):
            for server in rotated(servers, round_ + index):
                print(f"round {round_ + 1}/{rounds}: {phase} on {server.name} …", file=sys.stderr, flush=True)
                per_round[server.name][phase].append(measure_phase(server, phase, tokens, vocabulary))
        for index, phase in enumerate(long_phases):
            for server in rotated(servers, round_ + index):
                print(f"round {round_ + 1}/{rounds}: {phase} on {server.name} …", file=sys.stderr, flush=True)
                per_round[server.name][phase].append(measure_long(server, phase, round_, long_tokens, vocabulary))
        for phase in conversations:
            print(f"round {round_ + 1}/{rounds}: {phase} on every server …", file=sys.stderr, flush=True)
            passes = asyncio.run(
                interleaved_conversations(
                    servers,
                    CONVERSATION_TURNS,
                    CONVERSATION_REPLY_TOKENS,
                    tag=round_,
                    sampled=phase.endswith(SAMPLED),
                    ban=vocabulary.end_of_generation if phase.endswith(SAMPLED) else (),
                )
            )
            for name, conv in passes.items():
                per_round[name][phase].append(conv)
    results: dict[str, dict[str, Any]] = {}
    for server in servers:
        runs = per_round[server.name]
        results[server.name] = {}
        for phase in every:
            if not runs[phase]:
                continue
            keys = list(runs[phase][0])
            summary: dict[str, float] = {}
            for key in keys:
                values = [r[key] for r in runs[phase]]
                summary[key] = int(sum(values)) if key in ("failed", "cut_off") else median(values)
            results[server.name][phase] = summary
    return results, per_round


def start_servers(
    stack: ExitStack, model_path: Path, threads: int, skip: list[str], speculation: str = "lookup"
) -> list[Server]:
    """Enclave, llama-cpp-python's server and llama-server (built first, if need be) on `model_path`, each
    stopped when `stack` closes (Enclave's home, with its copy of the model, then removed); `skip` names
    servers to leave out; `speculation` is Enclave's setting (lookup, its default, or off)."""
    starters = {
        "enclave": lambda: start_enclave(
            model_path,
            threads,
            Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="enclave-serve-bench-"))),
            speculation,
        ),
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


@dataclass(frozen=True)
class Vocabulary:
    """The model's tokeniser for the long phases: counts a prompt's tokens, names the end-of-generation ones."""

    count: Callable[[str], int]
    end_of_generation: tuple[int, ...]


def vocabulary_of(model_path: Path) -> Vocabulary:
    """The model's own tokeniser (its vocabulary only is loaded)."""
    from llama_cpp import Llama
    from llama_cpp import llama_cpp as C

    vocab = Llama(str(model_path), vocab_only=True, verbose=False)
    native = C.llama_model_get_vocab(vocab.model)
    ends = tuple(t for t in range(vocab.n_vocab()) if C.llama_vocab_is_eog(native, t))
    return Vocabulary(lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=True)), ends)


def host_overhead(model: str, tokens: int, runs: int) -> list[dict[str, Any]]:
    """Enclave's host overhead per token and stream, in process (bench/bench_overhead.py), servers stopped."""
    from bench import bench_overhead, decode_timer

    decode_timer.install()
    rows = []
    for streams in (1, 4):
        for sampled in (False, True):
            figures = [bench_overhead.runtime_path(model, streams, tokens, sampled) for _ in range(runs)]
            rows.append(
                {
                    "streams": streams,
                    "sampling": sampled,
                    "overhead_ms_per_token": median([f["overhead_ms_per_token"] for f in figures]),
                    "decode_ms_per_step": median([f["decode_ms_per_step"] for f in figures]),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer tokens, one round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are taken over them)")
    parser.add_argument(
        "--skip", action="append", default=[], help="server to skip: enclave, llama-cpp-python, llama-server"
    )
    parser.add_argument("--model", type=Path, help="a GGUF to serve instead of the bundled demo model")
    parser.add_argument("--long-tokens", type=int, default=3900, help="the long-context phase's prompt size")
    parser.add_argument("--no-long", action="store_true", help="leave out the long-context phase")
    parser.add_argument(
        "--phases", nargs="+", choices=GROUPS, default=list(GROUPS), help="the phases to run (default: all)"
    )
    parser.add_argument("--overhead-runs", type=int, default=3, help="host-overhead repetitions (0: none)")
    parser.add_argument(
        "--speculation", choices=("lookup", "off"), default="lookup", help="Enclave's prompt-lookup speculation"
    )
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    exit_on_sigterm()
    from engine.models import ModelRegistry

    with ExitStack() as stack:
        stack.enter_context(temporary_demo_home())
        model_path = args.model.resolve() if args.model else ModelRegistry().resolve(None).path
        if not model_path.is_file():
            raise SystemExit(f"no such model file: {model_path}")
        stem = "serving" if args.model is None else f"serving-{model_path.stem}"
        rounds = 1 if args.quick else args.rounds
        groups = frozenset(args.phases) - ({"long"} if args.no_long else set())
        vocabulary = vocabulary_of(model_path)
        with ExitStack() as servers_stack:
            servers = start_servers(servers_stack, model_path, threads, args.skip, args.speculation)
            results, per_round = measure(servers, rounds, args.quick, args.long_tokens, vocabulary, groups)
        overhead: list[dict[str, Any]] = []
        if args.overhead_runs > 0:
            registry = ModelRegistry()
            name = registry.resolve(None).name
            if args.model is not None:
                name = registry.import_file(model_path, "bench-overhead").name
            registry.update_settings(name, threads=threads)
            overhead = host_overhead(name, 32 if args.quick else 128, args.overhead_runs)

    print_tables(results, rounds, model_path.name, threads, PARALLEL)
    ratios = compute_ratios(results, per_round)
    print("\nratios: " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
    if overhead:
        print("\nEnclave host overhead per generated token and stream (wall outside llama_decode, in process):")
        for row in overhead:
            print(
                f"  {row['streams']} stream(s), {'sampled' if row['sampling'] else 'greedy'}: "
                f"{row['overhead_ms_per_token']:.3f} ms (decode {row['decode_ms_per_step']:.1f} ms per step)"
            )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    payload = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "threads": threads,
        "parallel": PARALLEL,
        "model": model_path.name,
        "method": (
            f"all servers up at once; {rounds} rounds, each running every phase greedy and sampled (temperature "
            "0.8, top_p 0.95) on every server in rotating order (Enclave and llama-server back to back): "
            "single stream, 1/4/8 concurrent clients (sampled replies with the end-of-generation tokens "
            "banned on Enclave and llama-server: full length), long context (a lone prompt of "
            f"{args.long_tokens} tokens, then one with two more such conversations idle in the cache), then four "
            "new conversations of 10 turns interleaved over all servers request by request; figures are medians "
            "over rounds, ratios medians of per-round ratios; host overhead in process after the servers stopped"
        ),
        "results": results,
        "ratios": ratios,
        "host_overhead": overhead,
        "per_round": per_round,
    }
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    if plot(results, out / f"{stem}.png"):
        print(f"plot: {out / f'{stem}.png'}")


if __name__ == "__main__":
    main()
