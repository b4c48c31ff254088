"""An optional draft model per model (llama-server's `-md`): a small model of the same family guesses the
next tokens, and the target verifies them in its shared batch (engine.runtime.speculative).

Set with `enclave models set NAME --draft-model DRAFT` (`none` clears it). The draft must share the
target's vocabulary, checked as llama.cpp's `common_speculative_are_compatible` does: the same tokenizer
type, BOS/EOS handling, sizes within 128 tokens (padding) and the same text for every token from id 5.

At run time the draft model is loaded with its target: its own context, with one sequence per target
sequence. Before each target step, every sequence that speculates with it (not a seeded request: those
keep their drafts independent of timings and batches) gets its draft: the draft's cache is brought to
the sequence's tokens (cells past the common start removed: what verification rejected, or another
conversation's), everything new evaluated (the prompt, the first time), then one token per decode,
greedily, all sequences together in one `llama_decode` per drafted token. A greedy draft is a proposal
that is certain, so the target's verification rule keeps every token distributed as the target's own.

Prompt lookup and the draft model combine: while the sequence's last 8 tokens occurred before (a quote)
and lookup has predicted at least as well as the draft model, lookup drafts (it costs nothing); else the
draft model does. Its draft length is the existing cost model's choice (`best_draft_length`), with the
step's cost counting the draft model's decodes (measured, or before that the file-size ratio times the
target's step).
"""

from __future__ import annotations

import contextlib
import ctypes
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaBatch, LlamaContext, LlamaModel

from engine.errors import UserError
from engine.models.registry import ModelRecord, ModelRegistry
from engine.runtime.loaded import longest_prefix, resolve_gpu_layers
from engine.runtime.speculative import (
    DECAY,
    IDLE_DECAY,
    MAX_DRAFT,
    NGRAM_SIZES,
    PRIOR_WEIGHT,
    Drafter,
    StepCost,
    best_draft_length,
    room_for_draft,
)

if TYPE_CHECKING:
    from engine.runtime.batch import BatchedModel

# llama.cpp's compatibility rule (common/speculative.cpp): vocabularies may differ in size by this much
# (padding), and ids below VOCAB_CHECK_START (control tokens) are not compared by text.
VOCAB_MAX_SIZE_DIFFERENCE = 128
VOCAB_CHECK_START = 5
DRAFT_BATCH = 512  # the draft model evaluates a prompt this many tokens per decode
# A draft model's acceptance before anything is observed (a same-family draft keeps most greedy tokens).
MODEL_PRIOR_ACCEPTANCE = 0.6
NONE = "none"  # `--draft-model none` clears the setting


# -- configuration -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _vocabulary_of(record: ModelRecord) -> Iterator[LlamaModel]:
    """The model file's vocabulary alone (no weights: milliseconds)."""
    params = C.llama_model_default_params()
    params.vocab_only = True
    try:
        model = LlamaModel(path_model=str(record.path), params=params, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"llama.cpp could not read the vocabulary of {record.name!r}: {exc}") from None
    try:
        yield model
    finally:
        model.close()


def incompatibility(target: LlamaModel, draft: LlamaModel) -> str | None:
    """Why `draft`'s vocabulary cannot draft for `target`'s (None: it can), as llama.cpp decides it."""
    t, d = target.vocab, draft.vocab
    if C.llama_vocab_type(t) != C.llama_vocab_type(d):
        return "its tokenizer is of another type"
    for what, adds, token in (
        ("beginning", C.llama_vocab_get_add_bos, C.llama_vocab_bos),
        ("end", C.llama_vocab_get_add_eos, C.llama_vocab_eos),
    ):
        if adds(t) != adds(d) or (adds(t) and token(t) != token(d)):
            return f"its {what}-of-sequence token differs"
    n_t, n_d = C.llama_vocab_n_tokens(t), C.llama_vocab_n_tokens(d)
    if abs(n_t - n_d) > VOCAB_MAX_SIZE_DIFFERENCE:
        return f"its vocabulary has {n_d} tokens and the target's {n_t}"
    for i in range(VOCAB_CHECK_START, min(n_t, n_d)):
        here, there = C.llama_vocab_get_text(t, i), C.llama_vocab_get_text(d, i)
        if here != there:
            here_text, there_text = (text.decode("utf-8", errors="replace") for text in (here, there))
            return f"its token {i} is {there_text!r} where the target's is {here_text!r}"
    return None


