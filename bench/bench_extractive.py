"""Extractive bench (issue 30): replies that repeat their input, where speculative decoding pays.

Side by side in one run, on the same GGUF (the bundled demo model, a base model: the tasks are framed as
text to continue), the same thread count, one stream at a time, on loopback:
- quote: a ~1,500-token document, then the start of its verbatim copy (an answer quoting its source);
- code: a Python file, then the start of the same file "with one identifier renamed";
- chat: a conversation continued with a new question (nothing to copy: speculation must not slow it).
Each round has its own document, file and question. llama.cpp's n-gram drafters keep the n-grams of every
sequence they saw, across requests: with the same task every round, llama-server --spec-default drafts
the previous round's reply (measured: 101 of 128 tokens kept on a repeated quote, 16 on the first) and
the figure says how well it remembers, not how well it follows the document.
Servers: Enclave (prompt-lookup speculation on, its default), Enclave with speculation off, llama.cpp's
llama-server with its defaults, and llama-server with the speculative options its documentation
recommends (docs/speculative.md: `--spec-default`, the n-gram hasher; and `--spec-type ngram-simple
--spec-draft-n-max 64`, its example for rewriting source code). Every request is greedy; the rate is
the completion's tokens (as the server's usage reports them) over the time from its first to its last
text. Phases run in interleaved rounds, servers in rotating order; figures are medians over rounds,
ratios medians of per-round ratios. Prints a Markdown table; writes bench/results/extractive.json.

With `--draft-model PATH` (a smaller GGUF of the model's family), two more servers: Enclave with that
draft model (`enclave models set demo --draft-model draft`) and llama-server with `-md PATH`.

Run: python bench/bench_extractive.py [--rounds 5] [--tokens 256] [--model PATH] [--draft-model PATH] [--skip NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port, machine, median, wait_ready  # noqa: E402

PASSPHRASE = "bench-passphrase-not-secret"
CONTEXT = 8192
PARALLEL = 4
SETTLE_S = 0.1
# One file per round, each with an identifier to rename: a server that remembers earlier replies (llama.cpp's
# n-gram drafters keep every sequence's n-grams across requests) must not draft this round's answer from
# the previous round's.
CODE_CASES = (
    ("engine/runtime/loaded.py", "longest_prefix", "common_prefix_length"),
    ("engine/policy/audit_queue.py", "pending_path", "queue_path"),
    ("engine/runtime/types.py", "GenerationParams", "SamplingParams"),
    ("engine/pairing/tls.py", "fingerprint", "thumbprint"),
    ("engine/documents/assistants.py", "Assistant", "Helper"),
)
QUESTIONS = (
    "What time do the fishing boats usually return, and what do they bring in during the winter months?",
    "Where can a visitor moor a small sailing boat overnight, and what does it cost?",
    "How did the harbour change after the storm of 1953, and who paid for the new sea wall?",
    "Which festivals take place on the quay in summer, and how do people take part?",
    "What should a new crew member know before their first night shift on the harbour tug?",
)

ENCLAVE, ENCLAVE_OFF = "Enclave", "Enclave (speculation off)"
ENCLAVE_DRAFT, LLAMA_DRAFT = "Enclave (draft model)", "llama-server -md"  # with --draft-model only
LLAMA, LLAMA_SPEC, LLAMA_NGRAM = "llama-server", "llama-server --spec-default", "llama-server ngram-simple"
LLAMA_OPTIONS = {
    LLAMA: [],
    LLAMA_SPEC: ["--spec-default"],
    LLAMA_NGRAM: ["--spec-type", "ngram-simple", "--spec-draft-n-max", "64"],
}


@dataclass
class Server:
    """A running server under test."""

    name: str
    base_url: str
    api_key: str
    process: subprocess.Popen[bytes]
    home: Path | None = None


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
        if server.home is not None:
            shutil.rmtree(server.home, ignore_errors=True)


def start_enclave(name: str, model_path: Path, threads: int, speculation: str, draft: Path | None = None) -> Server:
    home = Path(tempfile.mkdtemp(prefix="enclave-extractive-bench-"))
    env = {**os.environ, "ENCLAVE_HOME": str(home), "ENCLAVE_PASSPHRASE": PASSPHRASE, "ENCLAVE_NO_DEMO": "1"}
    enclave = [sys.executable, "-m", "engine.cli"]
    for command in (
        ["init"],
        ["models", "import", str(model_path), "--name", "demo"],
        ["models", "set", "demo", "--threads", str(threads), "--context", str(CONTEXT), "--speculation", speculation],
        *(
            [["models", "import", str(draft), "--name", "draft"], ["models", "set", "demo", "--draft-model", "draft"]]
            if draft is not None
            else []
        ),
    ):
        subprocess.run([*enclave, *command], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*enclave, "keys", "create", "--name", "bench"], env=env, check=True, capture_output=True, text=True
    )
    key = next(word for word in created.stdout.split() if word.startswith("enc-"))
    port = free_port()
    process = subprocess.Popen(
        [*enclave, "serve", "--port", str(port), "--model", "demo"], env=env, stderr=subprocess.DEVNULL
    )
    wait_ready(f"http://127.0.0.1:{port}/health", process)
    return Server(name, f"http://127.0.0.1:{port}/v1", key, process, home)


def start_llama_server(name: str, binary: Path, model_path: Path, threads: int) -> Server:
    port = free_port()
    command = [str(binary), "-m", str(model_path), "-c", str(CONTEXT * PARALLEL), "-np", str(PARALLEL)]
    command += ["-t", str(threads), "-tb", str(threads), "--host", "127.0.0.1", "--port", str(port), "-a", "demo"]
    process = subprocess.Popen(command + LLAMA_OPTIONS[name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}/health", process)
    return Server(name, f"http://127.0.0.1:{port}/v1", "none", process)


# -- the tasks -------------------------------------------------------------------------------------


def document(round_: int = 0, paragraphs: int = 24) -> str:
    """A records policy of numbered sections, ~1,500 tokens on the demo model, different each round. Every
    sentence is drawn from its own words (no phrase recurs), so that a quote has one place to follow."""
    rng = random.Random(30 + round_)
    subjects = [
        "case files",
        "invoices",
        "staff records",
        "contracts",
        "emails",
        "board minutes",
        "audit logs",
        "site plans",
        "payroll sheets",
        "tender bids",
        "visitor logs",
        "grant letters",
        "safety reports",
    ]
    verbs = ["kept", "reviewed", "archived", "shredded", "sealed", "indexed", "scanned", "moved", "checked"]
    owners = [
        "the records team",
        "the finance office",
        "legal counsel",
        "the harbour master",
        "the auditors",
        "the clerk",
        "the mayor's office",
        "the works depot",
        "the archive room",
        "the school board",
    ]
    places = [
        "in the north vault",
        "at the depot",
        "on the second floor",
        "in locked cabinets",
        "off site",
        "in the town hall basement",
        "with the county",
        "in fireproof boxes",
    ]
    sentences = []
    for subject in subjects:
        for verb in verbs:
            sentences.append((subject, verb))
    rng.shuffle(sentences)
    lines = ["Records Retention Policy of the Harbour Town Council", ""]
    for section in range(1, paragraphs + 1):
        parts = []
        for _ in range(3):
            subject, verb = sentences.pop()
            parts.append(
                f"{subject.capitalize()} are {verb} by {rng.choice(owners)} {rng.choice(places)} "
                f"for {rng.randint(2, 40)} years"
            )
        lines.append(f"Section {section}. " + "; ".join(parts) + ".")
    return "\n".join(lines)


def tasks(round_: int = 0) -> dict[str, str]:
    """The prompts of a round, by phase: each ends where the reply should start. Every round has its own
    document, file and question: no reply repeats an earlier round's."""
    doc = document(round_)
    first_line = doc.splitlines()[0]
    path, old, new = CODE_CASES[round_ % len(CODE_CASES)]
    code = (ROOT / path).read_text(encoding="utf-8")
    return {
        "quote": f"Document:\n{doc}\n\nThe document above, quoted word for word:\n{first_line}\n",
        "code": (
            f"File {Path(path).name}:\n```python\n{code}```\n\n"
            f"The same file, complete, with `{old}` renamed to `{new}`:\n"
            f"```python\n" + "".join(code.splitlines(keepends=True)[:3])
        ),
        "chat": (
            "A conversation between a visitor and the harbour master.\nUser: "
            f"{QUESTIONS[round_ % len(QUESTIONS)]}\nAssistant:"
        ),
    }


