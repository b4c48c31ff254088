"""A model's memory, estimated from its registry record before it is loaded: the KV cache a token takes is
read from the file and matches what llama.cpp keeps, and the estimate follows the settings that cost memory
(parallel sequences, context) and the host that loads the model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gguf
import numpy as np
import pytest
from llama_cpp import llama_cpp as C

from engine.models import ModelRegistry
from engine.models.gguf_header import read_header
from engine.models.memory import (
    COMPUTE_BYTES,
    DEFAULT_RAM_CACHE_BYTES,
    context_per_sequence,
    estimate_memory,
    micro_batch,
)
from engine.models.metadata import facts_from_header
from engine.models.registry import ModelRecord
from engine.runtime import CancelToken, GenerationParams, Runtime
from engine.runtime.batch import BatchedModel
from engine.runtime.manager import estimated_memory
from tests.tiny_gguf import write_tiny_gguf

LAYERS, HEADS, KV_HEADS, EMBEDDING = 2, 4, 2, 64
HEAD_SIZE = EMBEDDING // HEADS


@pytest.fixture()
def gqa_model(registry: ModelRegistry, tmp_path: Path) -> ModelRecord:
    """A tiny model with grouped-query attention: 4 query heads share 2 K/V heads."""
    path = write_tiny_gguf(tmp_path / "gqa.gguf", n_layers=LAYERS, n_heads=HEADS, n_kv_heads=KV_HEADS, seed=5)
    return registry.import_file(path, "gqa")


def test_kv_bytes_per_token_count_only_the_kv_heads(gqa_model: ModelRecord, tiny_model: ModelRecord) -> None:
    f16 = 2
    assert gqa_model.facts.kv_bytes_per_token == LAYERS * 2 * KV_HEADS * HEAD_SIZE * f16  # K and V
    assert tiny_model.facts.kv_bytes_per_token == 2 * gqa_model.facts.kv_bytes_per_token  # a K/V head per head


@pytest.mark.parametrize("name", ["gqa", "tiny"])
def test_llama_cpp_keeps_that_many_bytes_a_token(name: str, gqa_model: ModelRecord, tiny_model: ModelRecord) -> None:
    record = {"gqa": gqa_model, "tiny": tiny_model}[name]
    model = BatchedModel(record)
    try:
        sizes = {}
        for n_tokens in (100, 300):
            model.admit([1] + [40 + i % 50 for i in range(n_tokens - 1)], GenerationParams(max_tokens=1),
                        CancelToken(), lambda chunk: None, 0.0)
            while model.active:
                model.step()
            (slot,) = [s for s in model.slots if s.tokens]
            sizes[len(slot.tokens)] = C.llama_state_seq_get_size(model.ctx.ctx, slot.seq_id)
            model._forget(slot)
        (short, small), (long, large) = sorted(sizes.items())
        per_cell = (large - small) / (long - short)
        # llama.cpp stores each cell's K and V rows, plus its position, sequence count and sequence id.
        assert per_cell == record.facts.kv_bytes_per_token + 12
    finally:
        model.close()


def test_the_estimate_grows_with_parallel_sequences_and_context(tiny_model: ModelRecord) -> None:
    base = estimate_memory(tiny_model)
    assert base.cells == tiny_model.settings.parallel * 512  # the tiny model was trained for 512 tokens
    assert base.kv_cache == base.cells * tiny_model.facts.kv_bytes_per_token
    assert base.weights >= tiny_model.file_size
    wider = dataclasses.replace(tiny_model, settings=dataclasses.replace(tiny_model.settings, parallel=8))
    assert estimate_memory(wider).kv_cache == 2 * estimate_memory(dataclasses.replace(
        tiny_model, settings=dataclasses.replace(tiny_model.settings, parallel=4))).kv_cache
    longer = dataclasses.replace(tiny_model, settings=dataclasses.replace(tiny_model.settings, context_size=2048))
    assert context_per_sequence(longer) == 2048
    assert estimate_memory(longer).kv_cache == 4 * base.kv_cache
    assert estimated_memory(tiny_model) == base.total


def test_the_estimate_counts_the_micro_batch_the_model_is_loaded_with(tiny_model: ModelRecord) -> None:
    def record(batch_size: int, context: int = 4096) -> ModelRecord:
        settings = dataclasses.replace(tiny_model.settings, batch_size=batch_size, context_size=context)
        return dataclasses.replace(tiny_model, settings=settings)

    logits = tiny_model.settings.parallel * tiny_model.facts.vocab_size * 4
    assert estimate_memory(record(512)).buffers == COMPUTE_BYTES + logits
    assert estimate_memory(record(128)).buffers == COMPUTE_BYTES + logits  # (a floor: graphs of their own)
    # Micro-batches of 2,048 tokens: four times the activations (measured on the demo model: 145 MiB touched
    # against 39 MiB with 512).
    assert estimate_memory(record(2048)).buffers == 4 * COMPUTE_BYTES + logits
    assert micro_batch(record(2048, context=1024)) == 1024  # never more than a sequence's context
    # What the estimate counts on is what the model is loaded with.
    model = BatchedModel(record(1024, context=1024))
    try:
        assert model.n_ubatch == micro_batch(record(1024, context=1024)) == 1024
    finally:
        model.close()


def test_an_embedding_host_holds_one_sequence(tiny_model: ModelRecord) -> None:
    one = estimate_memory(tiny_model, sequences=1)
    assert estimated_memory(tiny_model, embedding=True) == one.total
    assert one.kv_cache * tiny_model.settings.parallel == estimate_memory(tiny_model).kv_cache


def test_an_unknown_kv_width_gets_a_generous_guess(gqa_model: ModelRecord) -> None:
    unknown = dataclasses.replace(gqa_model, facts=dataclasses.replace(gqa_model.facts, kv_bytes_per_token=None))
    assert estimate_memory(unknown).kv_cache > estimate_memory(gqa_model).kv_cache  # as if every head had K/V


def test_idle_conversations_budget_counts_for_generation_only(tiny_model: ModelRecord) -> None:
    generation, embedding = estimate_memory(tiny_model), estimate_memory(tiny_model, sequences=1)
    assert generation.saved_conversations == DEFAULT_RAM_CACHE_BYTES and embedding.saved_conversations == 0
    assert generation.total == (
        generation.weights + generation.kv_cache + generation.buffers + generation.saved_conversations
    )


def test_records_from_an_older_version_get_their_facts_completed(
    registry: ModelRegistry, gqa_model: ModelRecord
) -> None:
    manifest = json.loads(registry.manifest.read_text())
    del manifest["models"]["gqa"]["facts"]["kv_bytes_per_token"]  # as an older version wrote it
    registry.manifest.write_text(json.dumps(manifest))
    old = registry.get("gqa")
    assert old.facts.kv_bytes_per_token is None  # such records still load, and get the guess meanwhile
    assert registry.complete_facts() == ("gqa",)
    assert registry.get("gqa") == gqa_model
    assert registry.complete_facts() == ()  # once


def test_a_record_whose_file_is_gone_is_left_as_it_is(registry: ModelRegistry, gqa_model: ModelRecord) -> None:
    manifest = json.loads(registry.manifest.read_text())
    del manifest["models"]["gqa"]["facts"]["kv_bytes_per_token"]
    registry.manifest.write_text(json.dumps(manifest))
    written = registry.manifest.read_bytes()
    gqa_model.path.unlink()
    assert registry.complete_facts() == ()
    assert registry.manifest.read_bytes() == written  # not rewritten at every start-up


def test_completed_facts_do_not_reload_a_loaded_model(registry: ModelRegistry, gqa_model: ModelRecord) -> None:
    manifest = json.loads(registry.manifest.read_text())
    del manifest["models"]["gqa"]["facts"]["kv_bytes_per_token"]
    registry.manifest.write_text(json.dumps(manifest))
    runtime = Runtime(registry)
    try:
        worker = runtime.load("gqa")
        assert registry.complete_facts() == ("gqa",)
        assert runtime.load("gqa") is worker  # the same file and settings: nothing to reload
        registry.update_settings("gqa", parallel=2)
        assert runtime.load("gqa") is not worker
    finally:
        runtime.close()


def _header_only(path: Path, arch: str, tensors: dict[str, tuple[int, int]], heads: int = 4, kv_heads: int = 2) -> Path:
    """A GGUF with the given 2-D tensors (rows, columns) and head counts; enough for its header's facts."""
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.add_embedding_length(EMBEDDING)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    for name, shape in tensors.items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize(
    ("arch", "tensors", "expected"),
    [
        # A fused projection of 4 query heads and 2 K and 2 V heads of 16: K and V are half of its width.
        ("phi3", {"blk.0.attn_qkv.weight": ((4 + 2 + 2) * HEAD_SIZE, EMBEDDING)}, 2 * 2 * HEAD_SIZE * 2),
        ("mamba", {"blk.0.attn_norm.weight": (1, EMBEDDING), "blk.0.ssm_in.weight": (128, EMBEDDING)}, 0),
        # An encoder-decoder model's blocks are prefixed.
        ("t5", {"dec.blk.0.attn_k.weight": (32, EMBEDDING), "dec.blk.0.attn_v.weight": (32, EMBEDDING)}, 64 * 2),
        # Compressed attention (DeepSeek's MLA) caches something else: not known, so the estimate guesses.
        ("deepseek2", {"blk.0.attn_q_a.weight": (32, EMBEDDING), "blk.0.attn_kv_a_mqa.weight": (48, EMBEDDING)}, None),
    ],
)
def test_kv_width_of_other_attention_layouts(
    tmp_path: Path, arch: str, tensors: dict[str, tuple[int, int]], expected: int | None
) -> None:
    facts = facts_from_header(read_header(_header_only(tmp_path / f"{arch}.gguf", arch, tensors)))
    assert facts.kv_bytes_per_token == expected
