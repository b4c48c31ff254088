"""A model in memory (`LoadedModel`): one llama.cpp context, driven token by token.

Only the worker thread that created a LoadedModel may call it (llama.cpp contexts are not thread-safe).
Generation is our own loop over llama-cpp-python's building blocks rather than `create_completion`, so
that the engine counts what it evaluates, reuses the evaluated prefix across turns, stops within one
token when cancelled, and never splits a UTF-8 character or leaks a stop string.
"""

from __future__ import annotations

import codecs
import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from llama_cpp import Llama
from llama_cpp.llama_grammar import LlamaGrammar
from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaSampler

from engine.errors import UserError
from engine.models.registry import ModelRecord
from engine.runtime.types import (
    CancelToken,
    Chunk,
    GenerationParams,
    PromptTooLong,
    Timings,
    TokenLogprob,
    Usage,
)

DEFAULT_CONTEXT = 4096
PENALTY_WINDOW = 64


def resolve_gpu_layers(choice: str | int) -> int:
    """Map the "auto/all/none" setting to llama.cpp's n_gpu_layers."""
    if isinstance(choice, int):
        return choice
    if choice == "none":
        return 0
    if choice == "all":
        return -1
    return -1 if C.llama_supports_gpu_offload() else 0


@dataclass(frozen=True)
class LoadReport:
    """What loading a model cost."""

    load_seconds: float
    memory_bytes: int
    context_size: int
    gpu_layers: int
    threads: int


def _longest_prefix(cached: list[int], tokens: list[int]) -> int:
    prefix = 0
    for a, b in zip(cached, tokens, strict=False):
        if a != b:
            break
        prefix += 1
    return prefix


class _StopFilter:
    """Holds back text that might be the start of a stop string, and cuts at the first stop."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Return (text safe to emit, stopped)."""
        self.pending += text
        for stop in self.stops:
            index = self.pending.find(stop)
            if index >= 0:
                out, self.pending = self.pending[:index], ""
                return out, True
        hold = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(stop[:size]):
                    hold = max(hold, size)
                    break
        out = self.pending[: len(self.pending) - hold] if hold else self.pending
        self.pending = self.pending[len(out) :]
        return out, False

    def flush(self) -> str:
        """Whatever is held back, at the end of generation."""
        out, self.pending = self.pending, ""
        return out


