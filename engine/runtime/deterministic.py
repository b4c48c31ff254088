"""Deterministic requests decoding together, in a context of their own (`Lanes`).

A deterministic request (a seed, or a key's "reproducible" rule) must give the same tokens whatever the
cache holds and whatever else runs. Measured on llama.cpp's CPU backend (bench/batch_invariance.py, logits
compared bit for bit on the demo model), one sequence's logits stay exactly the same whatever other
sequences share its batches, on these conditions:
- its KV cells sit in a stream of its own from cell 0 (a unified cache interleaves sequences' cells, and
  the SIMD grouping of attention's sums follows the cell index), and flash attention is off (with it,
  the logits changed with the size of the prompt's chunks);
- a decode call of next tokens has at most three rows: llama.cpp's CPU "repacked" weight layouts compute
  a batch's rows in groups of four with one kernel and the rest one by one with another, so with fewer
  than four every row takes the one-by-one kernel, as alone (with unrepacked weights any count is
  invariant, but those kernels made a decode step several times slower; padding every step to four
  rows passed with three streams and failed with four, not understood yet);
- its prompt is evaluated in chunks of a fixed size from position 0 (`CHUNK`: a chunk's attention
  depends on the chunk's length); whole chunks of several requests may share a decode call (each
  sequence's rows are then cut and grouped as alone), a shorter last chunk goes in a call of its own;
- its weights are quantized (Q4_K, Q6_K, Q5_0, Q8_0 measured): llama.cpp's CPU kernels for float weights
  (F32 measured, F16 and BF16 take the same path) give a row slightly different results by batch size.
The next tokens of all the deterministic requests running then go into one batch: up to `STREAMS` run at
once instead of one after another. A token with drafts (guessed from the request's own tokens, so the
same every time) is decoded alone: with a stream per sequence llama.cpp splits a batch into micro-batches
of as many tokens from each sequence, which would cut its rows differently in company (bench/
batch_invariance.py --speculate: drafts verified in one shared decode change the logits; with every
drafting row a multiple of four tokens they stay the same only until a sequence has had drafts rejected).
A drafted step therefore costs a decode call of its own, which the other lanes wait for: a lane drafts by
`lane_draft_cost`, a fixed cost (its drafts must not depend on timings) that charges it that call. On a GPU
(different kernels by batch shape) one request runs at a time, as before, and so they do for a model
with float weights (`batch_invariant`).

`BatchedModel` (engine.runtime.batch) starts a deterministic request in a lane (`lane_request`) and, after
each step of its shared batch, runs one step of the lanes (`step`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaBatch, LlamaContext, LlamaModel

from engine.errors import UserError
from engine.runtime.adapters import apply_lora
from engine.runtime.candidates import Chain
from engine.runtime.loaded import StopFilter, longest_prefix
from engine.runtime.requests import Emit, Request, Slot
from engine.runtime.types import CancelToken, GenerationParams

if TYPE_CHECKING:
    from engine.runtime.batch import BatchedModel

# A deterministic request's prompt is evaluated in chunks of this many tokens (a fixed size: the same
# prompt is always split the same way, whatever the model's batch size).
CHUNK = 64
# Deterministic requests decoding together at most (each holds a KV stream of the model's context size;
# below four rows a step stays on one kernel, see the module's docstring).
STREAMS = 3
# A decode's time in the lanes' context by its tokens, in one-token steps: the demo model on a quiet CPU
# (2026-12-07, AVX2, 2 threads, minimum of 12; 1 token 17.6 ms). Rows in fours are cheap (the repacked
# weights' 4-row kernel): 4 tokens cost less than 3. Past the last size, the average slope from 1 token.
STEP_COST = ((1, 1.0), (2, 1.72), (3, 2.87), (4, 2.23), (5, 3.33), (8, 3.18), (9, 4.36), (16, 5.44), (17, 6.71))
# llama.cpp's file types whose matrices are floats (LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_BF16).
FLOAT_FILE_TYPES = frozenset({0, 1, 32})


def batch_invariant(metadata: dict[str, str], gpu: bool) -> bool:
    """Whether a sequence's logits are the same whatever shares its batches, under the conditions of the
    module's docstring: on the CPU with quantized weights (a file type the metadata does not give: no)."""
    file_type = metadata.get("general.file_type", "")
    return not gpu and file_type.isdigit() and int(file_type) not in FLOAT_FILE_TYPES


def step_cost(n_tokens: int) -> float:
    """A decode of `n_tokens` tokens, in one-token steps (STEP_COST, interpolated; no tokens, no call)."""
    if n_tokens <= 0:
        return 0.0
    points = STEP_COST
    for (n0, t0), (n1, t1) in zip(points, points[1:], strict=False):
        if n_tokens <= n1:
            return t0 + (t1 - t0) * (n_tokens - n0) / (n1 - n0)
    (n0, t0), (n1, t1) = points[0], points[-1]
    return t1 + (t1 - t0) / (n1 - n0) * (n_tokens - n1)


