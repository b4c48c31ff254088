"""Is llama.cpp's CPU output for one sequence batch-invariant? Logits compared bit for bit.

One sequence (a prompt, then a fixed run of decoded tokens) is evaluated alone in a single-sequence
context (the reference: prompt in 64-token chunks, one token per decode), then in other arrangements:
its prompt in other chunk sizes, in a shared multi-sequence context with other sequences occupying
cells before it, its prompt and its decode steps in batches with other sequences' tokens (decode tokens,
drafts, prompts). For each arrangement it prints whether every logits row equals the reference's
exactly, and the largest difference.

Run: python bench/batch_invariance.py MODEL.gguf [--flash auto|off|on] [--streams] [--no-repack] [--pad4]
[--draft K] [--only TEXT] [--speculate]. Measured on the demo model (Q4_K_M, AVX2): identical in every arrangement but
whole-prompt batches with `--flash off --streams --no-repack`, and with `--flash off --streams --pad4`
(decode steps of four rows); otherwise the arrangements with other sequences differ. On a float (F32)
model, decode steps differ slightly by batch size whatever the options.

`--speculate` asks whether deterministic lanes could verify their drafts in one shared decode: three
sequences in a context like engine.runtime.deterministic.Lanes (a KV stream each, 64-token prompt chunks),
each step every sequence decodes its next token and a draft of its own length, drafted tokens not kept
leave the cache (as engine verify does); sequence 0's logits, every row of every step, are compared with
its own alone. Layouts: each sequence in a decode call of its own (the reference's), all in one call, and
one-token rows in one call with the rows that have drafts in another. Measured on the demo model (Q4_K_M,
AVX2, `--flash off --streams`, repacked or not): only "alone" is identical. With drafts of any length a
shared call differs (llama.cpp splits a multi-stream batch into micro-batches of as many tokens from each
sequence, so a sequence's rows are cut and grouped differently in company). With every drafting row a
multiple of four tokens (drafts of 3, 7, 11, ...) and one-token rows in a call of their own it is identical
as long as every drafted token is kept, but once a sequence has had drafts rejected (cells freed above its
last token), its next shared multi-token decode differs (repacked or not; its cache's cells before that
decode are byte-identical to the reference's, cause not found). One-token rows together stay identical
after rejections (what the engine does).

The `lanes:` scenarios (with `--flash off --streams`) ask whether deterministic lanes may evaluate prompt
chunks together: three sequences, each 64-token chunk in one call with the others' 64-token chunks (at the
same positions or 128 ahead), their decode steps three rows. Measured 2026-12-08 (AVX2, repacked): identical
on the demo model (70-token prompt) and on the synthetic 1.1B (Q4_K_M, 140 tokens); a shorter last chunk in
company differs on the demo model (6 tokens: the rows' groups of four are cut differently) and not on the
1.1B (12 tokens, a multiple of four). The engine puts only whole chunks together.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaBatch, LlamaContext, LlamaModel

TEXT = (
    "The records team keeps case files for seven years after a case closes. Files that hold personal data "
    "are reviewed every year, and anything no longer needed is destroyed under supervision. "
)
OTHERS = ["Once upon a time, in a quiet village by the sea, ", "def fibonacci(n):\n    ", "Numbers: 1, 2, 3, 4, "]
DECODE = 12
DRAFT = [300, 301, 302, 303, 304, 305, 306, 307]  # the sequence's drafted tokens (--draft), always these

Step = list[tuple[int, list[int], int, bool]]  # (seq, tokens, first position, logits for the last token)


class Harness:
    def __init__(self, path: str, flash: int, unified: bool = True, repack: bool = True) -> None:
        self.unified = unified
        params = C.llama_model_default_params()
        params.use_extra_bufts = repack
        self.model = LlamaModel(path_model=path, params=params, verbose=False)
        self.flash = flash
        self.n_vocab = self.model.n_vocab()

    def context(self, n_seq: int, n_batch: int, n_ubatch: int) -> LlamaContext:
        params = C.llama_context_default_params()
        params.n_ctx = 1024 * n_seq
        params.n_batch, params.n_ubatch, params.n_seq_max = n_batch, n_ubatch, n_seq
        params.n_threads = params.n_threads_batch = 2
        params.kv_unified = self.unified or n_seq == 1
        params.swa_full = True
        params.flash_attn_type = self.flash
        return LlamaContext(model=self.model, params=params, verbose=False)

    def decode(self, ctx: LlamaContext, step: Step, want: int) -> np.ndarray | None:
        """One llama_decode of `step`; the logits of sequence `want`'s last token if it asked for them."""
        n = sum(len(tokens) for _, tokens, _, _ in step)
        batch = LlamaBatch(n_tokens=max(n, 1), embd=0, n_seq_max=1, verbose=False)
        b, i, index = batch.batch, 0, -1
        for seq, tokens, start, logits in step:
            for j, token in enumerate(tokens):
                b.token[i], b.pos[i], b.n_seq_id[i], b.seq_id[i][0] = token, start + j, 1, seq
                last = logits and j == len(tokens) - 1
                b.logits[i] = last
                if last and seq == want:
                    index = i
                i += 1
        b.n_tokens = n
        assert C.llama_decode(ctx.ctx, b) == 0
        out = None
        if index >= 0:
            pointer = C.llama_get_logits_ith(ctx.ctx, index)
            out = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).copy()
        batch.close()
        return out


