"""Process hardening for every process that unlocks the vault: no core dumps (they would hold keys and text)."""

from __future__ import annotations

import contextlib
import resource


def disable_core_dumps(*, hard: bool = True) -> bool:
    """Set RLIMIT_CORE to 0 (the soft limit, which the kernel applies; with `hard` the ceiling too); True if it took."""
    _, ceiling = resource.getrlimit(resource.RLIMIT_CORE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0 if hard else ceiling))
    return resource.getrlimit(resource.RLIMIT_CORE)[0] == 0
