"""Process hardening for the server: no core dumps, which would hold keys and decrypted text."""

from __future__ import annotations

import contextlib
import resource


def disable_core_dumps() -> bool:
    """Set RLIMIT_CORE to 0; True when it took effect."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)
