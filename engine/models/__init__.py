"""The GGUF model registry: import, verify, inspect, and chat-template resolution."""

from engine.models.gguf_header import GGUFError, GGUFHeader, read_header
from engine.models.metadata import ModelFacts
from engine.models.registry import ImportCancelled, ModelRecord, ModelRegistry, ModelSettings

__all__ = [
    "GGUFError",
    "GGUFHeader",
    "ImportCancelled",
    "ModelFacts",
    "ModelRecord",
    "ModelRegistry",
    "ModelSettings",
    "read_header",
]