async def stream(client: httpx.AsyncClient, server: Server, prompt: str, max_tokens: int) -> dict[str, Any]:
    """One streaming greedy /v1/completions request: tokens (as usage reports them, else text chunks) and
    the time from the first to the last text."""
    body = {
        "model": "demo",
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first = last = None
    pieces, tokens = 0, 0
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
                last = time.perf_counter()
                first = first or last
                pieces += 1
            usage = event.get("usage") or {}
            if usage.get("completion_tokens"):
                tokens = int(usage["completion_tokens"])
    if first is None or last is None:
        raise RuntimeError(f"{server.name}: empty stream")
    tokens = tokens or pieces
    decode = last - first
    return {"ttft_s": first - started, "tokens": tokens, "tok_s": (tokens - 1) / decode if decode > 0 else 0.0}


async def measure_one(server: Server, prompt: str, max_tokens: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=600) as client:
        await asyncio.sleep(SETTLE_S)
        return await stream(client, server, prompt, max_tokens)


def rotated(servers: list[Server], shift: int) -> list[Server]:
    k = shift % len(servers)
    return servers[k:] + servers[:k]


def measure(servers: list[Server], rounds: int, max_tokens: int) -> dict[str, dict[str, list[dict[str, Any]]]]:
    for server in servers:  # warm-up: load the model, first-request costs
        asyncio.run(measure_one(server, "Hello! How are you today?", 8))
    per_round: dict[str, dict[str, list[dict[str, Any]]]] = {s.name: {p: [] for p in tasks()} for s in servers}
    for round_ in range(rounds):
        for index, (phase, prompt) in enumerate(tasks(round_).items()):
            for server in rotated(servers, round_ + index):
                print(f"round {round_ + 1}/{rounds}: {phase} on {server.name} …", file=sys.stderr, flush=True)
                per_round[server.name][phase].append(asyncio.run(measure_one(server, prompt, max_tokens)))
    return per_round


def ratio(per_round: dict[str, Any], ours: str, theirs: str, phase: str) -> float:
    pairs = zip(per_round[ours][phase], per_round[theirs][phase], strict=True)
    return median([a["tok_s"] / b["tok_s"] for a, b in pairs if b["tok_s"] > 0])


def start_servers(
    stack: ExitStack, model_path: Path, threads: int, skip: list[str], draft: Path | None = None
) -> list[Server]:
    starters = {
        ENCLAVE: lambda: start_enclave(ENCLAVE, model_path, threads, "lookup"),
        ENCLAVE_OFF: lambda: start_enclave(ENCLAVE_OFF, model_path, threads, "off"),
    }
    if draft is not None:
        starters[ENCLAVE_DRAFT] = lambda: start_enclave(ENCLAVE_DRAFT, model_path, threads, "lookup", draft)
        LLAMA_OPTIONS[LLAMA_DRAFT] = ["-md", str(draft)]
    script = str(ROOT / "bench" / "build_llama_server.sh")
    env = {**os.environ, "PY": os.environ.get("PY", sys.executable)}  # the Python that runs the bench
    built = subprocess.run(["bash", script], cwd=ROOT, capture_output=True, text=True, env=env)
    if built.returncode == 0:
        binary = Path(built.stdout.strip().splitlines()[-1])
        for name in LLAMA_OPTIONS:
            starters[name] = lambda name=name: start_llama_server(name, binary, model_path, threads)  # type: ignore[misc]
    else:
        print("llama-server could not be built:", built.stderr[-500:], file=sys.stderr)
    return [stack.enter_context(running(start())) for name, start in starters.items() if name not in skip]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are taken over them)")
    parser.add_argument("--tokens", type=int, default=256, help="max_tokens of every reply")
    parser.add_argument("--model", type=Path, help="a GGUF to serve instead of the bundled demo model")
    parser.add_argument("--draft-model", type=Path, help="a smaller GGUF of the model's family to draft with")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        help=f"a server to leave out: {', '.join([ENCLAVE, ENCLAVE_OFF, *LLAMA_OPTIONS])}",
    )
    args = parser.parse_args()
    threads = os.cpu_count() or 1

    from bench.common import demo_home
    from engine.models import ModelRegistry

    demo_home()
    try:
        model_path = args.model.resolve() if args.model else ModelRegistry().resolve(None).path
        if not model_path.is_file():
            raise SystemExit(f"no such model file: {model_path}")
        with ExitStack() as stack:
            draft = args.draft_model.resolve() if args.draft_model else None
            servers = start_servers(stack, model_path, threads, args.skip, draft)
            per_round = measure(servers, args.rounds, args.tokens)
    finally:
        shutil.rmtree(os.environ["ENCLAVE_HOME"], ignore_errors=True)

    results = {
        name: {
            phase: {key: median([r[key] for r in runs]) for key in ("tok_s", "ttft_s", "tokens")}
            for phase, runs in phases.items()
        }
        for name, phases in per_round.items()
    }
    print(f"\nModel: {model_path.name}, {threads} threads, single stream, median of {args.rounds} interleaved rounds;")
    print(f"{machine()['cpu']}\n")
    print("| server | quote tok/s | code tok/s | chat tok/s | quote TTFT ms |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['quote']['tok_s']:.1f} | {r['code']['tok_s']:.1f} | {r['chat']['tok_s']:.1f} | "
            f"{r['quote']['ttft_s'] * 1000:.0f} |"
        )
    ratios: dict[str, float] = {}
    if ENCLAVE in results:
        for phase in ("quote", "code"):
            for theirs, label in (
                (LLAMA, "llama_server"),
                (LLAMA_SPEC, "llama_server_spec_default"),
                (LLAMA_NGRAM, "llama_server_ngram_simple"),
            ):
                if theirs in results:
                    ratios[f"{phase}_vs_{label}"] = ratio(per_round, ENCLAVE, theirs, phase)
        if ENCLAVE_OFF in results:
            for phase in ("quote", "code", "chat"):
                ratios[f"{phase}_speculation_on_vs_off"] = ratio(per_round, ENCLAVE, ENCLAVE_OFF, phase)
    for phase in ("quote", "code", "chat"):
        for theirs, label in ((ENCLAVE_OFF, "speculation_off"), (LLAMA_DRAFT, "llama_server_md")):
            if ENCLAVE_DRAFT in results and theirs in results:
                ratios[f"{phase}_draft_model_vs_{label}"] = ratio(per_round, ENCLAVE_DRAFT, theirs, phase)
    print("\nratios: " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
    print("targets: quote/code ≥ 1.6× llama-server, ≥ 1.0× llama-server with speculation; chat on/off ≥ 0.97×")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    payload = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "threads": threads,
        "model": model_path.name,
        "max_tokens": args.tokens,
        "method": (
            f"single stream, greedy, /v1/completions; {args.rounds} rounds, each phase on every server in rotating "
            "order; tok/s = (completion tokens - 1) / (last text - first text); medians over rounds, ratios "
            "medians of per-round ratios"
        ),
        "llama_server_options": LLAMA_OPTIONS,
        "results": results,
        "ratios": ratios,
        "per_round": per_round,
    }
    (out / "extractive.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
