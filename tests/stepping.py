"""Driving a BatchedModel by hand in tests: admit requests together, step until every one is done."""

from __future__ import annotations

from typing import Any

from engine.runtime import CancelToken, GenerationParams
from engine.runtime.batch import BatchedModel


def run_together(model: BatchedModel, prompts: list[list[int]], params: list[GenerationParams]) -> list[list[Any]]:
    """Admit every request at once (concurrent streams), step until all are done; what each emitted."""
    outs: list[list[Any]] = [[] for _ in prompts]
    for prompt, p, out in zip(prompts, params, outs, strict=True):
        model.admit(prompt, p, CancelToken(), out.append, 0.0)
    while model.active:
        model.step()
    return outs
