"""The bookkeeping of continuous batching: requests being served, and the sequences they run in.

`BatchedModel` (engine.runtime.batch) decodes; the cache's housekeeping (engine.runtime.cache_moves),
speculation and the deterministic lanes read and update the same records. They live here, apart from
any of those, so that each can name them without importing the decode loop.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.runtime.candidates import Chain
from engine.runtime.loaded import StopFilter, longest_prefix
from engine.runtime.speculative import Speculation
from engine.runtime.types import CancelToken, Chunk, GenerationParams

if TYPE_CHECKING:
    from engine.runtime.deterministic import Lane

Emit = Callable[[Chunk | BaseException | None], None]
# A raw transcript's learnt framing, at most: "\nUser:" is 3 tokens, "### Instruction:\n" 6; a longer
# common start of two turns is more likely a repeated message than a framing.
MAX_LEARNT_FRAMING = 16


@dataclass(frozen=True)
class Turns:
    """What a conversation has sent after its replies, for a prompt without a chat template's turn change.

    A client that keeps a raw transcript ("...reply\nUser: question\nAssistant:") frames every turn the
    same way. Once two turns have come back after a reply exactly as it was produced, the tokens they
    both start with are that framing, and are evaluated ahead like a template's change of turn.
    """

    reply_end: int = -1  # where the last reply's text ends in the sequence (-1: unknown)
    last_token: int = -1  # the reply's last token when it was sampled but not evaluated
    last_sent: tuple[int, ...] = ()  # what the conversation sent after its previous reply
    framing: tuple[int, ...] = ()  # the start its last two turns share

    def after(self, tokens: list[int], prompt: list[int]) -> Turns:
        """This memory once `prompt` arrives for a sequence holding `tokens`. A prompt that does not
        continue the last reply exactly is another conversation, or an edited one: nothing is known."""
        end = self.reply_end
        evaluated = end - 1 if self.last_token >= 0 else end
        if (
            end <= 0
            or len(prompt) <= end
            or longest_prefix(tokens[:evaluated], prompt) < evaluated
            or (self.last_token >= 0 and prompt[evaluated] != self.last_token)
        ):
            return Turns()
        sent = prompt[end:]
        shared = longest_prefix(list(self.last_sent), sent)
        return Turns(last_sent=tuple(sent), framing=tuple(sent[: min(shared, MAX_LEARNT_FRAMING)]))


@dataclass
class Slot:
    """One llama.cpp sequence id and the tokens whose KV state it holds."""

    seq_id: int
    tokens: list[int] = field(default_factory=list)
    last_used: float = 0.0
    busy: bool = False
    ahead: list[int] = field(default_factory=list)  # expected to follow `tokens`; evaluated when idle
    turns: Turns = field(default_factory=Turns)


@dataclass
class Saved:
    """A sequence's KV state copied to RAM, with the tokens it stands for."""

    tokens: list[int]
    state: npt.NDArray[np.uint8]
    ahead: list[int]
    turns: Turns


@dataclass
class Request:
    """A request being served: its slot, sampler and progress through prompt and reply."""

    params: GenerationParams
    cancel: CancelToken
    emit: Emit
    slot: Slot
    prompt: list[int]
    reused: int
    sampler: Chain | None  # None: plain greedy, taken straight from the logits
    queued_s: float
    turn_change: tuple[int, ...] = ()  # see Prompt.turn_change
    started: float = field(default_factory=time.perf_counter)
    prefilled: int = 0  # prompt tokens already in the KV cache (reused ones included)
    # Another request evaluating the same leading tokens now, and how many: they are copied from its
    # sequence once it has them, instead of being evaluated twice.
    leader: Request | None = None
    shared_with_leader: int = 0
    next_token: int | None = None  # sampled but not yet evaluated
    generated: int = 0
    first_token_at: float | None = None
    prompt_done_at: float | None = None
    batch_index: int = -1
    solo: bool = False  # deterministic: runs in the model's Lanes (see engine.runtime.batch's docstring)
    lane: Lane | None = None  # (a deterministic request's sequence there)
    serial: int = 0  # tells requests apart (see `BatchedModel._compacted_for`)
    decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    stop_filter: StopFilter | None = None
    speculation: Speculation | None = None  # drafts verified in the shared batch (engine.runtime.speculative)

    @property
    def prefilling(self) -> bool:
        return self.prefilled < len(self.prompt)
