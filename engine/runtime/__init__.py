"""llama.cpp inference: one worker thread per loaded model, chunks streamed with a cancel handle."""

from engine.runtime.manager import LoadedInfo, Runtime
from engine.runtime.types import (
    CancelToken,
    Chunk,
    GenerationParams,
    LoadListener,
    LoadProgress,
    PromptTooLong,
    RuntimeBusy,
    Timings,
    TokenLogprob,
    Usage,
)
from engine.runtime.worker import Generation

__all__ = [
    "CancelToken",
    "Chunk",
    "Generation",
    "GenerationParams",
    "LoadListener",
    "LoadProgress",
    "LoadedInfo",
    "PromptTooLong",
    "Runtime",
    "RuntimeBusy",
    "Timings",
    "TokenLogprob",
    "Usage",
]
