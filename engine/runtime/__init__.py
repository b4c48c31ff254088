"""llama.cpp inference: one worker thread per loaded model, chunks streamed with a cancel handle."""

from engine.runtime import llama_log
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

llama_log.install()  # llama.cpp's loader chatter goes to logging, quiet unless a command asks for it

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