def check_draft(target: ModelRecord, draft: ModelRecord) -> None:
    """UserError unless `draft` can be `target`'s draft model."""
    if draft.name == target.name:
        raise UserError(f"{target.name!r} cannot be its own draft model: name a smaller model of its family")
    if draft.sha256 == target.sha256:
        raise UserError(
            f"{draft.name!r} is the same file as {target.name!r}: a draft model is a smaller model of its family"
        )
    if draft.adapter is not None:
        raise UserError(f"{draft.name!r} is an adapted model; a draft model must be a plain model file")
    with _vocabulary_of(target) as t, _vocabulary_of(draft) as d:
        reason = incompatibility(t, d)
    if reason is not None:
        raise UserError(
            f"{draft.name!r} cannot draft for {target.name!r}: {reason}. A draft model must share the target's "
            "vocabulary (a smaller model of the same family)"
        )


def set_draft_model(registry: ModelRegistry, name: str, draft: str) -> ModelRecord:
    """Give model `name` the draft model `draft` ("none": no draft model), refusing one that cannot draft."""
    target = registry.get(name)
    if draft == NONE:
        return registry.update_settings(name, draft_model=None)
    check_draft(target, registry.get(draft))
    return registry.update_settings(name, draft_model=draft)


def draft_record(registry: ModelRegistry, record: ModelRecord) -> ModelRecord | None:
    """The draft model `record` loads with (None: none), or one clear UserError when it is gone."""
    name = record.settings.draft_model
    if name is None or record.settings.speculation == "off":
        return None
    try:
        return registry.get(name)
    except UserError:
        raise UserError(
            f"model {record.name!r} drafts with {name!r}, which is no longer registered: "
            f"`enclave models set {record.name} --draft-model none` (or import it again)"
        ) from None


# -- one sequence's choice between prompt lookup and the draft model ---------------------------------


@dataclass
class AssistedDrafter(Drafter):
    """Prompt lookup while a long n-gram matches and predicts well, else the draft model's proposal (made
    for the whole batch before the step, see `DraftModel.prepare`)."""

    proposal: list[int] | None = None  # the draft model's tokens for this step; None: prompt lookup drafts
    from_model: bool = False  # the last draft came from the draft model
    model_kept_weight: float = 0.0
    model_missed_weight: float = 0.0

    @property
    def model_acceptance(self) -> float:
        """The estimated chance that a token the draft model drafts is kept."""
        kept = self.model_kept_weight + MODEL_PRIOR_ACCEPTANCE * PRIOR_WEIGHT
        return kept / (kept + self.model_missed_weight + (1 - MODEL_PRIOR_ACCEPTANCE) * PRIOR_WEIGHT)

    def prefers_lookup(self) -> bool:
        """Whether prompt lookup drafts this step: the last long n-gram occurred before, and lookup has
        predicted at least as well as the draft model."""
        self._extend_index()
        n = NGRAM_SIZES[0]
        history = self.history
        matched = len(history) > n and tuple(history[-n:]) in self.index
        return matched and self.acceptance >= self.model_acceptance

    def model_idle(self) -> None:
        """The draft model did not draft this step: its estimate fades towards the prior, to try again."""
        self.model_kept_weight *= IDLE_DECAY
        self.model_missed_weight *= IDLE_DECAY

    def draft(self, limit: int, cost: Callable[[int], float], others: float = 0.0) -> list[int]:
        """The draft model's proposal for this step, else a prompt-lookup draft."""
        proposal, self.proposal = self.proposal, None
        self.from_model = proposal is not None
        if proposal is None:
            return super().draft(limit, cost, others)
        return proposal[: max(0, limit)]

    def record(self, drafted: int, kept: int) -> None:
        """Adapt the estimate of whichever drafted (see `Drafter.record`)."""
        if not self.from_model:
            super().record(drafted, kept)
            return
        if drafted == 0:
            return
        self.drafted += drafted
        self.accepted += kept
        self.model_kept_weight = self.model_kept_weight * DECAY + kept
        self.model_missed_weight = self.model_missed_weight * DECAY + (kept < drafted)