class LoadedModel:
    """A llama.cpp model and context owned by one thread, with the tokens its KV cache holds."""

    def __init__(self, record: ModelRecord, *, embedding: bool = False) -> None:
        settings = record.settings
        self.record = record
        n_ctx = settings.context_size or min(record.facts.context_length or DEFAULT_CONTEXT, DEFAULT_CONTEXT)
        threads = settings.threads or max(1, os.cpu_count() or 1)
        gpu_layers = resolve_gpu_layers(settings.gpu_layers)
        started = time.perf_counter()
        try:
            self.llama = Llama(
                model_path=str(record.path),
                n_ctx=n_ctx,
                n_batch=min(settings.batch_size, n_ctx),
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=gpu_layers,
                use_mmap=True,
                embedding=embedding,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"llama.cpp could not load model {record.name!r}: {exc}") from None
        load_seconds = time.perf_counter() - started
        memory = self.llama._model.size() + self.llama._ctx.get_state_size()  # weights + KV/state
        self.report = LoadReport(load_seconds, memory, self.llama.n_ctx(), gpu_layers, threads)
        self.vocab = C.llama_model_get_vocab(self.llama._model.model)

    # -- text ↔ tokens ------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        """Tokens of `text`; special tokens in it (from the chat template) are recognised."""
        return self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def token_text(self, token: int, special: bool = False) -> str:
        """The visible text of one token (may be a partial UTF-8 sequence, replaced)."""
        return self.llama._model.token_to_piece(token, special=special).decode("utf-8", errors="replace")

    def special_text(self) -> tuple[str, str]:
        """The BOS and EOS token texts, as chat templates expect them."""
        model = self.llama._model
        bos = model.token_bos()
        eos = model.token_eos()
        return (
            self.token_text(bos, special=True) if bos >= 0 else "",
            self.token_text(eos, special=True) if eos >= 0 else "",
        )

    @property
    def n_ctx(self) -> int:
        """Context window in tokens."""
        return self.llama.n_ctx()

    @property
    def cached_tokens(self) -> list[int]:
        """Tokens whose state is in the KV cache right now."""
        return list(self.llama._input_ids[: self.llama.n_tokens])

    # -- generation ---------------------------------------------------------------------------

    def _sampler(self, params: GenerationParams) -> LlamaSampler:
        sampler = LlamaSampler()
        if params.ignore_eos:
            eog = [t for t in range(self.llama.n_vocab()) if C.llama_vocab_is_eog(self.vocab, t)]
            sampler.add_logit_bias(self.llama.n_vocab(), {t: float("-inf") for t in eog})
        sampler.add_penalties(
            self.llama.n_vocab(),
            PENALTY_WINDOW,
            params.repeat_penalty,
            params.frequency_penalty,
            params.presence_penalty,
        )
        if params.grammar:
            grammar = LlamaGrammar.from_string(params.grammar, verbose=False)
            sampler.add_grammar(self.llama._model, grammar)
        if params.temperature == 0.0:
            sampler.add_greedy()
        else:
            seed = params.seed if params.seed is not None else int.from_bytes(os.urandom(4), "little")
            sampler.add_top_k(params.top_k)
            sampler.add_top_p(params.top_p, 1)
            sampler.add_min_p(params.min_p, 1)
            sampler.add_temp(params.temperature)
            sampler.add_dist(seed)
        return sampler

    def _evaluate_prompt(self, tokens: list[int]) -> int:
        """Make the KV cache hold `tokens`, evaluating only what differs; return the reused count."""
        llama = self.llama
        reuse = _longest_prefix(self.cached_tokens, tokens)
        # At least one token must be evaluated to have fresh logits to sample from.
        reuse = min(reuse, len(tokens) - 1)
        if reuse > 0 and llama._ctx.kv_cache_seq_rm(-1, reuse, -1):
            llama.n_tokens = reuse
        else:
            reuse = 0
            llama.reset()
            llama._ctx.kv_cache_clear()
        llama.eval(tokens[reuse:])
        return reuse

    def _logprobs(self, token: int, top_n: int) -> TokenLogprob:
        logits = np.ctypeslib.as_array(self.llama._ctx.get_logits_ith(-1), shape=(self.llama.n_vocab(),))
        shifted = logits - logits.max()
        log_probs = shifted - math.log(float(np.exp(shifted).sum()))
        top: tuple[tuple[str, float], ...] = ()
        if top_n:
            best = np.argpartition(-log_probs, top_n)[:top_n]
            best = best[np.argsort(-log_probs[best])]
            top = tuple((self.token_text(int(t)), float(log_probs[t])) for t in best)
        return TokenLogprob(self.token_text(token), float(log_probs[token]), top)

    def generate(
        self,
        prompt_tokens: list[int],
        params: GenerationParams,
        cancel: CancelToken,
        *,
        queued_s: float = 0.0,
    ) -> Iterator[Chunk]:
        """Evaluate the prompt (reusing the cached prefix) and yield the reply chunk by chunk."""
        if not prompt_tokens:
            raise UserError("the prompt is empty")
        if len(prompt_tokens) >= self.n_ctx:
            raise PromptTooLong(
                f"the prompt is {len(prompt_tokens)} tokens but the context holds {self.n_ctx}; "
                "shorten it or raise the model's context size"
            )
        started = time.perf_counter()
        sampler = self._sampler(params)
        # Penalties look at recent history: feed them the prompt's tail.
        for token in prompt_tokens[-PENALTY_WINDOW:]:
            sampler.accept(token)
        reused = self._evaluate_prompt(prompt_tokens)
        prompt_done = time.perf_counter()

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stop_filter = _StopFilter(params.stop)
        generated = 0
        first_token_at: float | None = None
        finish = "length"
        hit_stop_string = False
        budget = min(params.max_tokens, self.n_ctx - len(prompt_tokens))
        while generated < budget:
            if cancel.cancelled:
                finish = "cancelled"
                break
            token = sampler.sample(self.llama._ctx, -1)
            if C.llama_vocab_is_eog(self.vocab, token):
                finish = "stop"
                break
            logprob = self._logprobs(token, params.logprobs) if params.logprobs is not None else None
            generated += 1
            if first_token_at is None:
                first_token_at = time.perf_counter()
            piece = decoder.decode(self.llama._model.token_to_piece(token, special=False))
            text, stopped = stop_filter.feed(piece)
            if text or logprob:
                yield Chunk(text=text, logprobs=(logprob,) if logprob else ())
            if stopped:
                finish, hit_stop_string = "stop", True
                break
            self.llama.eval([token])
        tail = "" if hit_stop_string else stop_filter.flush() + decoder.decode(b"", final=True)
        finished = time.perf_counter()
        decode_s = finished - prompt_done
        yield Chunk(
            text=tail,
            finish_reason=finish,
            usage=Usage(
                prompt_tokens=len(prompt_tokens),
                completion_tokens=generated,
                cached_prompt_tokens=reused,
                evaluated_prompt_tokens=len(prompt_tokens) - reused,
            ),
            timings=Timings(
                queued_s=queued_s,
                time_to_first_token_s=(first_token_at or finished) - started,
                prompt_eval_s=prompt_done - started,
                decode_s=decode_s,
            ),
            tokens_per_s=generated / decode_s if decode_s > 0 and generated else None,
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised embeddings (needs a model loaded with embedding=True)."""
        result = self.llama.embed(texts, normalize=True, truncate=True)
        return [list(map(float, row)) for row in result]

    def close(self) -> None:
        """Free the model and context now rather than at garbage collection."""
        with contextlib.suppress(Exception):
            self.llama.close()


LoadedFactory = Callable[[ModelRecord], LoadedModel]
