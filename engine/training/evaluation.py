"""Evaluation of an adapter: base and adapted answers to held-out prompts, side by side, through the engine.

The answers come from the serving runtime (llama.cpp, greedy decoding), so they show what a person will
get from the adapted model, not what PyTorch computes.
"""

from __future__ import annotations

from typing import Any

from engine.runtime.manager import Runtime
from engine.runtime.types import GenerationParams
from engine.training.dataset import DatasetRow

SAMPLES = 3
MAX_TOKENS = 48
GREEDY = GenerationParams(max_tokens=MAX_TOKENS, temperature=0.0, top_k=1, seed=0)


def answer(runtime: Runtime, model: str, messages: list[dict[str, Any]]) -> str:
    """A greedy reply of `model` to `messages`, as the engine serves it."""
    return "".join(chunk.text for chunk in runtime.chat(messages, GREEDY, model=model))


def side_by_side(runtime: Runtime, base: str, adapted: str, held_out: list[DatasetRow]) -> list[dict[str, Any]]:
    """For a few held-out rows: the prompt, the answer the dataset expects, and both models' answers."""
    samples = []
    for row in held_out[:SAMPLES]:
        prompt = [dict(m) for m in row.messages[:-1]]
        samples.append(
            {
                "line": row.line,
                "prompt": prompt,
                "expected": row.messages[-1]["content"],
                "base": answer(runtime, base, prompt),
                "adapted": answer(runtime, adapted, prompt),
            }
        )
    return samples
