"""How much memory a model takes once loaded, from its registry record alone (nothing is loaded).

The runtime keeps loaded models within a memory budget with it, and the GUI says whether a model fits and
what its settings cost. Measured on this project's build machine, a model loaded with 4 sequences of
4,096 tokens, after four 500-token prompts: the demo model's process grew by 621 MiB against an estimate
of 622 for weights, KV cache and buffers (its KV cache is exactly the 288 MiB estimated). The bench's 1.1B
Q4_K_M model grew by 1,502 MiB against 1,117: llama.cpp repacks Q4_K weights for AVX2 into memory of its
own, and the file pages it read them from stay resident only until the system needs the memory (without
them: about 1,045 MiB). On top comes what idle conversations' saved caches take, up to a fixed budget.

llama.cpp's graph buffers grow with the micro-batch (the batch-size setting): the activations of every token
evaluated in one graph run. Measured on the demo model (2026-12-07), a 2,048-token prompt in micro-batches of
512 tokens touched 39 MiB of them, in micro-batches of 2,048 tokens 145 MiB; what llama.cpp reserves is far
more (516 and 2,063 MiB, mostly logits for a whole micro-batch that a prompt never asks for) but is never
touched on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.models.registry import ModelRecord

DEFAULT_CONTEXT = 4096  # tokens per sequence when neither the settings nor the model say otherwise
COMPUTE_BYTES = 64 * 1024**2  # llama.cpp's graph buffers for a 512-token micro-batch, as used (not as reserved)
COMPUTE_BATCH = 512  # the micro-batch COMPUTE_BYTES is for; a larger one takes proportionally more
MIN_MICRO_BATCH = 32
LOGIT_BYTES = 4  # one float per vocabulary entry for every sequence's next token
DEFAULT_RAM_CACHE_BYTES = 512 * 1024**2  # idle conversations' KV states saved to RAM, per generation host


def context_per_sequence(record: ModelRecord) -> int:
    """Tokens of context each parallel sequence gets: the setting, else the model's own up to 4,096."""
    trained = record.facts.context_length or DEFAULT_CONTEXT
    return record.settings.context_size or min(trained, DEFAULT_CONTEXT)


def micro_batch(record: ModelRecord) -> int:
    """Tokens llama.cpp evaluates in one graph run (n_ubatch): the batch-size setting, at most a sequence's
    context."""
    return max(MIN_MICRO_BATCH, min(record.settings.batch_size, context_per_sequence(record)))


@dataclass(frozen=True)
class MemoryEstimate:
    """A loaded model's memory, in bytes, by what it is for."""

    weights: int  # the file, mapped, plus a tenth for what loading builds from it (vocabulary, repacks)
    kv_cache: int  # every parallel sequence's full context
    buffers: int  # compute graph and logits
    saved_conversations: int  # the most idle conversations' caches take in RAM
    cells: int  # tokens the KV cache holds: parallel × context per sequence

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.buffers + self.saved_conversations


def estimate_memory(record: ModelRecord, *, sequences: int | None = None) -> MemoryEstimate:
    """What loading `record` with its current settings will take, for `sequences` parallel sequences
    (default: its `parallel` setting, for generation; an embedding host has one and saves nothing)."""
    facts = record.facts
    generation = sequences is None
    sequences = sequences or record.settings.parallel
    cells = sequences * context_per_sequence(record)
    per_token = facts.kv_bytes_per_token
    if per_token is None:
        # Not known (see ModelFacts): K and V as wide as the embedding in every layer, as without
        # grouped-query attention, which errs on the side of "does not fit".
        per_token = facts.layer_count * 2 * facts.embedding_length * 2
    compute = COMPUTE_BYTES * max(COMPUTE_BATCH, micro_batch(record)) // COMPUTE_BATCH
    buffers = compute + sequences * facts.vocab_size * LOGIT_BYTES
    saved = DEFAULT_RAM_CACHE_BYTES if generation else 0
    return MemoryEstimate(record.file_size + record.file_size // 10, per_token * cells, buffers, saved, cells)
