"""The runtime: which models are in memory, loading them on demand and unloading idle ones.

This is the engine API that the CLI, the HTTP routes and the GUI all call. Chat prompts are rendered
with the model's resolved chat template on the caller's thread (in the sandbox, time-limited) and
tokenised on the model's own thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.errors import UserError
from engine.models.memory import estimate_memory
from engine.models.reasoning import opens_thinking, thinks
from engine.models.registry import ModelRecord, ModelRegistry
from engine.models.template_input import ToolOffer, has_tool_syntax, prepare_messages
from engine.models.templates import (
    ChatTemplate,
    TemplateError,
    TemplateTimeout,
    render_chat,
    resolve_template,
    time_budget,
    turn_change,
)
from engine.runtime.adapters import AdapterSource
from engine.runtime.batch import BatchedModel
from engine.runtime.draft_model import draft_record
from engine.runtime.loaded import LoadedModel, LoadReport
from engine.runtime.prompt_logprobs import prompt_logprobs
from engine.runtime.types import CancelToken, GenerationParams, LoadListener, LoadProgress, Prompt, PromptTooLong
from engine.runtime.worker import Generation, ModelWorker, ServingModel

DEFAULT_IDLE_TTL_S = 15 * 60
LOAD_REPORT_INTERVAL_S = 0.1  # how often a waiting caller hears how far a load has come
Message = Mapping[str, Any]


def total_memory_bytes() -> int:
    """Physical memory of this machine."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 * 1024**3


def estimated_memory(record: ModelRecord, *, embedding: bool = False, draft: ModelRecord | None = None) -> int:
    """What loading `record` takes: weights, a KV cache for every parallel sequence, buffers (and those of
    its draft model, with the target's sequences)."""
    total = estimate_memory(record, sequences=1 if embedding else None).total
    if draft is not None:
        beside = replace(draft.settings, parallel=record.settings.parallel, context_size=record.settings.context_size)
        total += estimate_memory(replace(draft, settings=beside)).total
    return total


@dataclass(frozen=True)
class LoadedInfo:
    """A loaded model as the GUI and `/health` describe it."""

    name: str
    report: LoadReport
    idle_s: float
    record: ModelRecord  # as it was loaded: its settings may have changed since
    embedding: bool  # an embedding host (one sequence) rather than a generation one