def lane_draft_cost(k: int, lanes: int = STREAMS) -> float:
    """What a lane's step costs with k drafted tokens, for `Drafter.draft`, in a context of `lanes` lanes
    (Lanes.streams: fixed by the model, not by the load) all decoding: without a draft its token shares a
    call with the others' (its share: 1/lanes of that call); with one, the others' call shrinks by a row and
    it decodes alone. Scaled so that a draft passes `best_draft_length`'s test exactly when the lanes
    together make more tokens per unit of time with it than without (the others' tokens counted):
    (others + E) / (call(others) + call(1 + k)) > (others + 1) / call(others + 1)."""
    others = max(0, lanes - 1)
    share = step_cost(others + 1) / (others + 1)
    if k <= 0:
        return share
    return step_cost(1 + k) + step_cost(others) - others * share


@dataclass
class Lane:
    """One deterministic sequence: its stream's tokens, and the prompt start evaluated in CHUNK-sized chunks."""

    seq_id: int
    busy: bool = False
    # The prompt tokens the stream holds as evaluated in CHUNK-sized chunks from position 0: a next request
    # with the same start reuses them up to a chunk boundary (the same arithmetic, the same cells).
    chunked: list[int] = field(default_factory=list)


class Lanes:
    """The context deterministic requests run in: `streams` sequences, each in a KV stream of its own."""

    def __init__(
        self,
        shared: LlamaModel,
        *,
        n_ctx_seq: int,
        threads: int,
        invariant: bool,
        parallel: int,
        adapter: bytes | None,
    ) -> None:
        self.streams = max(1, min(STREAMS, parallel)) if invariant else 1
        model = shared
        ctx_params = C.llama_context_default_params()
        ctx_params.n_ctx = n_ctx_seq * self.streams
        ctx_params.n_batch = ctx_params.n_ubatch = self.streams * CHUNK
        ctx_params.n_seq_max = self.streams
        ctx_params.n_threads = ctx_params.n_threads_batch = threads
        ctx_params.kv_unified = not invariant
        if invariant:
            ctx_params.flash_attn_type = 0  # off (see the module's docstring)
        ctx_params.swa_full = True
        try:
            self.ctx = LlamaContext(model=model, params=ctx_params, verbose=False)
        except (ValueError, RuntimeError) as exc:
            self.close()
            raise UserError(f"llama.cpp could not make a context for a deterministic request: {exc}") from None
        if adapter is not None:
            apply_lora(model.model, self.ctx.ctx, adapter)
        self.batch = LlamaBatch(n_tokens=ctx_params.n_batch, embd=0, n_seq_max=1, verbose=False)
        self.lanes = [Lane(seq_id) for seq_id in range(self.streams)]

    @property
    def has_free_lane(self) -> bool:
        """Whether another deterministic request can start now."""
        return any(not lane.busy for lane in self.lanes)

    def take(self, prompt: list[int]) -> tuple[Lane, int]:
        """A free lane for `prompt` (the one whose chunks match it best) and how many of its tokens that
        lane keeps: whole chunks only, so what follows is evaluated exactly as from a cold start."""
        free = [lane for lane in self.lanes if not lane.busy]
        lane = max(free, key=lambda candidate: longest_prefix(candidate.chunked, prompt))
        reuse = min(longest_prefix(lane.chunked, prompt), len(prompt) - 1)
        reuse -= reuse % CHUNK
        self.ctx.kv_cache_seq_rm(lane.seq_id, reuse, -1)
        lane.chunked = prompt[:reuse]
        lane.busy = True
        return lane, reuse

    def decode(self, rows: Sequence[tuple[int, Sequence[int], int, int]]) -> int:
        """One llama_decode of `rows`: (sequence id, tokens, first position, logits from this token index on);
        llama.cpp's return code."""
        batch = self.batch.batch
        n = 0
        for seq_id, tokens, start, logits_from in rows:
            for i, token in enumerate(tokens):
                batch.token[n] = token
                batch.pos[n] = start + i
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = seq_id
                batch.logits[n] = i >= logits_from
                n += 1
        batch.n_tokens = n
        return int(C.llama_decode(self.ctx.ctx, batch))

    def forget(self, lane: Lane) -> None:
        """Empty a lane's stream (after a failed decode its cells say nothing reliable)."""
        self.ctx.kv_cache_seq_rm(lane.seq_id, 0, -1)
        lane.chunked = []

    def close(self) -> None:
        """Free the context."""
        if hasattr(self, "batch"):
            self.batch.close()
        if hasattr(self, "ctx"):
            self.ctx.close()


