"""Continuous batching and per-conversation KV reuse in the runtime (on the tiny model)."""

from __future__ import annotations

import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.models import ModelRegistry
from engine.runtime import GenerationParams, Runtime
from engine.runtime.loaded import longest_prefix

GREEDY = GenerationParams(max_tokens=40, temperature=0.0, ignore_eos=True)


def _stream(runtime: Runtime, content: str, params: GenerationParams, log: dict[str, list[float]]) -> None:
    """Record when each chunk arrived, and the token count at the end."""
    times: list[float] = []
    for chunk in runtime.chat([{"role": "user", "content": content}], params):
        times.append(time.perf_counter())
        if chunk.finish_reason is not None:
            assert chunk.usage is not None
            times.append(float(chunk.usage.completion_tokens))
    log[content] = times


def test_concurrent_requests_decode_together(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    runtime.load("tiny")
    log: dict[str, list[float]] = {}
    params = GenerationParams(max_tokens=200, temperature=0.0, ignore_eos=True)
    threads = [threading.Thread(target=_stream, args=(runtime, f"user {i}", params, log)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(log) == 4 and all(times[-1] == 200 for times in log.values())
    # Sequential serving would give disjoint time windows; batching interleaves all four streams.
    starts = sorted(times[0] for times in log.values())
    ends = sorted(times[-2] for times in log.values())
    assert starts[-1] < ends[0], "the last stream started only after another had finished"


def test_more_requests_than_sequences_wait_and_all_finish(registry: ModelRegistry, tiny_model) -> None:  # type: ignore[no-untyped-def]
    registry.update_settings("tiny", parallel=2)
    rt = Runtime(registry)
    try:
        log: dict[str, list[float]] = {}
        threads = [threading.Thread(target=_stream, args=(rt, f"q{i}", GREEDY, log)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(log) == [f"q{i}" for i in range(6)]
        assert all(times[-1] == 40 for times in log.values())
    finally:
        rt.close()


def test_batched_answers_equal_solo_answers(registry: ModelRegistry, tiny_model) -> None:  # type: ignore[no-untyped-def]
    prompts = [f"prompt number {i} about something" for i in range(3)]
    solo = Runtime(registry)
    try:
        alone = {p: solo.chat([{"role": "user", "content": p}], GREEDY).text() for p in prompts}
    finally:
        solo.close()
    together = Runtime(registry)
    try:
        generations = {p: together.chat([{"role": "user", "content": p}], GREEDY) for p in prompts}
        texts = {p: g.text() for p, g in generations.items()}
    finally:
        together.close()
    assert texts == alone


def test_greedy_shortcut_picks_what_llama_cpp_samplers_pick(registry: ModelRegistry, tiny_model, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Plain greedy requests skip the native sampler chain; the tokens must be the chain's own."""
    from engine.runtime import batch

    cases = [
        GREEDY,
        GenerationParams(max_tokens=40, temperature=0.0, logit_bias=((2, -100.0), (4, -100.0), (7, 5.0))),
        # An end-of-generation token pushed up is still never picked when ignore_eos holds.
        GenerationParams(max_tokens=40, temperature=0.0, ignore_eos=True, logit_bias=((2, 50.0), (7, 3.0))),
    ]
    prompts = [f"shortcut check {i}" for i in range(3)]

    def replies() -> list[str]:
        rt = Runtime(registry)
        try:
            gens = [rt.chat([{"role": "user", "content": p}], params) for params in cases for p in prompts]
            return [g.text() for g in gens]
        finally:
            rt.close()

    assert batch.plain_greedy(GREEDY)
    shortcut = replies()
    monkeypatch.setattr(batch, "plain_greedy", lambda params: False)
    assert replies() == shortcut
    assert any(shortcut)


def _conversation_turns(runtime: Runtime, conversations: int, turns: int) -> list[list[tuple[int, int]]]:
    """Interleave `conversations` chats for `turns` turns; return (prompt, cached) tokens per turn."""
    histories = [
        [{"role": "system", "content": f"Conversation {c}: " + "you are a careful assistant. " * 4}]
        for c in range(conversations)
    ]
    usage: list[list[tuple[int, int]]] = [[] for _ in range(conversations)]
    for turn in range(turns):
        for c, history in enumerate(histories):
            history.append({"role": "user", "content": f"turn {turn} question for chat {c}"})
            gen = runtime.chat(history, GenerationParams(max_tokens=8, temperature=0.0, ignore_eos=True))
            gen.text()
            assert gen.final is not None and gen.final.usage is not None
            usage[c].append((gen.final.usage.prompt_tokens, gen.final.usage.cached_prompt_tokens))
            history.append({"role": "assistant", "content": f"answer {turn}"})
    return usage


def test_interleaved_conversations_each_keep_their_cache(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    usage = _conversation_turns(runtime, conversations=4, turns=4)
    for turns in usage:
        for (previous_prompt, _), (prompt, cached) in zip(turns, turns[1:], strict=False):
            # Everything up to the previous prompt is reused; only the reply and the new message are new.
            assert cached >= previous_prompt - 1
            assert prompt - cached <= prompt - previous_prompt + 1


def test_conversations_beyond_the_sequences_are_restored_from_ram(registry: ModelRegistry, tiny_model) -> None:  # type: ignore[no-untyped-def]
    registry.update_settings("tiny", parallel=2)
    rt = Runtime(registry)
    try:
        usage = _conversation_turns(rt, conversations=4, turns=3)
    finally:
        rt.close()
    for turns in usage:
        for (previous_prompt, _), (_prompt, cached) in zip(turns, turns[1:], strict=False):
            assert cached >= previous_prompt - 1


def test_a_long_newcomer_prompt_does_not_stall_running_streams(tiny_model) -> None:  # type: ignore[no-untyped-def]
    from engine.runtime import CancelToken
    from engine.runtime.batch import PREFILL_CHUNK_WHILE_DECODING, BatchedModel

    model = BatchedModel(tiny_model)  # stepped directly to see what each step contains
    running: list[object] = []
    newcomer: list[object] = []
    try:
        params = GenerationParams(max_tokens=200, temperature=0.0, ignore_eos=True)
        model.admit(model.tokenize("running stream"), params, CancelToken(), running.append, 0.0)
        for _ in range(3):
            model.step()
        long_prompt = model.tokenize("word " * 100)
        assert len(long_prompt) > 3 * PREFILL_CHUNK_WHILE_DECODING
        model.admit(long_prompt, params, CancelToken(), newcomer.append, 0.0)
        before = len(running)
        steps = 0
        while not newcomer:
            model.step()
            steps += 1
        # The prompt went in chunks over several steps, and the running stream got a token in each.
        assert steps >= 3
        assert model.active[0].generated >= 3 + steps
        assert len(running) > before
    finally:
        model.close()


def test_a_bad_grammar_is_a_clear_error_and_frees_nothing(registry: ModelRegistry, tiny_model) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from engine.errors import UserError

    registry.update_settings("tiny", parallel=1)
    rt = Runtime(registry)
    try:
        for _ in range(3):  # with one sequence, a leaked slot would hang the next request
            with pytest.raises(UserError, match="grammar"):
                rt.chat([{"role": "user", "content": "x"}], GenerationParams(grammar="root ::= (")).text()
        assert rt.chat([{"role": "user", "content": "x"}], GREEDY).text()
    finally:
        rt.close()


def test_one_graph_per_step_whatever_sequences_are_running(tiny_model, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each step evaluates every running sequence in one pass over the weights.

    llama.cpp splits a batch into several graph evaluations when its KV cache keeps one stream per
    sequence and the running sequence ids are not consecutive (here 0, 2, 3 after sequence 1 ends);
    that ran every step two to four times over. Counted with llama.cpp's own eval callback: the
    output layer is computed once per evaluation.
    """
    import ctypes
    from pathlib import Path

    import llama_cpp
    from llama_cpp import llama_cpp as C

    from engine.runtime import CancelToken
    from engine.runtime.batch import BatchedModel

    ggml = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    ggml.ggml_get_name.restype = ctypes.c_char_p
    ggml.ggml_get_name.argtypes = [ctypes.c_void_p]
    evaluations = 0

    def observe(tensor: int, ask: bool, _user_data: int) -> bool:
        nonlocal evaluations
        if ask and ggml.ggml_get_name(tensor) == b"result_output":
            evaluations += 1
        return False  # look, don't ask to see the values

    callback = C.ggml_backend_sched_eval_callback(observe)
    default_params = C.llama_context_default_params

    def params_with_callback() -> object:
        params = default_params()
        params.cb_eval = callback
        return params

    monkeypatch.setattr(C, "llama_context_default_params", params_with_callback)
    model = BatchedModel(tiny_model)
    try:
        params = GenerationParams(max_tokens=100, temperature=0.0, ignore_eos=True)
        cancels = [CancelToken() for _ in range(4)]
        for i, cancel in enumerate(cancels):
            model.admit(model.tokenize(f"stream {i}"), params, cancel, lambda _chunk: None, 0.0)
        while any(request.prefilling or request.generated == 0 for request in model.active):
            model.step()
        by_sequence = {request.slot.seq_id: request for request in model.active}
        assert sorted(by_sequence) == [0, 1, 2, 3]
        by_sequence[1].cancel.cancel()
        model.step()  # sequence 1 leaves
        assert sorted(r.slot.seq_id for r in model.active) == [0, 2, 3]
        evaluations = 0
        for _ in range(5):
            model.step()
        assert evaluations == 5
    finally:
        model.close()


@settings(max_examples=300, deadline=None)
@given(
    shared=st.lists(st.integers(0, 3), max_size=400),
    tail_a=st.lists(st.integers(0, 3), max_size=300),
    tail_b=st.lists(st.integers(0, 3), max_size=300),
)
def test_longest_prefix_is_the_count_of_leading_equal_tokens(
    shared: list[int], tail_a: list[int], tail_b: list[int]
) -> None:
    # Small alphabets and long shared runs reach every branch: chunk doubling, bisection, the last steps.
    a, b = shared + tail_a, shared + tail_b
    expected = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    assert longest_prefix(a, b) == longest_prefix(b, a) == expected


def test_longest_prefix_finds_the_first_difference_wherever_it_is() -> None:
    for length in (1, 31, 32, 33, 64, 65, 192, 1000):
        cached = list(range(length))
        assert longest_prefix(cached, [*cached, 7]) == longest_prefix([*cached, 7], cached) == length
        for at in range(length):  # every position: chunk edges, bisection midpoints, the last steps
            changed = [*cached[:at], -1, *cached[at + 1 :]]
            assert longest_prefix(cached, changed) == at, (length, at)


def test_a_newcomer_sharing_only_the_opening_keeps_off_a_cached_conversation(tiny_model) -> None:  # type: ignore[no-untyped-def]
    from engine.runtime import CancelToken
    from engine.runtime.batch import BatchedModel

    model = BatchedModel(tiny_model)
    try:
        params = GenerationParams(max_tokens=3, temperature=0.0, ignore_eos=True)
        for text in ("A conversation that will come back", "Something else entirely"):
            model.admit(model.tokenize(text), params, CancelToken(), lambda _chunk: None, 0.0)
            while model.active:
                model.step()
        kept = model.tokenize("A conversation that will come back")
        cached = [slot.tokens for slot in model.slots if slot.tokens]
        # Both share the BOS token, and that is all: the newcomer took an empty sequence.
        assert len(cached) == 2 and any(tokens[: len(kept)] == kept for tokens in cached)
    finally:
        model.close()


def test_end_of_generation_tokens_are_listed_only_when_a_request_needs_them(tiny_model) -> None:  # type: ignore[no-untyped-def]
    from engine.runtime import CancelToken
    from engine.runtime.batch import BatchedModel

    model = BatchedModel(tiny_model)
    try:
        assert "_eog" not in vars(model)  # asking llama.cpp about 262k tokens costs a real model ~0.3 s to load
        sampled = GenerationParams(max_tokens=2, temperature=0.7, ignore_eos=True)  # its bias lists them
        model.admit(model.tokenize("hi"), sampled, CancelToken(), lambda _chunk: None, 0.0)
        assert "_eog" in vars(model) and model.model.token_eos() in model._eog
    finally:
        model.close()


def test_each_step_records_the_tokens_that_had_logits(tiny_model) -> None:  # type: ignore[no-untyped-def]
    """The step cost learns from (tokens, tokens with logits): the count kept while filling the batch is
    llama.cpp's own flags' count, with prompts (logits for the last token only), drafts and plain steps."""
    from dataclasses import replace

    import numpy as np

    from engine.runtime import CancelToken
    from engine.runtime.batch import BatchedModel

    model = BatchedModel(replace(tiny_model, settings=replace(tiny_model.settings, speculation="lookup")))
    seen: list[tuple[int, int | None, int]] = []

    def recording(n_tokens: int, seconds: float, outputs: int | None = None) -> None:
        flags = np.ctypeslib.as_array(model.batch.batch.logits, shape=(n_tokens,))
        seen.append((n_tokens, outputs, int(np.count_nonzero(flags))))

    model.step_cost.record = recording  # type: ignore[method-assign]
    # Fixed step costs, a GPU's (extra tokens nearly free), so that drafts are made whatever this machine's timings.
    model.step_cost.of = lambda n_tokens: 1.0 + 0.05 * (n_tokens - 1)  # type: ignore[method-assign]
    try:
        # (a reply of two favoured tokens repeats its own n-grams: drafts)
        params = GenerationParams(max_tokens=30, temperature=0.0, ignore_eos=True, logit_bias=((300, 15), (301, 15)))
        for prompt in ("one two three four " * 6, "a story", "five six seven " * 9):
            model.admit(model.tokenize(prompt), params, CancelToken(), lambda _chunk: None, 0.0)
        while model.active:
            model.step()
    finally:
        model.close()
    assert len(seen) > 20
    assert all(outputs == flagged for _, outputs, flagged in seen)
    assert any(n_tokens > flagged for n_tokens, _, flagged in seen)  # (a prompt: one token of many)
    assert any(flagged > 3 for _, _, flagged in seen)  # (drafts: several tokens of one sequence)