class Runtime:
    """Loads models through the registry, one worker thread each, within a memory budget."""

    def __init__(
        self,
        registry: ModelRegistry | None = None,
        *,
        idle_ttl_s: float = DEFAULT_IDLE_TTL_S,
        memory_budget_bytes: int | None = None,
        max_queue: int = 64,
        adapters: AdapterSource | None = None,
    ) -> None:
        self.registry = registry or ModelRegistry()
        self.adapters = adapters  # where adapted models' LoRA bytes come from (the vault); None: not served
        self.idle_ttl_s = idle_ttl_s
        self.memory_budget = memory_budget_bytes or int(total_memory_bytes() * 0.75)
        self.max_queue = max_queue
        self._workers: dict[tuple[str, bool], ModelWorker] = {}
        # Chat template and BOS/EOS text per model record: reading them needs a trip to the model's thread.
        self._templates: dict[ModelRecord, tuple[ChatTemplate, str, str]] = {}
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap_idle, name="model-reaper", daemon=True)
        self._reaper.start()

    # -- loading -------------------------------------------------------------------------------

    def load(
        self, name: str | None = None, *, embedding: bool = False, on_load: LoadListener | None = None
    ) -> ModelWorker:
        """The worker of `name` (default model if None), loading the model if needed; `on_load` hears how
        far a load has come (every 0.1 s, on the caller's thread, then once at 1.0) if this call starts or
        waits for one."""
        record = self.registry.resolve(name)
        key = (record.name, embedding)
        started = False
        with self._lock:
            worker = self._workers.get(key)
            if worker is None or not worker.record.loads_like(record):  # settings changed: reload
                if worker is not None:
                    self._workers.pop(key).stop()
                draft = None if embedding else draft_record(self.registry, record)
                self._make_room(estimated_memory(record, embedding=embedding, draft=draft))
                worker = ModelWorker(
                    record,
                    max_queue=self.max_queue,
                    embedding=embedding,
                    adapter=self._adapter_for(record, embedding),
                    draft=draft,
                )
                self._workers[key] = worker
                started = True
        try:
            # A load this call started is reported even when it was over before the first look (a tiny model).
            if on_load is not None and (started or worker.loading):
                self._report_load(worker, on_load)
            worker.wait_loaded()
        except BaseException:
            with self._lock:
                if self._workers.get(key) is worker:
                    del self._workers[key]
            raise
        return worker

    def _adapter_for(self, record: ModelRecord, embedding: bool) -> bytes | None:
        """The LoRA bytes an adapted model loads with (None for a plain model)."""
        if record.adapter is None:
            return None
        if embedding:
            raise UserError(f"{record.name!r} is an adapted model; use its base model for embeddings")
        if self.adapters is None:
            raise UserError(f"{record.name!r} is an adapted model; its adapter is in the vault: unlock it first")
        return self.adapters.adapter_bytes(record)

    @staticmethod
    def _report_load(worker: ModelWorker, on_load: LoadListener) -> None:
        name = worker.record.name
        if worker.loading:
            on_load(LoadProgress(name, worker.load_fraction))
        while True:
            try:
                worker.wait_loaded(LOAD_REPORT_INTERVAL_S)
            except TimeoutError:
                on_load(LoadProgress(name, worker.load_fraction))
                continue
            except BaseException:
                return  # the caller re-raises the load's failure
            on_load(LoadProgress(name, 1.0))
            return

    def _make_room(self, needed: int) -> None:
        """Unload idle models, least recently used first, until `needed` bytes fit the budget."""

        def used() -> int:
            return sum(estimated_memory(w.record, embedding=key[1], draft=w.draft) for key, w in self._workers.items())

        for key, worker in sorted(self._workers.items(), key=lambda kv: kv[1].last_used):
            if used() + needed <= self.memory_budget:
                return
            if worker.idle:
                self._workers.pop(key).stop()
        if used() + needed > self.memory_budget and self._workers:
            raise UserError("not enough memory for another model while the loaded ones are busy; try again")

    def unload(self, name: str) -> bool:
        """Free a model's memory; False if it was not loaded."""
        with self._lock:
            workers = [self._workers.pop(k) for k in list(self._workers) if k[0] == name]
        for worker in workers:
            worker.stop()
        return bool(workers)

    def loaded_names(self) -> list[str]:
        """Names of models loaded or loading now, without waiting for a load to finish."""
        with self._lock:
            return sorted({name for name, _ in self._workers})

    def loaded(self) -> list[LoadedInfo]:
        """Models in memory now."""
        now = time.monotonic()
        with self._lock:
            workers = list(self._workers.items())
        return [
            LoadedInfo(w.record.name, w.wait_loaded(), now - w.last_used, w.record, embedding)
            for (_, embedding), w in workers
        ]

    def _reap_idle(self) -> None:
        while not self._closed.wait(min(5.0, max(self.idle_ttl_s / 4, 0.05))):
            now = time.monotonic()
            with self._lock:
                expired = [k for k, w in self._workers.items() if w.idle and now - w.last_used > self.idle_ttl_s]
                stopping = [self._workers.pop(k) for k in expired]
            for worker in stopping:
                worker.stop()

    def abort(self) -> None:
        """Cancel every generation running or waiting (server shutdown: replies end within a token)."""
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.abort()

    def close(self) -> None:
        """Unload everything and stop the reaper."""
        self._closed.set()
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            worker.stop()

    # -- generation ----------------------------------------------------------------------------

    def template_for(self, record: ModelRecord, model: ServingModel) -> ChatTemplate:
        """The chat template this model uses (override, embedded, or builtin by architecture)."""
        embedded = model.metadata.get("tokenizer.chat_template")
        tokens_hint = "llama3" if model.metadata.get("tokenizer.ggml.pre") == "llama-bpe" else None
        return resolve_template(
            override=record.settings.chat_template,
            embedded=embedded,
            architecture=record.facts.architecture,
            vocab_hint=tokens_hint,
        )

    def chat(
        self,
        messages: Sequence[Message],
        params: GenerationParams | None = None,
        *,
        model: str | None = None,
        cancel: CancelToken | None = None,
        tools: ToolOffer | None = None,
        on_load: LoadListener | None = None,
    ) -> Generation:
        """Stream a reply to `messages` (OpenAI-style role/content dicts, assistant `tool_calls` included)
        from a model; `tools` are shown in the template's own syntax where it has one. `on_load`: see `load`."""
        if not messages:
            raise UserError("a chat needs at least one message")
        worker = self.load(model, on_load=on_load)
        template, bos, eos = self._template_info(worker)
        params = params or GenerationParams()
        text, change = self._render(template, bos, eos, messages, tools)

        def build(loaded: ServingModel) -> Prompt:
            # Templates that write the BOS token themselves must not get a second one.
            tokens = loaded.tokenize(text, add_bos=not (bos and text.startswith(bos)))
            return Prompt(
                tokens, tuple(loaded.tokenize(change, add_bos=False)) if change else (), opens_thinking(text)
            )

        # The template's turn markers end the reply even when the model does not emit EOS.
        stops = tuple(dict.fromkeys(params.stop + template.stops))
        return worker.submit(build, replace(params, stop=stops), cancel)

    def _render(
        self, template: ChatTemplate, bos: str, eos: str, messages: Sequence[Message], tools: ToolOffer | None
    ) -> tuple[str, str]:
        """The prompt text of `messages` and the template's turn change."""
        # The template runs here, on the caller's thread and in the sandbox, under one time limit for
        # the request: an untrusted template never holds the model's thread, however long it runs.
        with time_budget():
            prepared, extra = prepare_messages(template, messages, tools)
            try:
                text = render_chat(template, prepared, bos_token=bos, eos_token=eos, extra=extra)
            except TemplateTimeout:
                raise
            except TemplateError:
                if not has_tool_syntax(template):
                    raise
                # Its own tool syntax failed on this conversation: show the tools and calls as text.
                prepared, extra = prepare_messages(template, messages, tools, native=False)
                text = render_chat(template, prepared, bos_token=bos, eos_token=eos, extra=extra)
            change = turn_change(template, prepared, text, bos_token=bos, eos_token=eos, extra=extra)
        return text, change

    def count_chat(
        self, messages: Sequence[Message], *, model: str | None = None, tools: ToolOffer | None = None
    ) -> int:
        """How many prompt tokens `messages` (and the tools shown) take for a model, as `chat` would send them."""
        if not messages:
            raise UserError("a chat needs at least one message")
        worker = self.load(model)
        template, bos, eos = self._template_info(worker)
        text, _ = self._render(template, bos, eos, messages, tools)
        return int(worker.call(lambda m: len(m.tokenize(text, add_bos=not (bos and text.startswith(bos))))))

    def thinks(self, name: str | None = None) -> bool:
        """Whether a (loaded) model reasons before it answers, as its chat template says."""
        worker = self.load(name)
        record = worker.record
        if record.is_base_model and not record.settings.chat_template:
            return False  # continued as plain text: no template, no thinking block
        return thinks(self._template_info(worker)[0].source)

    def _template_info(self, worker: ModelWorker) -> tuple[ChatTemplate, str, str]:
        """The model's chat template and its BOS/EOS text (read once on the model's thread)."""
        record = worker.record
        info = self._templates.get(record)
        if info is None:

            def read(loaded: ServingModel) -> tuple[ChatTemplate, str, str]:
                assert isinstance(loaded, BatchedModel)  # generation workers always host a BatchedModel
                bos, eos = loaded.special_text()
                return self.template_for(record, loaded), bos, eos

            info = self._templates[record] = worker.call(read)
        return info

    def complete(
        self,
        prompt: str,
        params: GenerationParams | None = None,
        *,
        model: str | None = None,
        cancel: CancelToken | None = None,
        on_load: LoadListener | None = None,
        tokens: Sequence[int] | None = None,
        suffix: str | None = None,
        echo: bool = False,
    ) -> Generation:
        """Stream a plain continuation of `prompt` (no chat template), or of `tokens` (token ids) when given.

        `suffix`: fill in the middle between the prompt and it, with the model's FIM tokens (UserError if it
        has none). `echo`: the reply begins with the prompt's text. `on_load`: see `load`.
        """
        worker = self.load(model, on_load=on_load)

        def build(loaded: ServingModel) -> Prompt:
            assert isinstance(loaded, BatchedModel)  # generation workers always host a BatchedModel
            if suffix is not None:
                ids = loaded.fim_prompt(list(tokens) if tokens is not None else prompt, suffix)
            else:
                ids = list(tokens) if tokens is not None else loaded.tokenize(prompt)
            shown = "" if not echo else prompt if tokens is None else loaded.detokenize(list(tokens))
            asked = (params or GenerationParams()).logprobs
            scored = prompt_logprobs(loaded, ids, asked) if echo and asked is not None and suffix is None else ()
            return Prompt(ids, echo=shown, echo_logprobs=scored)

        return worker.submit(build, params or GenerationParams(), cancel)

    def embed(self, texts: list[str], *, model: str | None = None) -> tuple[list[list[float]], int]:
        """Embeddings of `texts` and the number of tokens they took."""
        worker = self.load(model, embedding=True)

        def run(loaded: ServingModel) -> tuple[list[list[float]], int]:
            assert isinstance(loaded, LoadedModel)  # embedding workers host a LoadedModel
            lengths = [len(loaded.tokenize(t)) for t in texts]
            # Refused, as a prompt too long for generation is: llama.cpp would silently cut the text.
            fits = loaded.embed_window
            for index, length in enumerate(lengths):
                if length > fits:
                    raise PromptTooLong(
                        f"input {index} is {length} tokens but the model embeds at most {fits}; shorten it"
                    )
            return loaded.embed(texts), sum(lengths)

        result: tuple[list[list[float]], int] = worker.call(run)
        return result

    def count_tokens(self, text: str, *, model: str | None = None) -> int:
        """How many tokens `text` takes for a model."""
        return int(self.load(model).call(lambda m: len(m.tokenize(text))))