def lane_request(
    lanes: Lanes,
    prompt: list[int],
    params: GenerationParams,
    cancel: CancelToken,
    emit: Emit,
    queued_s: float,
    sampler: Chain | None,
) -> Request:
    """A deterministic request in a free lane. It keeps the cells of the prompt start the lane's previous
    request evaluated, up to a CHUNK boundary: from there it evaluates the same chunks at the same positions
    after the same cells as a cold start would, so the logits are the same."""
    lane, reuse = lanes.take(prompt)
    slot = Slot(lane.seq_id, tokens=prompt[:reuse], busy=True)
    request = Request(
        params, cancel, emit, slot, prompt, reuse, sampler, queued_s, prefilled=reuse, solo=True, lane=lane
    )
    request.stop_filter = StopFilter(params.stop)
    return request


def step(model: BatchedModel) -> None:
    """One step of the deterministic requests: a fixed-size chunk of each one's prompt (whole chunks of
    several in one decode call, a shorter last chunk in a call of its own), then the next token (and
    drafts) of all the others together in one decode call."""
    decoding = [r for r in model.active if r.solo and not r.prefilling and r.next_token is not None]
    prefilling = [r for r in model.active if r.solo and r.prefilling]
    whole = [r for r in prefilling if len(r.prompt) - r.prefilled >= CHUNK]
    if whole:
        _prefill(model, whole)
    for request in prefilling:
        if request not in whole:
            _prefill(model, [request])
    if not decoding:
        return
    rows: list[tuple[int, list[int], int, int]] = []
    together: list[Request] = []
    for request in decoding:
        assert request.next_token is not None
        tokens, request.next_token = [request.next_token], None
        if request.speculation is not None:
            # Drafts depend only on the request's own tokens: the same every time.
            request.speculation.draft = model._draft(request, CHUNK - 1, model._draft_cost(request, 1))
            tokens += request.speculation.draft
        row = (request.slot.seq_id, tokens, len(request.slot.tokens), 0)
        request.slot.tokens.extend(tokens)
        if len(tokens) > 1:
            # A token with drafts goes alone: with a KV stream per sequence, llama.cpp splits a batch into
            # micro-batches of as many tokens from each sequence, so in company its rows would be split
            # differently than alone (measured: the logits then differ).
            request.batch_index = 0
            if _decode(model, [request], [row]):
                model._sample(request)
            continue
        rows.append(row)
        request.batch_index = len(together)
        together.append(request)
    if together and _decode(model, together, rows):
        for request in together:
            model._sample(request)


def _prefill(model: BatchedModel, requests: list[Request]) -> None:
    """Evaluate the next chunk of each request's prompt in one decode call, and sample those it finishes.

    Several requests share a call only with whole chunks: llama.cpp then cuts the micro-batch into as many
    tokens of each sequence, every sequence's rows start at a multiple of four (the repacked kernels' row
    groups) and each row gets the same arithmetic as alone (bench/batch_invariance.py, `lanes:` scenarios,
    bit for bit); a shorter last chunk in company is cut differently and its logits change.
    """
    rows: list[tuple[int, list[int], int, int]] = []
    offsets: list[int] = []
    n = 0
    for request in requests:
        assert request.lane is not None
        tokens = request.prompt[request.prefilled : request.prefilled + CHUNK]
        start = request.prefilled
        request.prefilled += len(tokens)
        model.solo_evaluated += len(tokens)
        request.slot.tokens.extend(tokens)
        rows.append((request.lane.seq_id, tokens, start, len(tokens) - 1 if not request.prefilling else len(tokens)))
        offsets.append(n)
        n += len(tokens)
    if not _decode(model, requests, rows):
        return
    now = time.perf_counter()
    for request, offset, (_, tokens, _, _) in zip(requests, offsets, rows, strict=True):
        assert request.lane is not None
        request.lane.chunked = request.prompt[: request.prefilled]
        if not request.prefilling:
            request.batch_index = offset + len(tokens) - 1
            request.prompt_done_at = now
            model._sample(request)


def _decode(model: BatchedModel, requests: list[Request], rows: list[tuple[int, list[int], int, int]]) -> bool:
    """Decode `rows` in the lanes' context; on failure the requests are stopped (False)."""
    code = model._solo.decode(rows)
    if code == 0:
        return True
    for request in requests:
        assert request.lane is not None
        model._solo.forget(request.lane)
        request.emit(UserError(f"llama.cpp could not decode (code {code}); the request was stopped"))
        model._release(request, keep_cache=False)
    return False
