"""Long prompts: a lone one goes into llama.cpp in full batches; idle caches leave for RAM first (tiny model)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_cpp import llama_cpp as C

from engine.models import ModelRegistry
from engine.runtime import CancelToken, Chunk, GenerationParams
from engine.runtime.batch import BatchedModel
from engine.runtime.cache_moves import CLEAR_FOR_PROMPT_TOKENS

GREEDY = GenerationParams(max_tokens=4, temperature=0.0, ignore_eos=True)


@pytest.fixture
def model(registry: ModelRegistry, tiny_model: Any) -> Iterator[BatchedModel]:
    """The tiny model with a 2,048-token context per sequence and micro-batches of 128 tokens."""
    record = registry.update_settings("tiny", context_size=2048, batch_size=128)
    loaded = BatchedModel(record)
    yield loaded
    loaded.close()


@pytest.fixture
def decode_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of tokens of every llama_decode call made while the test runs."""
    sizes: list[int] = []
    original = C.llama_decode

    def counted(ctx: Any, batch: Any) -> int:
        sizes.append(int(batch.n_tokens))
        return int(original(ctx, batch))

    monkeypatch.setattr(C, "llama_decode", counted)
    return sizes


def _run(model: BatchedModel, prompt: list[int], params: GenerationParams = GREEDY) -> list[Chunk]:
    out: list[Any] = []
    model.admit(prompt, params, CancelToken(), out.append, 0.0)
    while model.active:
        model.step()
    return [item for item in out if isinstance(item, Chunk)]


def test_a_lone_long_prompt_is_one_decode_call(model: BatchedModel, decode_sizes: list[int]) -> None:
    prompt = model.tokenize("word " * 300)
    assert model.n_ubatch < len(prompt) <= model.n_batch  # several micro-batches, one logical batch
    _run(model, prompt)
    # The whole prompt in one call (llama.cpp splits it into micro-batches itself), then one per token.
    assert decode_sizes[0] == len(prompt)
    assert decode_sizes[1:] == [1, 1, 1]


def test_a_long_prompt_is_chunked_while_another_stream_decodes(model: BatchedModel, decode_sizes: list[int]) -> None:
    from engine.runtime.batch import PREFILL_CHUNK_WHILE_DECODING

    running: list[Any] = []
    model.admit(
        model.tokenize("running"),
        GenerationParams(max_tokens=100, temperature=0.0, ignore_eos=True),
        CancelToken(),
        running.append,
        0.0,
    )
    model.step()
    prompt = model.tokenize("word " * 300)
    newcomer: list[Any] = []
    model.admit(prompt, GREEDY, CancelToken(), newcomer.append, 0.0)
    decode_sizes.clear()
    while not newcomer:
        model.step()
    assert max(decode_sizes) <= 1 + PREFILL_CHUNK_WHILE_DECODING
    assert len(decode_sizes) >= len(prompt) // PREFILL_CHUNK_WHILE_DECODING


def test_idle_conversations_move_to_ram_before_a_long_prompt_and_come_back(model: BatchedModel) -> None:
    first = model.tokenize("first conversation about the harbour " * 3)
    second = model.tokenize("second conversation about the market " * 3)
    replies = [_run(model, first), _run(model, second)]
    held = sorted(len(slot.tokens) for slot in model.slots if slot.tokens)
    assert len(held) == 2 and not model.saved
    # A short prompt leaves them where they are.
    _run(model, model.tokenize("short one"))
    assert not model.saved
    long_prompt = model.tokenize("a long document " * 45)
    assert len(long_prompt) >= CLEAR_FOR_PROMPT_TOKENS
    out: list[Any] = []
    model.admit(long_prompt, GREEDY, CancelToken(), out.append, 0.0)
    model.step()
    # Both idle conversations are in RAM now, their cells freed before the prompt's first chunk.
    assert len(model.saved) == 2
    assert all(not slot.tokens for slot in model.slots if not slot.busy)
    while model.active:
        model.step()
    # The first conversation returns: restored from RAM, only its new turn evaluated, same reply as before.
    text = "".join(chunk.text for chunk in replies[0])
    again = _run(model, first)
    assert "".join(chunk.text for chunk in again) == text
    usage = again[-1].usage
    assert usage is not None and usage.cached_prompt_tokens >= len(first) - 1


def test_saved_states_stay_within_the_ram_budget(registry: ModelRegistry, tiny_model: Any) -> None:
    record = registry.update_settings("tiny", context_size=2048, batch_size=128)
    first_text, second_text = "first conversation about the harbour " * 3, "second conversation about the market " * 3
    probe = BatchedModel(record)
    try:
        expected = "".join(chunk.text for chunk in _run(probe, probe.tokenize(second_text)))
        (held,) = [slot for slot in probe.slots if slot.tokens]
        size = C.llama_state_seq_get_size(probe.ctx.ctx, held.seq_id)
    finally:
        probe.close()
    model = BatchedModel(record, ram_cache_bytes=size * 3 // 2)  # room for one such state, not two
    try:
        first, second = model.tokenize(first_text), model.tokenize(second_text)
        _run(model, first)
        _run(model, second)
        _run(model, model.tokenize("a long document " * 45))  # both idle conversations leave for RAM
        # The older one made room for the newer: what RAM holds stays within the budget.
        assert [saved.tokens[: len(second)] for saved in model.saved.values()] == [second]
        assert sum(saved.state.size for saved in model.saved.values()) <= model.ram_cache_bytes
        again = _run(model, second)  # restored from RAM: the same reply, its prompt not evaluated again
        assert "".join(chunk.text for chunk in again) == expected
        usage = again[-1].usage
        assert usage is not None and usage.cached_prompt_tokens >= len(second) - 1
    finally:
        model.close()