def tokenize(model: LlamaModel, text: str, bos: bool = True) -> list[int]:
    return list(model.tokenize(text.encode(), add_bos=bos, special=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--flash", choices=["auto", "off", "on"], default="auto")
    parser.add_argument("--streams", action="store_true", help="a KV stream per sequence (kv_unified off)")
    parser.add_argument("--no-repack", action="store_true", help="weights as in the file (no CPU repacking)")
    parser.add_argument("--draft", type=int, default=0, help="the sequence's decode steps carry this many drafts")
    parser.add_argument("--pad4", action="store_true", help="the reference decodes with 3 dummy rows (4 in all)")
    parser.add_argument("--only", default="", help="run only scenarios whose name contains this")
    parser.add_argument(
        "--speculate", action="store_true", help="instead: drafts of several sequences verified in shared decodes"
    )
    args = parser.parse_args()
    h = Harness(args.model, {"auto": -1, "off": 0, "on": 1}[args.flash], not args.streams, not args.no_repack)
    if args.speculate:
        speculation_scenarios(h, args.only)
        return
    k = args.draft
    prompt = tokenize(h.model, TEXT * 2)
    others = [tokenize(h.model, t * 6) for t in OTHERS]
    print(
        f"prompt {len(prompt)} tokens, others {[len(o) for o in others]}, flash {args.flash}, "
        f"streams {args.streams}, repack {not args.no_repack}"
    )

    # Reference: alone, 64-token chunks, greedy decode; the decoded tokens are then fed to every arrangement.
    ctx = h.context(4, 2048, 512) if args.pad4 else h.context(1, 64, 64)
    ref: list[np.ndarray] = []
    for s in range(0, len(prompt), 64):
        chunk = prompt[s : s + 64]
        out = h.decode(ctx, [(0, chunk, s, s + 64 >= len(prompt))], 0)
    assert out is not None
    ref.append(out)
    tokens = []
    for d in range(DECODE):
        tokens.append(int(np.argmax(ref[-1])))
        pad = [(i, [7], d, True) for i in (1, 2, 3)] if args.pad4 else []  # 3 rows of dummy sequences
        out = h.decode(ctx, [(0, [tokens[-1], *DRAFT[:k]], len(prompt) + d * (1 + k), True), *pad], 0)
        assert out is not None
        ref.append(out)
    ctx.close()

    def compare(name: str, rows: list[np.ndarray]) -> None:
        same = all(np.array_equal(a, b) for a, b in zip(ref, rows, strict=True))
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, rows, strict=True))
        argmax = all(int(np.argmax(a)) == int(np.argmax(b)) for a, b in zip(ref, rows, strict=True))
        rows_same = "".join("=" if np.array_equal(a, b) else "x" for a, b in zip(ref, rows, strict=True))
        print(f"{'IDENTICAL' if same else 'differs  '} max|Δ|={diff:.3g} argmax-same={argmax} rows {rows_same}  {name}")

    def scenario(
        name: str,
        n_seq: int,
        n_batch: int,
        n_ubatch: int,
        prompt_steps: Callable[[], list[Step]],
        seq: int,
        decode_extra: Callable[[int], Step],
        before: list[Step] | None = None,
    ) -> None:
        if args.only not in name:
            return
        ctx = h.context(n_seq, n_batch, n_ubatch)
        for step in before or []:
            h.decode(ctx, step, -1)
        rows: list[np.ndarray] = []
        out = None
        for step in prompt_steps():
            got = h.decode(ctx, step, seq)
            out = got if got is not None else out
        assert out is not None
        rows.append(out)
        for d in range(DECODE):
            step = [(seq, [tokens[d], *DRAFT[:k]], len(prompt) + d * (1 + k), True), *decode_extra(d)]
            got = h.decode(ctx, step, seq)
            assert got is not None
            rows.append(got)
        ctx.close()
        compare(name, rows)

    def chunks(size: int, seq: int = 0) -> Callable[[], list[Step]]:
        return lambda: [[(seq, prompt[s : s + size], s, s + size >= len(prompt))] for s in range(0, len(prompt), size)]

    none: Callable[[int], Step] = lambda d: []  # noqa: E731
    # Other sequences' prompts fill the cache first (cells below ours), then decode alongside.
    fill = [[(i + 1, o, 0, True) for i, o in enumerate(others)]]
    olen = [len(o) for o in others]

    def alongside(draft: int) -> Callable[[int], Step]:
        return lambda d: [(i + 1, [5 + d] * (1 + draft), olen[i] + d * (1 + draft), True) for i in range(3)]

    scenario("solo ctx, prompt in one batch", 1, 512, 512, chunks(512), 0, none)
    scenario("solo ctx, prompt in 32-chunks", 1, 512, 512, chunks(32), 0, none)
    scenario("solo ctx, prompt in 1-token steps", 1, 512, 512, chunks(1), 0, none)
    scenario("shared ctx (4 seq), alone, 64-chunks", 4, 2048, 512, chunks(64), 0, none)
    scenario(
        "shared ctx, seq 2, others' cells below, 64-chunks, decode alone",
        4,
        2048,
        512,
        chunks(64, 2),
        2,
        none,
        [[(1, others[0], 0, True), (3, others[1], 0, True)]],
    )
    scenario(
        "shared ctx, others below, 64-chunks alone, decode with 3 others",
        4,
        2048,
        512,
        chunks(64),
        0,
        alongside(0),
        fill,
    )

    def only_at(steps: set[int], k: int) -> Callable[[int], Step]:
        order = sorted(steps)
        return lambda d: [(i + 1, [5 + d], olen[i] + order.index(d), True) for i in range(k)] if d in steps else []

    scenario("shared ctx, decode with 3 others at step 0 only", 4, 2048, 512, chunks(64), 0, only_at({0}, 3), fill)
    scenario("shared ctx, decode with 3 others at step 1 only", 4, 2048, 512, chunks(64), 0, only_at({1}, 3), fill)
    scenario("shared ctx, decode with 1 other at step 1 only", 4, 2048, 512, chunks(64), 0, only_at({1}, 1), fill)
    scenario("shared ctx, decode with 2 others at steps 1,2", 4, 2048, 512, chunks(64), 0, only_at({1, 2}, 2), fill)
    scenario(
        "shared ctx, others below, decode with 3 others each drafting 4",
        4,
        2048,
        512,
        chunks(64),
        0,
        alongside(4),
        fill,
    )

    def mixed() -> list[Step]:  # each prompt chunk shares its batch with the others' decode tokens
        steps = []
        for k, s in enumerate(range(0, len(prompt), 64)):
            steps.append(
                [
                    (0, prompt[s : s + 64], s, s + 64 >= len(prompt)),
                    *[(i + 1, [7], olen[i] + k, True) for i in range(3)],
                ]
            )
        return steps

    def mixed_after(d: int) -> Step:  # (the others already took len(chunks) positions)
        k = (len(prompt) + 63) // 64
        return [(i + 1, [5], olen[i] + k + d, True) for i in range(3)]

    scenario("shared ctx, prompt chunks mixed with others' decode tokens", 4, 2048, 512, mixed, 0, mixed_after, fill)

    def with_prompts() -> list[Step]:  # our whole prompt in one batch with the others' whole prompts
        return [[*[(i + 1, o, 0, True) for i, o in enumerate(others)], (0, prompt, 0, True)]]

    scenario(
        "shared ctx, whole prompt in one batch with 3 other prompts",
        4,
        2048,
        512,
        with_prompts,
        0,
        lambda d: [(i + 1, [5], olen[i] + d, True) for i in range(3)],
    )

    # Deterministic lanes (three, engine.runtime.deterministic.STREAMS) evaluating prompts at once: each of our
    # 64-token chunks in one call with the two others' chunks at the same positions and of the same length
    # (the micro-batch then holds as many tokens of each sequence, cut as alone). `partial_too`: our last,
    # shorter chunk also goes with the others'. Decode steps with them: three rows, as the lanes decode.
    # `lead`: the others are that many positions ahead (their first chunks evaluated before, alone).
    long_others = [(o * (len(prompt) // len(o) + 4))[: len(prompt) + 128] for o in others[:2]]

    def equal_chunks(partial_too: bool, lead: int = 0) -> Callable[[], list[Step]]:
        def steps() -> list[Step]:
            out: list[Step] = [
                [(i + 1, o[s : s + 64], s, False)] for i, o in enumerate(long_others) for s in range(0, lead, 64)
            ]
            for s in range(0, len(prompt), 64):
                chunk = prompt[s : s + 64]
                mine = (0, chunk, s, s + 64 >= len(prompt))
                if len(chunk) == 64 or partial_too:
                    theirs = [
                        (i + 1, o[lead + s : lead + s + len(chunk)], lead + s, False) for i, o in enumerate(long_others)
                    ]
                    out.append([mine, *theirs])
                else:
                    out.append([mine])
            return out

        return steps

    def lanes_alongside(d: int) -> Step:  # (the others evaluated our full chunks' positions)
        return [(i + 1, [5 + d], len(prompt) // 64 * 64 + d, True) for i in range(2)]

    scenario("lanes: full 64-chunks with 2 others' at once, decode alone", 4, 2048, 512, equal_chunks(False), 0, none)
    scenario("lanes: every chunk with 2 others' at once, decode alone", 4, 2048, 512, equal_chunks(True), 0, none)
    scenario(
        "lanes: full 64-chunks with 2 others' at once, decode with them",
        4,
        2048,
        512,
        equal_chunks(False),
        0,
        lanes_alongside,
    )
    scenario(
        "lanes: full 64-chunks with 2 others' 128 positions ahead", 4, 2048, 512, equal_chunks(False, 128), 0, none
    )

    # Our cells out of position order: fill, free a hole below, our prompt spills from the top into it.
    def hole_before() -> list[Step]:
        return [[(1, others[0] * 3, 0, False)], [(2, others[1], 0, False)]]

    ctx_steps = hole_before()
    scenario("shared ctx, cells after another sequence's (no hole)", 4, 2048, 512, chunks(64), 0, none, ctx_steps)


# Speculation (--speculate): per step, each sequence's (draft length, drafted tokens then kept). Sequence 0's
# logits, every row of every step (verification reads them all), are compared with its own alone.
ANY_LENGTH = [
    [(0, 0), (2, 1), (5, 5), (0, 0), (6, 2), (4, 4), (1, 0), (9, 3), (0, 0), (3, 3)],
    [(4, 0), (0, 0), (1, 1), (8, 8), (0, 0), (3, 1), (2, 2), (0, 0), (5, 0), (0, 0)],
    [(7, 7), (6, 1), (0, 0), (2, 0), (3, 3), (0, 0), (12, 4), (4, 4), (0, 0), (1, 1)],
]
FOUR_ROWS = [  # a draft of 3, 7, 11, ... tokens: its row and the token before it, a multiple of four rows
    [(0, 0), (3, 1), (7, 7), (0, 0), (15, 2), (3, 3), (0, 0), (11, 3), (0, 0), (3, 0)],
    [(3, 0), (0, 0), (7, 1), (11, 11), (0, 0), (3, 1), (7, 7), (0, 0), (3, 0), (0, 0)],
    [(7, 7), (3, 1), (0, 0), (3, 0), (3, 3), (0, 0), (15, 4), (7, 7), (0, 0), (3, 3)],
]


def speculation_scenarios(h: Harness, only: str) -> None:
    """Sequence 0 decodes with drafts, alone, then with two others drafting, under several batch layouts."""
    prompts = [tokenize(h.model, t * 3) for t in (TEXT, *OTHERS[:2])]
    lanes = 3

    def run(schedule: list[list[tuple[int, int]]], seqs: int, layout: str) -> list[np.ndarray]:
        ctx = h.context(lanes, lanes * 64, lanes * 64)
        for seq in range(seqs):  # prompts in 64-token chunks, one decode call each (as engine Lanes)
            p = prompts[seq]
            for s in range(0, len(p), 64):
                h.decode(ctx, [(seq, p[s : s + 64], s, False)], -1)
        pos = [len(prompts[seq]) for seq in range(seqs)]
        rows: list[np.ndarray] = []
        batch = LlamaBatch(n_tokens=lanes * 64, embd=0, n_seq_max=1, verbose=False)
        for step in range(len(schedule[0])):
            row_of = {seq: [11 + step, *range(400 + step, 400 + step + schedule[seq][step][0])] for seq in range(seqs)}
            if layout == "alone":
                calls = [[seq] for seq in range(seqs)]
            elif layout == "one call":
                calls = [list(range(seqs))]
            else:  # "plain apart": one-token rows together, rows with drafts together
                plain = [q for q in range(seqs) if len(row_of[q]) == 1]
                calls = [plain, [q for q in range(seqs) if q not in plain]]
            for call in [c for c in calls if c]:
                b, n, first = batch.batch, 0, -1
                for seq in call:
                    if seq == 0:
                        first = n
                    for j, token in enumerate(row_of[seq]):
                        b.token[n], b.pos[n], b.n_seq_id[n], b.seq_id[n][0] = token, pos[seq] + j, 1, seq
                        b.logits[n] = True
                        n += 1
                b.n_tokens = n
                assert C.llama_decode(ctx.ctx, b) == 0
                if first >= 0:
                    for j in range(len(row_of[0])):
                        pointer = C.llama_get_logits_ith(ctx.ctx, first + j)
                        rows.append(np.ctypeslib.as_array(pointer, shape=(h.n_vocab,)).copy())
            for seq in range(seqs):  # drafted tokens not kept leave the cache, as engine verify does
                keep = pos[seq] + 1 + schedule[seq][step][1]
                ctx.kv_cache_seq_rm(seq, keep, -1)
                pos[seq] = keep
        batch.close()
        ctx.close()
        return rows

    for name, schedule in (("drafts of any length", ANY_LENGTH), ("rows a multiple of four", FOUR_ROWS)):
        ref = run(schedule, 1, "alone")
        for layout in ("alone", "one call", "plain apart"):
            label = f"{name}, 2 others drafting, {layout}"
            if only not in label:
                continue
            got = run(schedule, 3, layout)
            same = "".join("=" if np.array_equal(a, b) else "x" for a, b in zip(ref, got, strict=True))
            diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, got, strict=True))
            print(f"{'IDENTICAL' if 'x' not in same else 'differs  '} max|Δ|={diff:.3g} rows {same}  {label}")


if __name__ == "__main__":
    main()