def _with_drafting(verify: Callable[[int], float], draft_step: float) -> Callable[[int], float]:
    """A step's cost with k drafted tokens: the target's verification plus the draft model's k decodes."""
    return lambda k: verify(k) + k * draft_step


# -- the draft model beside its target ---------------------------------------------------------------


class DraftModel:
    """A draft model loaded with its target: a sequence per target sequence, greedy drafts for all of them
    in one decode per drafted token. Only the target's worker thread calls it."""

    def __init__(self, record: ModelRecord, target: BatchedModel) -> None:
        self.record = record
        params = C.llama_model_default_params()
        params.n_gpu_layers = resolve_gpu_layers(record.settings.gpu_layers)
        try:
            self.model = LlamaModel(path_model=str(record.path), params=params, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"llama.cpp could not load draft model {record.name!r}: {exc}") from None
        reason = incompatibility(target.model, self.model)
        if reason is not None:
            self.model.close()
            raise UserError(f"{record.name!r} cannot draft for {target.record.name!r}: {reason}")
        ctx_params = C.llama_context_default_params()
        ctx_params.n_ctx = target.n_ctx_seq * target.parallel
        ctx_params.n_batch = ctx_params.n_ubatch = self.n_batch = min(DRAFT_BATCH, target.n_ctx_seq)
        ctx_params.n_seq_max = target.parallel
        ctx_params.n_threads = ctx_params.n_threads_batch = target.threads
        ctx_params.kv_unified = True  # (one buffer: see BatchedModel)
        ctx_params.swa_full = True  # removing a rejected draft's cells needs the full SWA cache
        try:
            self.ctx = LlamaContext(model=self.model, params=ctx_params, verbose=False)
        except (ValueError, RuntimeError) as exc:
            self.model.close()
            raise UserError(f"llama.cpp could not make a context for draft model {record.name!r}: {exc}") from None
        self.n_ctx_seq = self.ctx.n_ctx() // target.parallel
        self.batch = LlamaBatch(n_tokens=self.n_batch, embd=0, n_seq_max=1, verbose=False)
        self.n_vocab_draft = self.model.n_vocab()
        self.n_vocab = min(target.n_vocab, self.n_vocab_draft)  # it only drafts tokens the target has
        # Before the draft model's decodes are measured, one costs the target's times the size ratio.
        self.size_ratio = record.file_size / max(1, target.record.file_size)
        self.held: dict[int, list[int]] = {}  # target sequence id → the tokens the draft's cache holds for it
        self.step_cost = StepCost()
        self.decodes = 0  # draft decodes run
        self.proposed = 0  # tokens the draft model proposed
        self.memory_bytes = self.model.size() + self.ctx.get_state_size()

    def prepare(self, target: BatchedModel) -> None:
        """Before a target step: the draft model's proposal for every sequence that drafts with it now."""
        candidates = []
        for request in target.active:
            speculation = request.speculation
            if (
                speculation is None
                or not isinstance(speculation.drafter, AssistedDrafter)
                or request.solo
                or request.prefilling
                or request.next_token is None
            ):
                continue
            speculation.drafter.proposal = None
            if not speculation.drafter.prefers_lookup():
                candidates.append((request, speculation.drafter))
        if not candidates:
            return
        decoding = target.shared_decoding
        step = self._step_seconds(target, len(candidates))
        wants: list[tuple[AssistedDrafter, int, list[int], int]] = []
        for request, drafter in candidates:
            assert request.next_token is not None
            context = [*request.slot.tokens, request.next_token]
            limit = min(room_for_draft(target, request), MAX_DRAFT, self.n_ctx_seq - len(context))
            k = best_draft_length(
                drafter.model_acceptance,
                _with_drafting(target._draft_cost(request, decoding), step),
                limit,
                target.draft_others(request),
            )
            if k <= 0:
                drafter.model_idle()
                drafter.proposal = []
                continue
            wants.append((drafter, request.slot.seq_id, context, k))
        if not wants:
            return
        drafts = self._propose([(seq, context, k) for _, seq, context, k in wants])
        for (drafter, *_), draft in zip(wants, drafts, strict=True):
            drafter.proposal = draft
            self.proposed += len(draft)

    def _step_seconds(self, target: BatchedModel, n_sequences: int) -> float:
        """One draft decode of `n_sequences` tokens, in the unit of the target's step cost."""
        if self.step_cost.seconds and target.step_cost.seconds:
            return self.step_cost.of(n_sequences)
        return target.step_cost.of(n_sequences) * self.size_ratio

    def _propose(self, wants: list[tuple[int, list[int], int]]) -> list[list[int]]:
        """Greedy drafts of `k` tokens after `context` for each (sequence, context, k), all in one batch."""
        drafts: list[list[int]] = [[] for _ in wants]
        pending: list[list[int]] = []
        for seq, context, _ in wants:
            keep = min(longest_prefix(self.held.get(seq, []), context), len(context) - 1)
            if not self.ctx.kv_cache_seq_rm(seq, keep, -1):  # (a recurrent draft: start the sequence over)
                self.ctx.kv_cache_seq_rm(seq, 0, -1)
                keep = 0
            self.held[seq] = context[:keep]
            pending.append(context[keep:])
        # What each sequence's cache lacks (after verification: the kept tokens and the next; the first
        # time: the prompt), its last token with logits: the first drafted token.
        done = [0] * len(wants)
        while any(done[i] < len(pending[i]) for i in range(len(wants))):
            n, firsts = 0, []
            for i, (seq, _, _) in enumerate(wants):
                while done[i] < len(pending[i]) and n < self.n_batch:
                    last = done[i] == len(pending[i]) - 1
                    self._add(n, seq, pending[i][done[i]], last)
                    if last:
                        firsts.append((i, n))
                    done[i] += 1
                    n += 1
            if not self._decode(n):
                return [[] for _ in wants]
            for i, index in firsts:
                drafts[i].append(self._argmax(index))
        # Then one token per sequence per decode, until each has its k (or drafted an end of generation).
        for length in range(1, max(k for _, _, k in wants)):
            live = [
                i
                for i, (_, _, k) in enumerate(wants)
                if len(drafts[i]) == length < k and not C.llama_vocab_is_eog(self.model.vocab, drafts[i][-1])
            ]
            if not live:
                break
            for n, i in enumerate(live):
                self._add(n, wants[i][0], drafts[i][-1], True)
            if not self._decode(len(live)):
                return [[] for _ in wants]
            for n, i in enumerate(live):
                drafts[i].append(self._argmax(n))
        return drafts

    def _add(self, n: int, seq: int, token: int, logits: bool) -> None:
        batch = self.batch.batch
        held = self.held[seq]
        batch.token[n] = token
        batch.pos[n] = len(held)
        batch.n_seq_id[n] = 1
        batch.seq_id[n][0] = seq
        batch.logits[n] = logits
        held.append(token)

    def _decode(self, n: int) -> bool:
        """Decode the batch's first `n` tokens; on failure forget every sequence (drafting is best-effort)."""
        self.batch.batch.n_tokens = n
        started = time.perf_counter()
        code = C.llama_decode(self.ctx.ctx, self.batch.batch)
        self.step_cost.record(n, time.perf_counter() - started)
        self.decodes += 1
        if code != 0:
            C.llama_memory_clear(C.llama_get_memory(self.ctx.ctx), True)
            self.held.clear()
            return False
        return True

    def _argmax(self, index: int) -> int:
        pointer = C.llama_get_logits_ith(self.ctx.ctx, index)
        row = ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float))
        logits = np.ctypeslib.as_array(row, shape=(self.n_vocab_draft,))
        return int(np.argmax(logits[: self.n_vocab]))

    def close(self) -> None:
        """Free the draft's context and weights."""
        self.batch.close()
        self.ctx.close()
        self.model.close()
