"""Where the deterministic context's time goes: decode steps of 3 one-token rows, and 3 prompts' evaluation,
in contexts that differ by one setting at a time (interleaved, min and median of many repetitions).

Run: python bench/deterministic_context.py MODEL.gguf [REPETITIONS]. Measured 2026-12-07 on the busy shared
machine (load ~8 on 2 cores; the minimums are what counts), demo model, 8 repetitions: the lanes' context
(a KV stream each, flash attention off, prompts in 64-token chunks, a call each) 65.0 ms a 3-row step
against 66.0 ms in a main-like one (unified cache, flash auto, the 3 prompts in one call); the prompts
469.5 against 470.2 ms: no difference the noise lets through.
"""

import sys
import time

import numpy as np
from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaBatch, LlamaContext

import bench.batch_invariance as bi

h = bi.Harness(sys.argv[1], 0, False, True)  # (the model; contexts made below)
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
prompts = [bi.tokenize(h.model, (t + " ") * 4)[:80] for t in (bi.TEXT, *bi.OTHERS[:2])]


def ctx_for(unified, flash, n_batch):
    p = C.llama_context_default_params()
    p.n_ctx = 1024 * 3
    p.n_batch = p.n_ubatch = n_batch
    p.n_seq_max = 3
    p.n_threads = p.n_threads_batch = 2
    p.kv_unified = unified
    p.swa_full = True
    p.flash_attn_type = flash
    return LlamaContext(model=h.model, params=p, verbose=False)


configs = {
    "lanes (streams, flash off, 64-chunks)": (False, 0, 192, 64),
    "streams, flash auto, 64-chunks": (False, -1, 192, 64),
    "unified, flash off, 64-chunks": (True, 0, 192, 64),
    "main-like (unified, flash auto, whole prompts)": (True, -1, 512, 512),
}
ctxs = {name: ctx_for(u, f, nb) for name, (u, f, nb, _) in configs.items()}
batch = LlamaBatch(n_tokens=512, embd=0, n_seq_max=1, verbose=False)


def run(ctx, rows):
    b, n = batch.batch, 0
    for q, toks, start in rows:
        for j, t in enumerate(toks):
            b.token[n], b.pos[n], b.n_seq_id[n], b.seq_id[n][0] = t, start + j, 1, q
            b.logits[n] = j == len(toks) - 1
            n += 1
    b.n_tokens = n
    assert C.llama_decode(ctx.ctx, b) == 0


pre = {n: [] for n in configs}
dec = {n: [] for n in configs}
for _ in range(reps):
    for name, (_, _, _, chunk) in configs.items():
        ctx = ctxs[name]
        for q in range(3):
            ctx.kv_cache_seq_rm(q, 0, -1)
        t = time.perf_counter()
        if chunk == 64:
            for q, p in enumerate(prompts):
                for s in range(0, len(p), 64):
                    run(ctx, [(q, p[s : s + 64], s)])
        else:
            run(ctx, [(q, p, 0) for q, p in enumerate(prompts)])
        pre[name].append(time.perf_counter() - t)
        t = time.perf_counter()
        for d in range(4):
            run(ctx, [(q, [300 + d], len(prompts[q]) + d) for q in range(3)])
        dec[name].append((time.perf_counter() - t) / 4)
base = "main-like (unified, flash auto, whole prompts)"
for name in configs:
    print(
        f"{name:<48} prompts min {min(pre[name]) * 1e3:6.1f} med {np.median(pre[name]) * 1e3:6.1f} ms | "
        f"3-row step min {min(dec[name]) * 1e3:5.1f} med {np.median(dec[name]) * 1e3:5.1f} ms "
        f"(x{min(dec[name]) / min(dec[base]):.2f} / x{np.median(dec[name]) / np.median(dec[base]):.2f})"
    )
