"""Whole-or-nothing file writes: `.part` → fsync → `os.replace` → fsync the folder."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from engine.errors import UserError


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable (no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def part_path(target: Path) -> Path:
    """The temporary name a file is written under before it becomes `target`."""
    return target.with_name(target.name + ".part")


@contextlib.contextmanager
def atomic_writer(target: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes `target` only if the block finishes without error."""
    part = part_path(target)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, target)
        fsync_dir(target.parent)
    except OSError as exc:
        part.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise UserError(f"disk full while writing {target.name}; nothing was written") from None
        raise
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def write_atomic(target: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `target` whole or not at all."""
    with atomic_writer(target, mode) as handle:
        handle.write(data)
