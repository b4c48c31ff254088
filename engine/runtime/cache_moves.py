"""The KV cache's housekeeping for continuous batching: which sequence a prompt goes to, and moving states.

A returning conversation goes back to the sequence (or the state saved in RAM) that shares the longest
start with its prompt; a prompt that starts like another sequence's tokens shares those cells; idle
conversations move to RAM and running ones to the start of the cache when that makes attention cheaper
(`compact`, `clear_for_prompt`). These are decisions about where states live, apart from the decode loop
in engine.runtime.batch, which calls them with its `BatchedModel` before a step and when it admits a request.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from llama_cpp import llama_cpp as C

from engine.errors import UserError
from engine.runtime.loaded import longest_prefix
from engine.runtime.requests import Saved, Slot, Turns

if TYPE_CHECKING:
    from engine.runtime.batch import BatchedModel

# A saved state is only worth its memory when it spares evaluating at least this many tokens.
MIN_TOKENS_WORTH_SAVING = 32
# A prompt shares at least this many leading tokens with another sequence's before it copies them from it
# (or waits a step for them, when the other is evaluating them now) instead of evaluating them itself.
MIN_TOKENS_WORTH_SHARING = 16
# A prompt with at least this many tokens to evaluate first moves idle conversations' caches to RAM (see
# `clear_for_prompt`): its cells then sit at the bottom of the cache, not above theirs.
CLEAR_FOR_PROMPT_TOKENS = 512
# A running request that has produced this many tokens will likely produce many more: the cache is then
# tidied for the requests running (see `compact`), at the cost of copying their cells once.
COMPACT_AFTER_TOKENS = 16


def _pointer(buffer: npt.NDArray[np.uint8]) -> ctypes._Pointer[ctypes.c_uint8]:
    """`buffer`'s bytes as llama.cpp's state functions take them (no copy)."""
    return buffer.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))


def choose_slot(model: BatchedModel, prompt: list[int]) -> tuple[Slot, int]:
    """The free slot whose cache best matches `prompt` (restoring a saved state if that is better),
    and how many of the prompt's tokens it holds."""
    free = [slot for slot in model.slots if not slot.busy]
    match = {slot.seq_id: longest_prefix(slot.tokens, prompt) for slot in free}
    best = max(free, key=lambda s: (match[s.seq_id], -s.last_used))
    best_match = match[best.seq_id]
    saved_key, saved_match = None, 0
    for key, saved in model.saved.items():
        shared = longest_prefix(saved.tokens, prompt)
        if shared > saved_match:
            saved_key, saved_match = key, shared
    if saved_key is not None and saved_match > best_match + MIN_TOKENS_WORTH_SAVING // 2:
        # Overwrite the free slot that matters least: least recently used among the worst matches.
        target = min(free, key=lambda s: (match[s.seq_id], s.last_used))
        save(model, target)
        restored = _restore(model, saved_key, target)  # on refusal the slot is simply empty
        return target, saved_match if restored else 0
    empty = [slot for slot in free if not slot.tokens]
    if best_match < MIN_TOKENS_WORTH_SAVING // 2:
        # Sharing a few tokens (the BOS, a common opening) is not worth another conversation's cache:
        # take an empty sequence, else the least recently used.
        best = min(free, key=lambda s: (bool(s.tokens), s.last_used))
    elif empty and len(best.tokens) - best_match >= MIN_TOKENS_WORTH_SHARING:
        # Only the start is shared (a system prompt, say): leave the other conversation where it is
        # and share that start with an empty sequence (see `copy_shared_prefix`).
        best = empty[0]
    return best, match[best.seq_id]


def save(model: BatchedModel, slot: Slot) -> bool:
    """Copy a slot's KV state to RAM (LRU within the budget) before it is overwritten; False when it
    was not worth it or did not fit."""
    if len(slot.tokens) < MIN_TOKENS_WORTH_SAVING or model.ram_cache_bytes <= 0:
        return False
    buffer = _state_of(model, slot.seq_id, model.ram_cache_bytes)
    if buffer is None:
        return False
    model._saved_ids += 1
    model.saved[model._saved_ids] = Saved(list(slot.tokens), buffer, list(slot.ahead), slot.turns)
    while sum(s.state.size for s in model.saved.values()) > model.ram_cache_bytes:
        model.saved.popitem(last=False)
    return True


def _state_of(model: BatchedModel, seq_id: int, limit: int | None = None) -> npt.NDArray[np.uint8] | None:
    """A copy of one sequence's KV state (None if llama.cpp cannot give it, or it exceeds `limit` bytes).

    The buffer is not zeroed first and is kept as it is: llama.cpp writes every byte, and a 4,000-token
    state is tens of megabytes, so each extra pass over it (zeroing, a copy into `bytes`, another on the
    way back in) is time before a long prompt's first token (see `clear_for_prompt`)."""
    size = C.llama_state_seq_get_size(model.ctx.ctx, seq_id)
    if size <= 0 or (limit is not None and size > limit):
        return None
    buffer = np.empty(size, dtype=np.uint8)
    if C.llama_state_seq_get_data(model.ctx.ctx, _pointer(buffer), size, seq_id) != size:
        return None
    return buffer


def _restore(model: BatchedModel, key: int, slot: Slot) -> bool:
    """Load a RAM-saved state into `slot`; False if llama.cpp refused it."""
    saved = model.saved.pop(key)
    forget(model, slot)
    if C.llama_state_seq_set_data(model.ctx.ctx, _pointer(saved.state), saved.state.size, slot.seq_id) == 0:
        return False
    slot.tokens, slot.ahead, slot.turns = saved.tokens, saved.ahead, saved.turns
    return True


