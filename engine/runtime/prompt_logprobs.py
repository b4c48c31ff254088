"""The log-probability of each prompt token given the ones before it: a completion's `echo` with
`logprobs` returns them for the echoed prompt, as OpenAI does (the first token has none: null).

The serving context keeps logits only for the positions it samples from, so the prompt is evaluated again
in a small context of its own, made for the request and freed after, on the model's thread. It is
evaluated in chunks of CHUNK positions so that the logits buffer stays small with large vocabularies
(64 × 262,144 × 4 bytes = 64 MiB for Gemma 3), and it costs one prompt evaluation more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaBatch

from engine.errors import UserError
from engine.runtime.types import TokenLogprob

if TYPE_CHECKING:
    from engine.runtime.batch import BatchedModel

CHUNK = 64


def prompt_logprobs(model: BatchedModel, tokens: list[int], top_n: int) -> tuple[TokenLogprob, ...]:
    """One entry per prompt token (a leading BOS left out, as it is not echoed): its text, its log-probability
    after the tokens before it (None for the first), and the `top_n` likeliest tokens there."""
    bos = C.llama_vocab_bos(model.vocab)
    shown_from = 1 if tokens and tokens[0] == bos and len(tokens) > 1 else 0
    ctx = model.single_sequence_context(max(len(tokens), CHUNK), CHUNK, "the prompt's logprobs")
    batch = LlamaBatch(n_tokens=CHUNK, embd=0, n_seq_max=1, verbose=False)
    # The first token's text as the prompt's text has it (detokenize drops SentencePiece's added space).
    entries = [TokenLogprob(model.detokenize([tokens[shown_from]]), None)] if len(tokens) > shown_from else []
    try:
        for start in range(0, len(tokens) - 1, CHUNK):  # the last token's logits predict nothing shown
            chunk = tokens[start : start + CHUNK]
            raw = batch.batch
            for i, token in enumerate(chunk):
                raw.token[i], raw.pos[i], raw.n_seq_id[i] = token, start + i, 1
                raw.seq_id[i][0] = 0
                raw.logits[i] = True
            raw.n_tokens = len(chunk)
            if C.llama_decode(ctx.ctx, raw) != 0:
                raise UserError("llama.cpp could not evaluate the prompt for its logprobs")
            for i in range(len(chunk)):
                position = start + i
                if position + 1 >= len(tokens) or position + 1 <= shown_from:
                    continue
                logits = np.ctypeslib.as_array(C.llama_get_logits_ith(ctx.ctx, i), shape=(model.n_vocab,))
                entries.append(model.token_logprob(logits, tokens[position + 1], top_n))
    finally:
        batch.close()
        ctx.close()
    return tuple(entries)
