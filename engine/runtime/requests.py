"""The bookkeeping of continuous batching: requests being served, and the sequences they run in.

`BatchedModel` (engine.runtime.batch) decodes; the cache's housekeeping (engine.runtime.cache_moves),
speculation and the deterministic lanes read and update the same records. They live here, apart from
any of those, so that each can name them without importing the decode loop. A request also sums up its
own end: its last chunk (usage, timings) and what its conversation is expected to send back next.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.runtime.candidates import Chain
from engine.runtime.loaded import StopFilter, longest_prefix
from engine.runtime.speculative import Speculation
from engine.runtime.types import CancelToken, Chunk, GenerationParams, Timings, Usage

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

    def final_chunk(self, reason: str, hit_stop_string: bool) -> Chunk:
        """The request's last chunk: the text held back until now, its usage and timings."""
        assert self.stop_filter is not None
        tail = "" if hit_stop_string else self.stop_filter.flush() + self.decoder.decode(b"", final=True)
        finished = time.perf_counter()
        prompt_done = self.prompt_done_at or finished
        decode_s = finished - prompt_done
        # The rate counts the tokens after the first over the time since it came: the prompt, and whatever a
        # first decode after loading costs (mapping the weights in), are the time to the first token instead.
        since_first = finished - (self.first_token_at or finished)
        rate = (self.generated - 1) / since_first if since_first > 0 and self.generated > 1 else None
        return Chunk(
            text=tail,
            finish_reason=reason,
            usage=Usage(
                prompt_tokens=len(self.prompt),
                completion_tokens=self.generated,
                cached_prompt_tokens=self.reused,
                evaluated_prompt_tokens=self.prefilled - self.reused,
            ),
            timings=Timings(
                queued_s=self.queued_s,
                time_to_first_token_s=(self.first_token_at or finished) - self.started,
                prompt_eval_s=prompt_done - self.started,
                decode_s=decode_s,
            ),
            tokens_per_s=rate,
            stop_sequence=self.stop_filter.matched if hit_stop_string else None,
        )

    def ahead_after_reply(self, reason: str, hit_stop_string: bool, unevaluated: int | None) -> list[int]:
        """Once the reply has ended (`unevaluated`: its last token, sampled but not yet in the cache), what
        the conversation is expected to send back, to evaluate ahead; the slot's turns learn where it ended.

        What the client sends back next time: the reply as text (its last token included, when the length
        cut it), then the template's change of turn or the framing the conversation's own turns began with.
        After a stop string the reply's text ends before the tokens that made it: only a conversation that
        has sent them back before is expected to do so again.
        """
        slot = self.slot
        change = self.turn_change or slot.turns.framing
        ahead: list[int] = []
        end, last = -1, -1
        if reason == "length" and unevaluated is not None:
            ahead, end, last = [unevaluated, *change], len(slot.tokens) + 1, unevaluated
        elif reason == "stop" and not hit_stop_string:
            ahead, end = list(change), len(slot.tokens)  # the end-of-generation token is not text
        elif hit_stop_string and unevaluated is not None:
            end, last = len(slot.tokens) + 1, unevaluated
            if slot.turns.last_sent:
                ahead = [unevaluated, *change]
        slot.turns = replace(slot.turns, reply_end=end, last_token=last)
        return ahead
