"""The llama.cpp runtime on the tiny model: streaming, cancel, concurrency, prefix reuse, limits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.models import ModelRegistry
from engine.models.templates import TemplateError
from engine.runtime import CancelToken, GenerationParams, PromptTooLong, Runtime
from engine.runtime import worker as worker_module
from engine.runtime.manager import estimated_memory
from tests.tiny_gguf import write_tiny_gguf

LONG = GenerationParams(max_tokens=60, temperature=0.0, ignore_eos=True)


def test_chat_streams_chunks_and_reports_usage(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    generation = runtime.chat(
        [{"role": "user", "content": "Hello there"}], GenerationParams(max_tokens=20, ignore_eos=True)
    )
    chunks = list(generation)
    assert len(chunks) >= 5  # streamed piece by piece, not in one block
    final = chunks[-1]
    assert final.finish_reason == "length"
    assert final.usage is not None and final.usage.completion_tokens == 20
    assert final.usage.prompt_tokens > 5
    assert final.timings is not None and final.timings.time_to_first_token_s > 0
    assert generation.final is final


def test_cancel_stops_generation_within_one_token(tiny_model) -> None:  # type: ignore[no-untyped-def]
    from engine.runtime.batch import BatchedModel

    model = BatchedModel(tiny_model)  # stepped directly, on this thread, to observe token by token
    out: list[object] = []
    try:
        cancel = CancelToken()
        params = GenerationParams(max_tokens=400, ignore_eos=True)
        model.admit(model.tokenize("Tell a long story"), params, cancel, out.append, 0.0)
        while model.active[0].generated < 3:  # a token may emit no text yet (half a UTF-8 character)
            model.step()
        cancel.cancel()
        model.step()
        final = [c for c in out if getattr(c, "finish_reason", None)][0]
        assert final.finish_reason == "cancelled"  # type: ignore[attr-defined]
        assert final.usage.completion_tokens == 3  # type: ignore[attr-defined]  # not one token more
        assert out[-1] is None and not model.active
    finally:
        model.close()


def test_cancel_mid_stream_through_the_worker(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    generation = runtime.chat(
        [{"role": "user", "content": "Tell a long story"}], GenerationParams(max_tokens=480, ignore_eos=True)
    )
    for _chunk in generation:
        generation.cancel()
    assert generation.final is not None and generation.final.finish_reason == "cancelled"
    assert generation.final.usage is not None and generation.final.usage.completion_tokens < 480
    # The worker is free for the next request at once.
    assert runtime.chat([{"role": "user", "content": "next"}], GenerationParams(max_tokens=5, ignore_eos=True)).text()


def test_abandoned_iterator_cancels_its_generation(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    generation = runtime.chat([{"role": "user", "content": "story"}], GenerationParams(max_tokens=480, ignore_eos=True))
    iterator = iter(generation)
    next(iterator)
    iterator.close()  # what a client disconnect does to the SSE loop
    assert generation._job.cancel.cancelled


def test_two_concurrent_requests_both_complete(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    results: dict[int, object] = {}

    def ask(i: int) -> None:
        gen = runtime.chat(
            [{"role": "user", "content": f"Question {i}"}], GenerationParams(max_tokens=30, ignore_eos=True)
        )
        text = gen.text()
        results[i] = (text, gen.final)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(results) == {0, 1}
    for text, final in results.values():  # type: ignore[misc]
        assert final.finish_reason == "length" and final.usage.completion_tokens == 30
        assert text


def test_second_turn_evaluates_only_the_new_tokens(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    history = [{"role": "user", "content": "The first question is about rivers and bridges"}]
    first = runtime.chat(history, LONG)
    first.text()
    # Random weights emit arbitrary bytes; a plain reply keeps the history short and readable.
    reply = "Rivers are long and bridges cross them."
    u1 = first.final.usage  # type: ignore[union-attr]
    assert u1.cached_prompt_tokens == 0 and u1.evaluated_prompt_tokens == u1.prompt_tokens

    history += [{"role": "assistant", "content": reply}, {"role": "user", "content": "And a second one"}]
    second = runtime.chat(history, LONG)
    second.text()
    u2 = second.final.usage  # type: ignore[union-attr]
    # The whole first prompt came from the cache; only the reply and the new message were evaluated.
    assert u2.cached_prompt_tokens >= u1.prompt_tokens - 1
    assert u2.evaluated_prompt_tokens == u2.prompt_tokens - u2.cached_prompt_tokens
    assert u2.evaluated_prompt_tokens < u2.prompt_tokens - u1.prompt_tokens + 2


def test_prefix_reuse_gives_the_same_answer_as_a_fresh_model(registry: ModelRegistry, tiny_model) -> None:  # type: ignore[no-untyped-def]
    prefix = [{"role": "user", "content": "Shared beginning of a conversation"}]
    follow = prefix + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "next"}]
    warm = Runtime(registry)
    cold = Runtime(registry)
    try:
        warm.chat(prefix, LONG).text()
        warm_gen = warm.chat(follow, LONG)
        warm_text = warm_gen.text()
        cold_text = cold.chat(follow, LONG).text()
        assert warm_gen.final.usage.cached_prompt_tokens > 0  # type: ignore[union-attr]
        assert warm_text == cold_text
    finally:
        warm.close()
        cold.close()


def _listen(generation) -> tuple[list[object], threading.Event]:  # type: ignore[no-untyped-def]
    """What a listener is handed, on the model's thread, until the end."""
    items: list[object] = []
    ended = threading.Event()

    def on_item(item: object) -> None:
        items.append(item)
        if item is None:
            ended.set()

    generation.listen(on_item)
    return items, ended


