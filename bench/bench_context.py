"""Long-prompt cost of llama.cpp context settings: Enclave's against llama-server's, on one model, interleaved.

Enclave's batched context (engine/runtime/batch.py) and llama-server with its defaults differ in two
settings that matter for a long prompt (llama-server's startup log at `-lv 4` prints them):

- `swa_full`: Enclave keeps a full-size sliding-window cache (a prefix shorter than the cached sequence can be
  reused, or shared with another sequence); llama-server keeps only the window plus one micro-batch per
  sequence (Gemma 3: 1,024 cells instead of 4,096), so its sliding-window layers attend over at most that.
- `kv_unified`: Enclave shares one KV buffer among all sequences (so that sequences finishing out of order do
  not split a step into several graph runs); llama-server keeps a stream per sequence.

Both use flash attention (llama.cpp's "auto": on for the CPU), n_batch 2,048 and n_ubatch 512 here. This
bench evaluates one new prompt of `--tokens` tokens from an empty cache in each configuration, then decodes
32 tokens, in rotating order over `--rounds` rounds, and prints medians and each configuration's ratio to
the first one of its set. `--set` picks what is compared:

- `settings` (default): llama-server's settings, Enclave's, and Enclave's without `swa_full`.
- `ubatch`: Enclave's settings with micro-batches of 512 (its default), 1,024 and 2,048 tokens (one
  micro-batch per logical batch, as `--batch-size 2048` gives), and the compute buffer each reserves.
- `flash`: Enclave's settings with flash attention on (llama.cpp's "auto" on a CPU) and off.

On a machine shared with other work, compare `prefill_cpu_s` with `--threads 1`.
Run: python bench/bench_context.py [--set settings|ubatch|flash] [--tokens 3900] [--rounds 3] [--threads 2]
[--model PATH]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import random
import re
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, median, temporary_demo_home  # noqa: E402


@dataclass(frozen=True)
class Config:
    """The context settings compared (the rest as in both servers: n_batch 2,048, 4 sequences)."""

    unified: bool = True
    swa_full: bool = True
    ubatch: int = 512
    flash: int = -1  # llama.cpp's flash_attn_type: -1 auto (on for a CPU), 0 off, 1 on


ENCLAVE = Config()
SETS = {  # the first of each set is the baseline of its ratios
    "settings": {
        "llama-server (per-sequence streams, window-only SWA cache)": Config(unified=False, swa_full=False),
        "enclave (unified, swa_full)": ENCLAVE,
        "unified, window-only SWA cache": Config(swa_full=False),
    },
    "ubatch": {
        "enclave, n_ubatch 512": ENCLAVE,
        "enclave, n_ubatch 1024": replace(ENCLAVE, ubatch=1024),
        "enclave, n_ubatch 2048": replace(ENCLAVE, ubatch=2048),
    },
    "flash": {
        "enclave, flash attention auto (on)": ENCLAVE,
        "enclave, flash attention off": replace(ENCLAVE, flash=0),
    },
}
PARALLEL = 4
CONTEXT_PER_SEQUENCE = 4096
DECODE_TOKENS = 32
# Wall time, and the process's CPU time (with --threads 1 it barely depends on what else the machine runs:
# the figure to compare on a shared machine).
KEYS = ("prefill_s", "prefill_cpu_s", "decode_ms_per_token", "compute_buffer_mib")
LOG: list[str] = []  # llama.cpp's messages while a context is made (its compute buffer sizes)


def _keep_log(_level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    LOG.append(text.decode("utf-8", "replace"))


def measure(model_path: Path, threads: int, tokens: int, config: Config) -> dict[str, float]:
    """Prefill seconds and decode ms per token for one configuration (a context of its own)."""
    from llama_cpp import llama_cpp as C
    from llama_cpp._internals import LlamaBatch, LlamaContext, LlamaModel

    callback = C.llama_log_callback(_keep_log)  # referenced until the context is made
    C.llama_log_set(callback, ctypes.c_void_p(0))
    model = LlamaModel(path_model=str(model_path), params=C.llama_model_default_params(), verbose=False)
    params = C.llama_context_default_params()
    params.n_ctx = CONTEXT_PER_SEQUENCE * PARALLEL
    params.n_batch, params.n_ubatch, params.n_seq_max = 2048, config.ubatch, PARALLEL
    params.n_threads = params.n_threads_batch = threads
    params.kv_unified, params.swa_full = config.unified, config.swa_full
    params.flash_attn_type = config.flash
    LOG.clear()
    ctx = LlamaContext(model=model, params=params, verbose=False)
    from engine.runtime import llama_log

    llama_log.install()  # llama.cpp's log: errors only from here
    # What llama.cpp reserves for its graphs (as reserved: pages it never touches take no memory).
    buffer_mib = sum(float(m) for m in re.findall(r"compute buffer size = +([\d.]+) MiB", "".join(LOG)))
    batch = LlamaBatch(n_tokens=2048, embd=0, n_seq_max=1, verbose=False)
    try:
        rng = random.Random(tokens)
        low = min(1000, model.n_vocab() // 2)  # past the special and byte tokens
        prompt = [model.token_bos(), *(rng.randrange(low, model.n_vocab()) for _ in range(tokens - 1))]
        b = batch.batch

        def decode(chunk: list[int], start: int, logits_last: bool) -> None:
            for i, token in enumerate(chunk):
                b.token[i], b.pos[i], b.n_seq_id[i] = token, start + i, 1
                b.seq_id[i][0] = 0
                b.logits[i] = logits_last and i == len(chunk) - 1
            b.n_tokens = len(chunk)
            if C.llama_decode(ctx.ctx, b) != 0:
                raise RuntimeError("llama_decode failed")

        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(prompt), 2048):
            decode(prompt[start : start + 2048], start, start + 2048 >= len(prompt))
        prefill, prefill_cpu = time.perf_counter() - started, time.process_time() - cpu
        started = time.perf_counter()
        for i in range(DECODE_TOKENS):
            decode([prompt[1 + i]], len(prompt) + i, True)
        per_token = (time.perf_counter() - started) / DECODE_TOKENS
        return {
            "prefill_s": prefill,
            "prefill_cpu_s": prefill_cpu,
            "decode_ms_per_token": per_token * 1e3,
            "compute_buffer_mib": buffer_mib,
        }
    finally:
        batch.close()
        ctx.close()
        model.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=3900, help="the prompt's length")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are taken over them)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", type=Path, help="a GGUF instead of the bundled demo model")
    parser.add_argument("--set", choices=list(SETS), default="settings", help="what to compare (see above)")
    args = parser.parse_args()
    if not 32 <= args.tokens < CONTEXT_PER_SEQUENCE - DECODE_TOKENS:
        parser.error(f"--tokens must be between 32 and {CONTEXT_PER_SEQUENCE - DECODE_TOKENS - 1}")
    with ExitStack() as stack:
        path = args.model
        if path is None:
            stack.enter_context(temporary_demo_home())
            from engine.models import ModelRegistry

            path = ModelRegistry().resolve(None).path
        configs = SETS[args.set]
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
        names = list(configs)
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # rotating order
                runs[name].append(measure(path, args.threads, args.tokens, configs[name]))
                print(f"round {round_ + 1}: {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
    base = names[0]
    results = {name: {key: median([r[key] for r in rows]) for key in KEYS} for name, rows in runs.items()}
    ratios = {
        name: {
            f"{key}_vs_{args.set}_baseline": median([r[key] / b[key] for r, b in zip(rows, runs[base], strict=True)])
            for key in KEYS
            if all(b[key] > 0 for b in runs[base])
        }
        for name, rows in runs.items()
        if name != base
    }
    print(
        json.dumps(
            {
                "machine": machine(),
                "set": args.set,
                "baseline": base,
                "tokens": args.tokens,
                "threads": args.threads,
                "rounds": args.rounds,
                "results": results,
                "ratios": ratios,
                "per_round": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
