"""Untrusted work in child processes that can be killed: chat templates and JSON-schema conversion.

Chat templates come from model files and JSON schemas from API clients; both are small inputs whose
work an outsider controls. They run here in a few persistent child processes with a wall-clock limit,
an address-space cap and no secrets in their environment, and inside those processes under in-sandbox
caps (engine.sandbox.jinja_env, engine.sandbox.gbnf), so that neither can hang, fill memory or hold a
model's thread. Results come back as JSON, never as pickles, so even a subverted child cannot run code
in the server.
"""

from engine.sandbox.pool import (
    SandboxError,
    SandboxLimits,
    SandboxPool,
    SandboxRefused,
    SandboxTimeout,
    default_pool,
    shutdown_default_pool,
)

__all__ = [
    "SandboxError",
    "SandboxLimits",
    "SandboxPool",
    "SandboxRefused",
    "SandboxTimeout",
    "default_pool",
    "shutdown_default_pool",
]
