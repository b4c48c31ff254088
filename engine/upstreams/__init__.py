"""Upstreams: route model names to the organisation's OpenAI-compatible serving engines.

Auth, per-key policy, the encrypted request log, audit and labels stay on this machine; only the
request itself travels, to an upstream an administrator registered. Serving their models is the
upstream backend's job (`engine.backends.upstream`), behind the same protocol as local models.
"""

from engine.upstreams.config import ModelRoute, Upstream, UpstreamStore
from engine.upstreams.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from engine.upstreams.registry import (
    Health,
    UpstreamStatus,
    add_upstream,
    check,
    list_upstreams,
    list_with_health,
    remove_upstream,
)

__all__ = [
    "Health",
    "ModelRoute",
    "Upstream",
    "UpstreamError",
    "UpstreamStatus",
    "UpstreamStore",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "add_upstream",
    "check",
    "list_upstreams",
    "list_with_health",
    "remove_upstream",
]