def forget(model: BatchedModel, slot: Slot) -> None:
    """Empty a sequence's cache."""
    model.ctx.kv_cache_seq_rm(slot.seq_id, 0, -1)
    slot.tokens = []
    slot.ahead = []
    slot.turns = Turns()


def copy_shared_prefix(model: BatchedModel, slot: Slot, prompt: list[int], reuse: int) -> int:
    """Give `slot` the longest start of `prompt` that another sequence holds beyond its own `reuse`
    tokens (a system prompt shared by many conversations, say). In llama.cpp's unified KV cache the
    two sequences then share those cells: nothing is copied but the cells' sequence sets. Returns
    how many of the prompt's tokens the slot now holds."""
    if not model.shares_prefixes:
        return reuse
    donor, shared = None, reuse
    for other in model.slots:
        if other is not slot:
            n = min(longest_prefix(other.tokens, prompt), len(prompt) - 1)
            if n > shared:
                donor, shared = other, n
    if donor is None or shared - reuse < MIN_TOKENS_WORTH_SHARING:
        return reuse
    model.ctx.kv_cache_seq_cp(donor.seq_id, slot.seq_id, reuse, shared)
    slot.tokens.extend(prompt[reuse:shared])
    return shared


def compact(model: BatchedModel) -> None:
    """Keep the cache's occupied cells to the running sequences, at its start, once they have settled.

    For every head of every layer, llama.cpp's attention visits each cell up to the highest occupied
    one, whichever sequence holds it: in the unified cache, other conversations' idle caches, or a
    running sequence's own cells far up the buffer, slow every token of every request. (Measured on a
    1.1B model: 57 ms per token, and 84 ms with one occupied cell at 12,100.) So once the running
    requests have all made `COMPACT_AFTER_TOKENS` tokens, idle sequences move to RAM (a returning
    conversation is restored from there, see `choose_slot`) and the running ones to the start of the
    cache: their states are copied out and back in, which llama.cpp places from the first free cell.
    An idle cache too big for the RAM budget stays where it is rather than be lost.
    """
    shared = [request for request in model.active if not request.solo]
    if not model.shares_prefixes or not shared:
        return  # a recurrent state is not cells
    running = frozenset(request.serial for request in shared)
    if running == model._compacted_for or any(
        request.prefilling or request.leader is not None or request.generated < COMPACT_AFTER_TOKENS
        for request in shared
    ):
        return
    if any(slot.ahead and not slot.busy for slot in model.slots):
        return  # an idle sequence's work ahead is not done yet: it goes to RAM once it is
    model._compacted_for = running
    for slot in model.slots:
        if not slot.busy and slot.tokens and (len(slot.tokens) < MIN_TOKENS_WORTH_SAVING or save(model, slot)):
            forget(model, slot)  # (a few tokens are not worth RAM: evaluating them again is quick)
    moving = [(request, _state_of(model, request.slot.seq_id)) for request in shared]
    for request, state in moving:
        if state is not None:  # (else llama.cpp could not copy it: it stays where it is)
            model.ctx.kv_cache_seq_rm(request.slot.seq_id, 0, -1)
    placed: list[Slot] = []
    for request, state in moving:
        if state is None:
            continue
        if C.llama_state_seq_set_data(model.ctx.ctx, _pointer(state), state.size, request.slot.seq_id) == 0:
            request.emit(UserError("llama.cpp could not move the request's cache; the request was stopped"))
            model._release(request, keep_cache=False)
            continue
        _share_again(model, request.slot, placed)
        placed.append(request.slot)


def _share_again(model: BatchedModel, slot: Slot, placed: list[Slot]) -> None:
    """After a move, the start `slot` has in common with a sequence placed before it shares that
    sequence's cells again (four requests with one long system prompt hold it once, not four times)."""
    donor, shared = None, 0
    for other in placed:
        n = longest_prefix(other.tokens, slot.tokens)
        if n > shared:
            donor, shared = other, n
    if donor is not None and shared >= MIN_TOKENS_WORTH_SHARING:
        model.ctx.kv_cache_seq_rm(slot.seq_id, 0, shared)
        model.ctx.kv_cache_seq_cp(donor.seq_id, slot.seq_id, 0, shared)


def clear_for_prompt(model: BatchedModel) -> None:
    """Before a long prompt's first chunk, move idle conversations' caches to RAM (as `compact` does).

    Attention visits every cell up to the highest occupied one: a 4,000-token prompt evaluated above
    two idle 4,000-token conversations costs ~1.4× its time alone, and every token of its reply is
    slower until the running requests settle. Saving an idle state to RAM is a memory copy (tens of
    milliseconds for thousands of tokens); the returning conversation is restored from there. A state
    too big for the RAM budget stays where it is rather than be lost.
    """
    if not model.shares_prefixes:
        return
    long_prompt = any(
        not request.solo
        and request.leader is None
        and request.prefilled == request.reused  # nothing of it evaluated yet: its first chunk comes now
        and len(request.prompt) - request.prefilled >= CLEAR_FOR_PROMPT_TOKENS
        for request in model.active
    )
    if not long_prompt:
        return
    for slot in model.slots:
        if not slot.busy and slot.tokens and (len(slot.tokens) < MIN_TOKENS_WORTH_SAVING or save(model, slot)):
            forget(model, slot)
