"""What the desktop app needs from the operating system, checked before Qt starts (no Qt import here).

Qt's X11 platform plugin loads a dozen xcb helper libraries; when one is missing it aborts with a
message that names only libxcb-cursor0, whichever library it was. Chinese text needs a CJK font, or
every character shows as a box. So `enclave gui` looks for each first and names what is missing.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    """A shared library (as `ctypes.util.find_library` names it) and the package providing it per distribution."""

    library: str
    debian: str
    fedora: str
    arch: str


# The libraries Qt 6's xcb platform plugin (libqxcb.so → libQt6XcbQpa.so) links against beyond libxcb itself.
XCB_LIBRARIES = (
    Requirement("xcb-cursor", "libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    Requirement("xcb-icccm", "libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    Requirement("xcb-keysyms", "libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    Requirement("xcb-image", "libxcb-image0", "xcb-util-image", "xcb-util-image"),
    Requirement("xcb-render-util", "libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil"),
    Requirement("xcb-shape", "libxcb-shape0", "libxcb", "libxcb"),
    Requirement("xcb-randr", "libxcb-randr0", "libxcb", "libxcb"),
    Requirement("xcb-xkb", "libxcb-xkb1", "libxcb", "libxcb"),
    Requirement("xkbcommon-x11", "libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
)
CJK_FONT = Requirement("CJK font", "fonts-noto-cjk", "google-noto-sans-cjk-fonts", "noto-fonts-cjk")


def uses_xcb(env: Mapping[str, str]) -> bool:
    """Whether Qt will start on X11 (Linux, no other platform asked for, not a Wayland session)."""
    if not sys.platform.startswith("linux"):
        return False
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    if platform:
        return platform == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def wants_chinese(env: Mapping[str, str]) -> bool:
    """Whether the locale asks for Chinese (the first of LC_ALL, LC_MESSAGES, LANG that is set)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return value.lower().startswith("zh")
    return False


def has_cjk_font() -> bool:
    """True when fontconfig knows a font covering Chinese (or cannot be asked: then Qt's own fallback applies)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return True
    try:
        found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return True
    return bool(found.stdout.strip())


def missing(
    env: Mapping[str, str] | None = None,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
    cjk_font: Callable[[], bool] = has_cjk_font,
) -> list[Requirement]:
    """The requirements this system lacks for the desktop app."""
    env = os.environ if env is None else env
    gaps = [req for req in XCB_LIBRARIES if uses_xcb(env) and find_library(req.library) is None]
    if wants_chinese(env) and not cjk_font():
        gaps.append(CJK_FONT)
    return gaps


def describe(gaps: list[Requirement]) -> str:
    """One line naming what is missing and how to install it."""
    debian = " ".join(dict.fromkeys(g.debian for g in gaps))
    fedora = " ".join(dict.fromkeys(g.fedora for g in gaps))
    arch = " ".join(dict.fromkeys(g.arch for g in gaps))
    names = ", ".join(dict.fromkeys(g.debian if g is not CJK_FONT else f"a CJK font ({g.debian})" for g in gaps))
    return (
        f"the desktop app cannot start: missing {names}. Install them: Debian/Ubuntu: sudo apt install {debian}; "
        f"Fedora: sudo dnf install {fedora}; Arch: sudo pacman -S {arch} (README: System packages)"
    )
