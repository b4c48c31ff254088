"""Where to suggest saving what must not stay on this machine (the recovery key, backups): removable drives.

A recovery key or backup kept next to the vault it protects is lost with the machine and found with it.
Qt's QStorageInfo lists mounted volumes on Linux, macOS and Windows alike; a drive counts as removable
when it is mounted where desktops mount them (/media, /run/media, /Volumes) or, on Windows, is a drive
other than the system's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QStorageInfo

_MOUNT_PARENTS = ("/media/", "/run/media/", "/Volumes/", "/mnt/")


def removable_drives() -> list[Path]:
    """Mounted, writable volumes that look removable (USB sticks, SD cards, external disks)."""
    system_drive = os.environ.get("SYSTEMDRIVE", "C:").rstrip("\\/").upper()
    found = []
    for volume in QStorageInfo.mountedVolumes():
        if not volume.isValid() or not volume.isReady() or volume.isReadOnly():
            continue
        root = volume.rootPath()
        if sys.platform == "win32":
            removable = not root.rstrip("\\/").upper().startswith(system_drive)
        else:
            removable = root.startswith(_MOUNT_PARENTS) and root.rstrip("/") not in ("/Volumes/Macintosh HD",)
        if removable and os.access(root, os.W_OK):
            found.append(Path(root))
    return sorted(found)


def suggested_folder() -> tuple[Path, bool]:
    """The folder to offer first and whether it is a removable drive (else the home folder, with a warning)."""
    drives = removable_drives()
    if drives:
        return drives[0], True
    return Path.home(), False


def same_drive(path: Path, other: Path) -> bool:
    """True when both paths are on one volume (a copy there is lost or found together with the other)."""
    first, second = QStorageInfo(str(path.parent if not path.exists() else path)), QStorageInfo(str(other))
    return first.isValid() and second.isValid() and first.rootPath() == second.rootPath()
