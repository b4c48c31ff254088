"""Continuous batching over one llama.cpp context (`BatchedModel`).

Concurrent requests on one model decode together: every step builds one `llama_decode` batch with the
next token of each running sequence plus a chunk of a newcomer's prompt, so running streams keep
flowing while a new prompt is processed. Each request has its own sequence id and its own native
sampler chain. When a request ends, its sequence keeps its KV state: a returning conversation is routed
back to the sequence whose tokens share the longest prefix with its prompt (or to a state saved in RAM,
LRU within a budget) and evaluates only what is new. A new prompt that starts like one another sequence
holds or is evaluating (a shared system prompt) shares those cells instead of evaluating them again.
What a returning conversation will send after the reply (the reply's last token, the chat template's
change of turn, or for a raw transcript the framing its own earlier turns began with) is evaluated
ahead, when the model has nothing else to do. Once the running requests have settled, idle sequences'
states move to RAM and the running ones to the start of the cache, since attention visits every
occupied cell up to the last (see `cache_moves.compact`).

A deterministic request (a seed, or a key's "reproducible" rule) gives the same tokens whatever the cache
holds and whatever else runs: llama.cpp's logits for a token depend on how its prompt was split into
batches, on which KV cells hold its sequence and on the weights' kernels. Such requests therefore run in a
context of their own (`engine.runtime.deterministic.Lanes`, made on first use), under the conditions that
make a sequence's logits independent of the others': they decode together there, sampled by chains
seeded from the requests.

This module is the decode loop: admission, one step, sampling and finishing. Beside it in engine.runtime:
the records of requests and sequences (`requests`), where KV states live (`cache_moves`), text ↔ tokens
(`vocabulary`), reading logits (`logits`), the deterministic lanes (`deterministic`) and drafts
(`speculative`, `draft_model`).

Only the worker thread that created a BatchedModel may call it (llama.cpp contexts are not thread-safe).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np
from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaBatch, LlamaContext, LlamaModel

from engine.errors import UserError
from engine.models.memory import DEFAULT_RAM_CACHE_BYTES, context_per_sequence, micro_batch
from engine.models.registry import ModelRecord
from engine.runtime import cache_moves, deterministic, handoff
from engine.runtime.adapters import apply_lora
from engine.runtime.cache_moves import MIN_TOKENS_WORTH_SAVING, MIN_TOKENS_WORTH_SHARING
from engine.runtime.candidates import Chain, sampler_chain
from engine.runtime.deterministic import Lanes, batch_invariant, lane_draft_cost
from engine.runtime.draft_model import AssistedDrafter, DraftModel
from engine.runtime.loaded import (
    LoadReport,
    StopFilter,
    longest_prefix,
    resolve_gpu_layers,
)
from engine.runtime.logits import LogitRows, greedy, token_logprob
from engine.runtime.requests import Emit, Request, Saved, Slot
from engine.runtime.speculative import (
    Distribution,
    Drafter,
    Speculation,
    StepCost,
    prior_cost,
    room_for_draft,
    verify,
)
from engine.runtime.types import CancelToken, Chunk, GenerationParams, PromptTooLong, TokenLogprob
from engine.runtime.vocabulary import TokenText

PREFILL_CHUNK_WHILE_DECODING = 128
# A prompt evaluated while nothing decodes goes into llama.cpp in batches this large (llama-server's default
# logical batch), which llama.cpp splits into micro-batches of the model's batch size itself: a lone long
# prompt takes a few decode calls, not one per micro-batch.
LOGICAL_BATCH = 2048
# Work ahead per step, at most: a request arriving meanwhile waits for that step (a template's change of
# turn is 2-6 tokens; more would be an unusual template, evaluated over several steps).
AHEAD_PER_STEP = 16


def plain_greedy(params: GenerationParams) -> bool:
    """Whether the reply is simply the most likely token each time (bias aside).

    Such requests skip llama.cpp's sampler chain, which copies the whole vocabulary into a candidate
    array for every token: on a 262k-token vocabulary that is about a millisecond per token and
    sequence, a tenth of a batched decoding step on a small model. The argmax over the logits is exact.
    """
    return (
        params.temperature == 0.0
        and params.grammar is None
        and params.repeat_penalty == 1.0
        and params.frequency_penalty == 0.0
        and params.presence_penalty == 0.0
    )


class BatchedModel(TokenText):
    """A model with `parallel` sequences decoding together in one context."""

    def __init__(
        self,
        record: ModelRecord,
        *,
        ram_cache_bytes: int = DEFAULT_RAM_CACHE_BYTES,
        on_progress: Callable[[float], None] | None = None,
        adapter: bytes | None = None,
        draft: ModelRecord | None = None,
    ) -> None:
        settings = record.settings
        self.record = record
        self.parallel = settings.parallel
        self.n_ctx_seq = context_per_sequence(record)
        threads = self.threads = settings.threads or max(1, os.cpu_count() or 1)
        gpu_layers = self.gpu_layers = resolve_gpu_layers(settings.gpu_layers)
        self._adapter = adapter
        self.n_ubatch = micro_batch(record)  # (what the memory estimate counts on)
        self.n_batch = max(self.n_ubatch, min(LOGICAL_BATCH, self.n_ctx_seq))
        started = time.perf_counter()
        model_params = C.llama_model_default_params()
        model_params.n_gpu_layers = gpu_layers
        if on_progress is not None:
            # llama.cpp reports how much of the file it has read (0…1); returning False would abort the load.
            def report(fraction: float, _user_data: object) -> bool:
                on_progress(float(fraction))
                return True

            progress = C.llama_progress_callback(report)  # referenced until the load returns
            model_params.progress_callback = progress
        ctx_params = C.llama_context_default_params()
        ctx_params.n_ctx = self.n_ctx_seq * self.parallel
        ctx_params.n_batch = self.n_batch
        ctx_params.n_ubatch = self.n_ubatch
        ctx_params.n_seq_max = self.parallel
        ctx_params.n_threads = threads
        ctx_params.n_threads_batch = threads
        # One KV buffer shared by all sequences. With a stream per sequence, llama.cpp puts only sequences
        # with consecutive ids, in order, into one micro-batch: once requests finish out of order, every
        # step would run the whole graph two to four times (measured: 57 → 90 ms per 4-token step).
        ctx_params.kv_unified = True
        ctx_params.swa_full = True  # partial removal (prefix reuse) needs the full SWA cache
        try:
            self.model = LlamaModel(path_model=str(record.path), params=model_params, verbose=False)
            self.ctx = LlamaContext(model=self.model, params=ctx_params, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"llama.cpp could not load model {record.name!r}: {exc}") from None
        if adapter is not None:  # an adapted model: its LoRA on top of the base weights
            apply_lora(self.model.model, self.ctx.ctx, adapter)
        self.n_ctx_seq = self.ctx.n_ctx() // self.parallel
        # A recurrent state (Mamba, RWKV, hybrids) is not one cell per position: a sequence cannot take
        # another's first n tokens from it.
        self.shares_prefixes = not (
            C.llama_model_is_recurrent(self.model.model) or C.llama_model_is_hybrid(self.model.model)
        )
        self.batch = LlamaBatch(n_tokens=self.n_batch, embd=0, n_seq_max=1, verbose=False)
        self._batch_outputs = 0  # the tokens of the batch last filled that get logits (see _outputs)
        self.vocab = self.model.vocab
        self.n_vocab = self.model.n_vocab()
        self.metadata = self.model.metadata()
        self.slots = [Slot(seq_id) for seq_id in range(self.parallel)]
        self.saved: OrderedDict[int, Saved] = OrderedDict()
        self._saved_ids = 0
        self.ram_cache_bytes = ram_cache_bytes
        self.active: list[Request] = []
        self._admitted = 0
        self._compacted_for: frozenset[int] = frozenset()  # the running requests the cache was tidied for
        self._logit_rows = LogitRows(self.n_vocab)
        self.speculation = settings.speculation  # "lookup" or "off"
        self.drafted = self.kept = 0  # drafted tokens verified, and how many of them were kept
        self.step_cost = StepCost()  # decode time by batch size: what a draft costs (speculative.py)
        self.solo_evaluated = 0  # prompt tokens deterministic requests evaluated (the rest were reused)
        self._pieces: dict[int, bytes] = {}  # token → its text's bytes (at most the vocabulary)
        self.draft_model = self._load_draft(draft)
        memory = self.model.size() + self.ctx.get_state_size()
        memory += self.draft_model.memory_bytes if self.draft_model is not None else 0
        self.report = LoadReport(time.perf_counter() - started, memory, self.n_ctx_seq, gpu_layers, threads)

    def _load_draft(self, draft: ModelRecord | None) -> DraftModel | None:
        """The draft model that drafts beside this one (engine.runtime.draft_model), if it has one."""
        if draft is None or self.speculation == "off":
            return None
        try:
            return DraftModel(draft, self)
        except BaseException:
            self.batch.close()
            self.ctx.close()
            self.model.close()
            raise

    @property
    def n_ctx(self) -> int:
        """Context window of one sequence, in tokens."""
        return self.n_ctx_seq

    @property
    def has_free_slot(self) -> bool:
        """Whether another request can start now."""
        return any(not slot.busy for slot in self.slots)

    def can_admit(self, params: GenerationParams) -> bool:
        """Whether a request with `params` can start now (deterministic ones in a free lane)."""
        if params.deterministic:
            return "_solo" not in self.__dict__ or self._solo.has_free_lane
        return self.has_free_slot

    @property
    def has_work_ahead(self) -> bool:
        """Whether an idle sequence has an expected continuation left to evaluate."""
        return any(slot.ahead and not slot.busy for slot in self.slots)

    # -- admission: slot choice and prefix reuse ----------------------------------------------

    def admit(
        self,
        prompt: list[int],
        params: GenerationParams,
        cancel: CancelToken,
        emit: Emit,
        queued_s: float,
        *,
        turn_change: Sequence[int] = (),
    ) -> None:
        """Start serving a request in a free slot (the caller checked `has_free_slot`).

        `turn_change`: the tokens a returning conversation sends after the reply (see `Prompt`).
        """
        if not prompt:
            raise UserError("the prompt is empty")
        if len(prompt) >= self.n_ctx_seq:
            raise PromptTooLong(
                f"the prompt is {len(prompt)} tokens but the context holds {self.n_ctx_seq}; "
                "shorten it or raise the model's context size"
            )
        if any(token >= self.n_vocab for token, _ in params.logit_bias):
            raise UserError(f"logit_bias names a token id outside this model's vocabulary (0…{self.n_vocab - 1})")
        if any(token < 0 or token >= self.n_vocab for token in prompt):
            raise UserError(f"the prompt has a token id outside this model's vocabulary (0…{self.n_vocab - 1})")
        # First: a bad grammar must not leave a slot half taken.
        sampler = None if plain_greedy(params) else self._sampler(params, prompt)
        if params.deterministic:
            request = deterministic.lane_request(self._solo, prompt, params, cancel, emit, queued_s, sampler)
            request.speculation = self._speculation_for(params, prompt)
            self._admitted += 1
            request.serial = self._admitted
            self.active.append(request)
            return
        slot, shared = cache_moves.choose_slot(self, prompt)
        reuse = min(shared, len(prompt) - 1)
        if len(slot.tokens) - reuse >= MIN_TOKENS_WORTH_SAVING and reuse < len(slot.tokens):
            cache_moves.save(self, slot)  # the tail about to be dropped may be another conversation's
        slot.turns = slot.turns.after(slot.tokens, prompt)
        if not self.ctx.kv_cache_seq_rm(slot.seq_id, reuse, -1):
            reuse = 0
            self.ctx.kv_cache_seq_rm(slot.seq_id, 0, -1)
        slot.tokens = slot.tokens[:reuse]
        slot.ahead = []
        slot.busy = True
        reuse = cache_moves.copy_shared_prefix(self, slot, prompt, reuse)
        request = Request(
            params, cancel, emit, slot, prompt, reuse, sampler, queued_s, tuple(turn_change), prefilled=reuse
        )
        request.stop_filter = StopFilter(params.stop)
        self._admitted += 1
        request.serial = self._admitted
        # A request admitted with this one (or just before) may be evaluating the same start right now.
        for other in self.active if self.shares_prefixes else ():
            if other.solo:
                continue
            shared = min(longest_prefix(other.prompt, prompt), len(prompt) - 1)
            if other.prefilling and shared - reuse >= MIN_TOKENS_WORTH_SHARING and shared > request.shared_with_leader:
                request.leader, request.shared_with_leader = other, shared
        request.speculation = self._speculation_for(params, prompt)
        self.active.append(request)

    def _speculation_for(self, params: GenerationParams, prompt: list[int]) -> Speculation | None:
        """Prompt-lookup speculation for a request, when the model's setting has it on."""
        if self.speculation == "off":
            return None
        distribution = None
        if not plain_greedy(params):
            chain = self._sampler(params, prompt, draw=False)
            distribution = Distribution(chain, greedy=params.temperature == 0.0, seed=params.seed)
        # A seeded request's drafts must not depend on what else is in the draft model's batch or on timings.
        assisted = self.draft_model is not None and params.seed is None and not params.deterministic
        return Speculation((AssistedDrafter if assisted else Drafter)(list(prompt)), distribution)

    @cached_property
    def _solo(self) -> Lanes:
        """The context deterministic requests run in, made on first use."""
        return Lanes(
            self.model,
            n_ctx_seq=self.n_ctx_seq,
            threads=self.threads,
            invariant=batch_invariant(self.metadata, self.gpu_layers != 0),
            parallel=self.parallel,
            adapter=self._adapter,
        )

    def single_sequence_context(self, n_ctx: int, chunk: int, purpose: str) -> LlamaContext:
        """A context of its own on this model's weights for one sequence, evaluated `chunk` tokens at a time
        (deterministic requests, prompt log-probabilities); UserError naming `purpose` if llama.cpp refuses."""
        params = C.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = chunk
        params.n_seq_max = 1
        params.n_threads = params.n_threads_batch = self.threads
        params.swa_full = True
        try:
            return LlamaContext(model=self.model, params=params, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"llama.cpp could not make a context for {purpose}: {exc}") from None

    def _step_deterministic(self) -> None:
        """One step of the deterministic requests, in their lanes (see `deterministic.step`)."""
        deterministic.step(self)

    def _catch_up_with_leader(self, request: Request) -> None:
        """Once its leader has evaluated the tokens they share (or is gone), a follower takes them from
        whichever sequence holds them; what no sequence holds, it evaluates itself. Called before a step
        adds anything: every token a slot lists is then in the cache."""
        leader = request.leader
        assert leader is not None
        if leader in self.active and leader.prefilled < request.shared_with_leader:
            return  # not there yet: the follower waits this step out
        request.leader = None
        held = cache_moves.copy_shared_prefix(self, request.slot, request.prompt, request.prefilled)
        request.reused += held - request.prefilled
        request.prefilled = held

    def _sampler(self, params: GenerationParams, prompt: list[int], *, draw: bool = True) -> Chain:
        """The request's native sampler chain (see `sampler_chain`); without the final random draw when not
        `draw` (speculative verification draws itself)."""
        eog = self._eog if params.ignore_eos else ()
        return sampler_chain(params, self.n_vocab, prompt, eog=eog, vocab=self.vocab, draw=draw)

    # -- one decoding step ---------------------------------------------------------------------

    def _fill_batch(self) -> list[Slot]:
        """Next token of every decoding request, then prompt chunks of newcomers, up to n_batch; then, if
        no prompt is in progress, idle sequences' expected continuations. Returns the idle slots added."""
        batch = self.batch.batch
        n = outputs = 0

        def add(slot: Slot, token: int, logits_for: Request | None = None) -> None:
            nonlocal n, outputs
            batch.token[n] = token
            batch.pos[n] = len(slot.tokens)
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = slot.seq_id
            batch.logits[n] = logits_for is not None
            if logits_for is not None:
                logits_for.batch_index = n
                outputs += 1
            slot.tokens.append(token)
            n += 1

        for request in self.active:
            if request.leader is not None:
                self._catch_up_with_leader(request)
        for request in self.active:
            request.batch_index = -1
            if not request.solo and not request.prefilling and request.next_token is not None:
                first = n
                add(request.slot, request.next_token, request)
                request.next_token = None
                if request.speculation is not None:
                    # Each drafted token gets logits too (see engine.runtime.speculative).
                    cost = self._draft_cost(request, n)
                    request.speculation.draft = self._draft(request, self.n_batch - n - len(self.active), cost)
                    for token in request.speculation.draft:
                        add(request.slot, token, request)
                    request.batch_index = first
        # While streams are decoding, a newcomer's prompt goes in smaller chunks: each step then stays
        # short and running streams keep their pace; alone, a prompt takes the whole batch.
        limit = self.n_batch if n == 0 else min(self.n_batch, n + PREFILL_CHUNK_WHILE_DECODING)
        prompting = any(request.prefilling and not request.solo for request in self.active)
        for request in self.active:
            while not request.solo and request.prefilling and n < limit and request.leader is None:
                last = request.prefilled == len(request.prompt) - 1
                add(request.slot, request.prompt[request.prefilled], request if last else None)
                request.prefilled += 1
        # Work ahead only goes into steps without a prompt: it could be wasted (the conversation may never
        # come back); the time to a newcomer's first token is not.
        ahead: list[Slot] = []
        if not prompting:
            limit = min(limit, n + AHEAD_PER_STEP)
            for slot in self.slots:
                if slot.busy or not slot.ahead or n >= limit:
                    continue
                taken = slot.ahead[: limit - n]
                del slot.ahead[: len(taken)]
                for token in taken:
                    add(slot, token)
                ahead.append(slot)
        batch.n_tokens = n
        self._batch_outputs = outputs
        return ahead

    def step(self) -> None:
        """Run one llama_decode over all active requests and hand each its next token."""
        for request in list(self.active):
            if request.cancel.cancelled:
                self._finish(request, "cancelled")
        if not self.active and not self.has_work_ahead:
            return
        self._compact()
        self._clear_for_prompt()
        if self.draft_model is not None:
            self.draft_model.prepare(self)  # the draft model's drafts, all sequences batched
        ahead = self._fill_batch()
        if self.batch.batch.n_tokens:
            handoff.flush()  # what was finished before the decode goes out before it (engine.runtime.handoff)
            started = time.perf_counter()
            code = C.llama_decode(self.ctx.ctx, self.batch.batch)
            self.step_cost.record(self.batch.batch.n_tokens, time.perf_counter() - started, self._outputs())
            if code != 0:
                for request in list(self.active):
                    request.emit(UserError(f"llama.cpp could not decode (code {code}); the request was stopped"))
                    self._release(request, keep_cache=False)
                for slot in ahead:  # their tokens no longer say what the cache holds
                    self._forget(slot)
                return
        now = time.perf_counter()
        for request in list(self.active):
            if request.batch_index < 0:
                continue
            if request.prompt_done_at is None:
                request.prompt_done_at = now
            self._sample(request)
        if any(request.solo for request in self.active):
            handoff.flush()  # the shared batch's tokens go out before the lanes decode
            self._step_deterministic()

    def _outputs(self) -> int:
        """How many tokens of the batch just decoded had logits (a step's cost, see StepCost.record). (Counted
        while filling: a numpy count of the batch's flags took 40 µs right after a decode, caches cold.)"""
        return self._batch_outputs

    @property
    def shared_decoding(self) -> int:
        """How many requests decode in the shared batch (not in a deterministic lane, past their prompt)."""
        return sum(not r.solo and not r.prefilling for r in self.active)

    def _draft_cost(self, request: Request, n: int) -> Callable[[int], float]:
        """What k drafted tokens make the step cost: measured, or for a seeded request the prior (its
        random draws follow its drafts, and its seed must give the same tokens whatever the timings)."""
        if request.solo:
            lanes = self._solo.streams  # (its drafted steps decode alone, see engine.runtime.deterministic)
            return lambda k: lane_draft_cost(k, lanes)
        if request.params.seed is not None:
            return lambda k: prior_cost(1 + k)
        return self.step_cost.marginal(max(n, self.shared_decoding))

    def draft_others(self, request: Request) -> float:
        """The tokens the rest of the shared step yields besides a request's own, which its draft slows too
        (0 for a seeded or deterministic request: its drafts depend only on its own tokens)."""
        if request.solo or request.params.seed is not None:
            return 0.0
        return float(max(0, self.shared_decoding - 1))

    def _draft(self, request: Request, spare: int, cost: Callable[[int], float]) -> list[int]:
        """The tokens a speculating request guesses follow its next one (at most `spare`, as many as pay
        for themselves by `cost(k)`, the step time with k more tokens, counting the rest of the step's tokens)."""
        assert request.speculation is not None
        limit = min(spare, room_for_draft(self, request))
        return request.speculation.drafter.draft(limit, cost, self.draft_others(request))

    def _sample(self, request: Request) -> None:
        ctx = self._solo.ctx if request.solo else self.ctx
        if request.speculation is not None:
            verify(self, request, ctx)
            return
        if request.sampler is None:
            token = self._argmax(request.batch_index, request.params, ctx)
        else:
            token = request.sampler.sample(ctx, request.batch_index, self._logits(request.batch_index, ctx))
        self._take(request, token, request.batch_index, ctx)

    def _take(self, request: Request, token: int, index: int, ctx: LlamaContext) -> bool:
        """Hand the request the token chosen from batch position `index`; False once that finished it."""
        if C.llama_vocab_is_eog(self.vocab, token):
            self._finish(request, "stop")
            return False
        logprob = self._logprob(index, token, request.params.logprobs, ctx)
        request.generated += 1
        if request.first_token_at is None:
            request.first_token_at = time.perf_counter()
        assert request.stop_filter is not None
        text, stopped = request.stop_filter.feed(request.decoder.decode(self.token_bytes(token)))
        if text or logprob:
            request.emit(Chunk(text=text, logprobs=(logprob,) if logprob else ()))
        if stopped:
            self._finish(request, "stop", hit_stop_string=True, unevaluated=token)
        elif request.generated >= min(request.params.max_tokens, self.n_ctx_seq - len(request.prompt)):
            self._finish(request, "length", unevaluated=token)
        else:
            request.next_token = token
            return True
        return False

    def _logits(self, index: int, ctx: LlamaContext | None = None) -> np.ndarray:
        """The logits of batch position `index` (a view into llama.cpp's buffer, valid until the next decode)."""
        return self._logit_rows.row(ctx or self.ctx, index)

    def _argmax(self, index: int, params: GenerationParams, ctx: LlamaContext | None = None) -> int:
        """Greedy choice, as llama.cpp's bias + greedy samplers make it (first maximum wins)."""
        return greedy(self._logits(index, ctx), params, self._eog_set if params.ignore_eos else frozenset())

    def _logprob(
        self, index: int, token: int, top_n: int | None, ctx: LlamaContext | None = None
    ) -> TokenLogprob | None:
        if top_n is None:
            return None
        return self.token_logprob(self._logits(index, ctx), token, top_n)

    def token_logprob(self, logits: np.ndarray, token: int, top_n: int) -> TokenLogprob:
        """`token`'s log-probability under `logits`, with the `top_n` likeliest tokens there."""
        return token_logprob(logits, token, top_n, self.token_text)

    def _finish(
        self, request: Request, reason: str, *, hit_stop_string: bool = False, unevaluated: int | None = None
    ) -> None:
        """Send the final chunk and free the sequence. `unevaluated`: the reply's last token, sampled but
        not yet in the cache."""
        request.emit(request.final_chunk(reason, hit_stop_string))
        if request.solo:
            self._release(request, keep_cache=False)
            return
        self._release(request, keep_cache=True, ahead=request.ahead_after_reply(reason, hit_stop_string, unevaluated))

    def _release(self, request: Request, *, keep_cache: bool, ahead: Sequence[int] = ()) -> None:
        request.emit(None)
        self.active.remove(request)
        if request.sampler is not None:
            request.sampler.close()
        if request.speculation is not None:
            request.speculation.close()
        slot = request.slot
        slot.busy = False
        slot.last_used = time.monotonic()
        if request.lane is not None:
            request.lane.busy = False  # (the next one keeps what it can of the cache, see `deterministic.lane_request`)
        elif not keep_cache:
            self._forget(slot)
        elif len(slot.tokens) + len(ahead) < self.n_ctx_seq:
            # (A request cut short mid-prompt leaves a partial prefix: still valid, still reusable.)
            slot.ahead = list(ahead)

    def _compact(self) -> None:
        """Tidy the cache for the running requests once they have settled (see `cache_moves.compact`)."""
        cache_moves.compact(self)

    def _clear_for_prompt(self) -> None:
        """Move idle caches to RAM before a long prompt's first chunk (see `cache_moves.clear_for_prompt`)."""
        cache_moves.clear_for_prompt(self)

    def _forget(self, slot: Slot) -> None:
        """Empty a sequence's cache."""
        cache_moves.forget(self, slot)

    def close(self) -> None:
        """Free the context and model now rather than at garbage collection."""
        for request in list(self.active):
            request.emit(UserError("the model was unloaded"))
            self._release(request, keep_cache=False)
        if self.draft_model is not None:
            self.draft_model.close()
        if "_solo" in self.__dict__:
            self._solo.close()
        self.batch.close()
        self.ctx.close()
        self.model.close()
