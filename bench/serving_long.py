"""The serving bench's long-context phase: a lone ~4,000-token prompt, then one with two other long
conversations idle in the server's cache.

Document answers send prompts of this size, several users at once. Each prompt starts with words of its
own (nothing cached from another request or round can be reused), so the time to its first token is the
time to evaluate all of it. `long_alone`: the prompt is the only request on the server. `long_idle`: two
other long conversations are sent (and answered) first and stay in the cache, idle, while the measured
prompt is evaluated and decoded: time to its first token and its decode rate. Both also record the
measured prompt's size and how many of its tokens the server reported as taken from its cache (-1: it does
not say), so a run shows that every server evaluated the same prompt in full.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine
from typing import Any

WORDS = [
    "harbour",
    "keeper",
    "lantern",
    "tide",
    "morning",
    "net",
    "boat",
    "market",
    "baker",
    "bread",
    "salt",
    "rope",
    "gull",
    "storm",
    "window",
    "stair",
    "shore",
    "anchor",
    "cargo",
    "ledger",
    "captain",
    "village",
    "winter",
    "summer",
    "river",
    "bridge",
    "mill",
    "field",
    "orchard",
    "letter",
    "station",
    "engine",
    "signal",
    "clock",
    "tower",
    "garden",
    "stone",
    "road",
    "cart",
    "horse",
    "meadow",
    "cellar",
    "barrel",
    "candle",
]


def long_text(tokens: int, tag: str, count: Callable[[str], int]) -> str:
    """About `tokens` tokens (as `count` counts them) of plain prose starting with `tag`, never repeating."""
    rng = random.Random(tag)
    sentences = [f"Record {tag}."]
    text = sentences[0]
    # Grow by sentences; count once per 40 sentences (tokenising 4,000 tokens each time would be slow).
    while True:
        for _ in range(40):
            words = rng.sample(WORDS, 9)
            sentences.append(
                f"The {words[0]} by the {words[1]} saw {words[2]}, {words[3]} and {words[4]} {rng.randint(2, 999)}."
            )
        text = " ".join(sentences)
        if count(text) >= tokens:
            break
    while len(sentences) > 1 and count(" ".join(sentences[:-1])) >= tokens:
        sentences.pop()
    return " ".join(sentences) + "\nSummary of the record:"


Stream = Callable[..., Coroutine[Any, Any, dict[str, Any]]]


async def long_alone(stream: Stream, prompt: str, reply_tokens: int) -> dict[str, float]:
    """Time to the first token of one long prompt with nothing else on the server."""
    result = await stream(prompt, reply_tokens)
    return {"ttft_s": result["ttft"], **_prompt_facts(result)}


async def long_idle(stream: Stream, others: list[str], prompt: str, reply_tokens: int) -> dict[str, float]:
    """Two long conversations answered first (left idle in the cache), then the measured long prompt:
    its time to first token and decode tokens/s."""
    for other in others:
        await stream(other, 4)
    result = await stream(prompt, reply_tokens)
    rate = (result["pieces"] - 1) / result["decode_s"] if result["decode_s"] > 0 and result["pieces"] > 1 else 0.0
    return {"ttft_s": result["ttft"], "decode_tok_s": rate, **_prompt_facts(result)}


def _prompt_facts(result: dict[str, Any]) -> dict[str, float]:
    """The measured prompt's tokens and its cached ones, as the server reported them."""
    return {"prompt_tokens": result["prompt_tokens"], "cached_prompt_tokens": result["cached_tokens"]}
