"""LoRA adapters applied on top of a loaded base model, read from memory.

An adapter derives from personal data (the rows it was trained on), so it lives sealed in the vault and
reaches llama.cpp without ever being a file: llama.cpp reads it through a C `FILE*` over the decrypted
bytes (`fmemopen`), and the buffer is zeroed once llama.cpp has copied the tensors into its own memory.
"""

from __future__ import annotations

import ctypes
from typing import Any, Protocol

from llama_cpp import llama_cpp as C

from engine.errors import UserError
from engine.models.registry import ModelRecord

_libc = ctypes.CDLL(None)
_libc.fmemopen.restype = ctypes.c_void_p
_libc.fmemopen.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
_libc.fclose.argtypes = [ctypes.c_void_p]


class AdapterSource(Protocol):
    """Where the runtime gets an adapted model's adapter bytes (the training room, from the vault)."""

    def adapter_bytes(self, record: ModelRecord) -> bytes:
        """The GGUF LoRA bytes of an adapted model; UserError if it may not be served."""
        ...


def apply_lora(model: Any, ctx: Any, data: bytes, scale: float = 1.0) -> Any:
    """Load GGUF LoRA `data` for `model` (a llama_model pointer) and apply it to `ctx`; returns the adapter."""
    buffer = ctypes.create_string_buffer(data, len(data))
    handle = _libc.fmemopen(buffer, len(data), b"rb")
    if not handle:
        raise UserError("cannot open the adapter in memory")
    try:
        adapter = C.llama_adapter_lora_init_from_file_ptr(model, handle)
    finally:
        _libc.fclose(handle)
        ctypes.memset(buffer, 0, len(data))
    if not adapter:
        raise UserError("llama.cpp refused the adapter: it does not fit this base model")
    adapters = (C.llama_adapter_lora_p_ctypes * 1)(adapter)
    if C.llama_set_adapters_lora(ctx, adapters, 1, (ctypes.c_float * 1)(scale)) != 0:
        raise UserError("llama.cpp could not apply the adapter")
    return adapter
