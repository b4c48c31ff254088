"""Enclave's headless core: model registry, llama.cpp runtime, encrypted vault, policy and HTTP API.

Nothing in this package imports Qt or the desktop app (tests/test_layering.py enforces it).
"""

__version__ = "0.1.0"