def test_a_listener_gets_every_chunk_in_order_then_none(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    params = GenerationParams(max_tokens=30, temperature=0.0, ignore_eos=True)
    messages = [{"role": "user", "content": "Hello there"}]
    iterated = list(runtime.chat(messages, params))
    generation = runtime.chat(messages, params)
    time.sleep(0.05)  # some chunks are already waiting when the listener arrives: they come first
    items, ended = _listen(generation)
    assert ended.wait(30)
    assert items[-1] is None and None not in items[:-1]
    chunks = items[:-1]
    assert "".join(c.text for c in chunks) == "".join(c.text for c in iterated)  # type: ignore[attr-defined]
    assert generation.final is chunks[-1] and generation.final.finish_reason == "length"  # type: ignore[attr-defined]


def test_a_listener_gets_an_engine_error_then_none(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    items, ended = _listen(runtime.chat([{"role": "user", "content": "word " * 1000}]))
    assert ended.wait(30)
    assert len(items) == 2 and isinstance(items[0], PromptTooLong) and items[1] is None


def test_prompt_longer_than_context_is_refused_before_inference(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PromptTooLong, match="context holds 512"):
        runtime.chat([{"role": "user", "content": "word " * 1000}]).text()
    # The model still works afterwards.
    assert runtime.chat([{"role": "user", "content": "hi"}], GenerationParams(max_tokens=3, ignore_eos=True)).text()


def test_stop_strings_end_the_reply_and_are_not_emitted(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    free = runtime.complete("abc", GenerationParams(max_tokens=40, temperature=0.0, ignore_eos=True)).text()
    stop = free[5:7]
    assert len(stop) == 2
    gen = runtime.complete("abc", GenerationParams(max_tokens=40, temperature=0.0, ignore_eos=True, stop=(stop,)))
    text = gen.text()
    assert stop not in text and free.startswith(text) and gen.final.finish_reason == "stop"  # type: ignore[union-attr]


def test_seed_makes_sampling_repeatable(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    params = GenerationParams(max_tokens=20, temperature=1.0, seed=42, ignore_eos=True)
    a = runtime.complete("Once", params).text()
    runtime.complete("Different prompt entirely", params).text()
    assert runtime.complete("Once", params).text() == a


def test_idle_model_is_unloaded_after_ttl(registry: ModelRegistry, tiny_model) -> None:  # type: ignore[no-untyped-def]
    rt = Runtime(registry, idle_ttl_s=0.2)
    try:
        rt.load("tiny")
        assert [m.name for m in rt.loaded()] == ["tiny"]
        deadline = time.monotonic() + 5
        while rt.loaded() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rt.loaded() == []
    finally:
        rt.close()


def test_memory_budget_unloads_the_least_recently_used(registry: ModelRegistry, tiny_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    registry.import_file(write_tiny_gguf(tmp_path / "other.gguf", seed=7), "other")
    one_model = estimated_memory(tiny_model)
    rt = Runtime(registry, memory_budget_bytes=one_model + 1000)
    try:
        rt.load("tiny")
        rt.load("other")
        assert [m.name for m in rt.loaded()] == ["other"]
    finally:
        rt.close()


def test_load_report_has_time_and_memory(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    report = runtime.load("tiny").wait_loaded()
    assert report.load_seconds > 0 and report.memory_bytes > 0 and report.context_size == 512


def test_malicious_template_in_a_gguf_fails_the_request_cleanly(
    registry: ModelRegistry, runtime: Runtime, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    evil = "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"
    registry.import_file(write_tiny_gguf(tmp_path / "evil.gguf", chat_template=evil, seed=3), "evil")
    with pytest.raises(TemplateError):
        runtime.chat([{"role": "user", "content": "hi"}], model="evil").text()
    assert not marker.exists()


def test_cancel_token_before_start_means_nothing_runs(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    token = CancelToken()
    token.cancel()
    gen = runtime.chat([{"role": "user", "content": "hi"}], LONG, cancel=token)
    assert list(gen) == []


def test_grammar_constrains_the_output_to_json(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    import json

    from llama_cpp.llama_grammar import JSON_GBNF

    params = GenerationParams(max_tokens=200, temperature=0.0, grammar=JSON_GBNF)
    gen = runtime.chat([{"role": "user", "content": "Give me JSON"}], params)
    text = gen.text()
    assert gen.final is not None
    if gen.final.finish_reason == "stop":  # the grammar completed: the whole reply parses
        json.loads(text)
    else:  # cut at max_tokens: still a prefix of JSON (starts like an object or array)
        assert text.lstrip()[:1] in "{["


def test_embeddings_are_one_unit_vector_per_input(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    import math

    vectors, tokens = runtime.embed(["first text", "a second, longer text", "first text"])
    assert len(vectors) == 3 and tokens > 6
    assert all(len(v) == 64 for v in vectors)  # the tiny model's embedding length
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in vectors)
    same = sum(a * b for a, b in zip(vectors[0], vectors[2], strict=True))
    other = sum(a * b for a, b in zip(vectors[0], vectors[1], strict=True))
    assert same > 0.9999 and other < 0.999  # cosine similarity: same text same vector, other text not


def test_logit_bias_forces_and_forbids_tokens(runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    from engine.errors import UserError

    token_a = runtime.load("tiny").call(lambda m: m.tokenize("a", add_bos=False)[-1])
    forced = GenerationParams(max_tokens=6, temperature=1.0, logit_bias=((token_a, 100.0),), ignore_eos=True)
    assert runtime.complete("xyz", forced).text().replace(" ", "") == "a" * 6
    with pytest.raises(UserError, match="vocabulary"):
        runtime.complete("xyz", GenerationParams(logit_bias=((10**6, 1.0),))).text()


def test_the_model_waits_for_the_first_chunk_to_be_handled_before_decoding_on(  # type: ignore[no-untyped-def]
    runtime: Runtime, tiny_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tiny model decodes a token in well under a millisecond: without the hand-over the second chunk
    # would be out long before the consumer says it has delivered the first.
    monkeypatch.setattr(worker_module, "FIRST_CHUNK_HANDOFF_S", 5.0)
    generation = runtime.chat([{"role": "user", "content": "Hello"}], GenerationParams(max_tokens=5, ignore_eos=True))
    arrivals: list[float] = []
    items, ended = _listen(generation)
    while not items:
        time.sleep(0.001)
    arrivals.append(time.perf_counter())
    time.sleep(0.2)  # delivering the first chunk takes a while
    handled_at = time.perf_counter()
    assert len(items) == 1  # nothing decoded meanwhile
    generation.handled()
    assert ended.wait(30)
    assert items[-1] is None and items[-2].usage.completion_tokens == 5  # type: ignore[attr-defined]
    assert time.perf_counter() - handled_at < 4.0  # went on when told, not at the time limit


def test_a_consumer_that_never_says_handled_costs_only_the_time_limit(  # type: ignore[no-untyped-def]
    runtime: Runtime, tiny_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "FIRST_CHUNK_HANDOFF_S", 0.3)
    started = time.perf_counter()
    generation = runtime.chat([{"role": "user", "content": "Hi"}], GenerationParams(max_tokens=5, ignore_eos=True))
    items, ended = _listen(generation)
    assert ended.wait(30)
    assert 0.3 <= time.perf_counter() - started < 3.0
    assert items[-1] is None and items[-2].usage.completion_tokens == 5  # type: ignore[attr-defined]


def test_iterating_counts_as_handling_each_chunk(  # type: ignore[no-untyped-def]
    runtime: Runtime, tiny_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "FIRST_CHUNK_HANDOFF_S", 5.0)
    started = time.perf_counter()
    chunks = list(runtime.chat([{"role": "user", "content": "Hi"}], GenerationParams(max_tokens=5, ignore_eos=True)))
    assert chunks[-1].finish_reason == "length" and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert time.perf_counter() - started < 4.0  # the iterator came back for more: no wait for the limit
