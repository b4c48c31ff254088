"""`enclave gui` names missing system libraries and fonts in one line before Qt starts."""

from __future__ import annotations

import os
import subprocess
import sys

from app import system_check

# Runs `enclave gui` with one library "missing": find_library answers None for it, as on a system without it.
SIMULATE = """
import ctypes.util, sys
real = ctypes.util.find_library
ctypes.util.find_library = lambda name: None if name in sys.argv[1].split(",") else real(name)
from engine.cli import main
sys.exit(main(["gui"]))
"""


def _run_gui(missing: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":99", **env}
    environment.pop("WAYLAND_DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-c", SIMULATE, missing], capture_output=True, text=True, timeout=60, env=environment
    )


def test_missing_xcb_library_is_named_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = _run_gui("xcb-icccm,xcb-keysyms", ENCLAVE_HOME=str(tmp_path))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "libxcb-icccm4" in lines[0] and "libxcb-keysyms1" in lines[0]
    assert "libxcb-cursor0" not in lines[0]  # Qt's own message blamed this one wrongly
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in lines[0]
    assert "Traceback" not in done.stderr


def test_missing_cjk_font_only_matters_in_chinese() -> None:
    env = {"QT_QPA_PLATFORM": "offscreen", "LANG": "zh_CN.UTF-8"}
    gaps = system_check.missing(env, find_library=lambda _: None, cjk_font=lambda: False)
    assert gaps == [system_check.CJK_FONT]  # offscreen: no xcb libraries needed
    assert "fonts-noto-cjk" in system_check.describe(gaps)
    assert system_check.missing({**env, "LANG": "en_GB.UTF-8"}, cjk_font=lambda: False) == []
    assert system_check.missing(env, cjk_font=lambda: True) == []


def test_a_complete_system_passes() -> None:
    env = {"QT_QPA_PLATFORM": "xcb", "LANG": "zh_CN.UTF-8"}
    assert system_check.missing(env, find_library=lambda name: f"lib{name}.so", cjk_font=lambda: True) == []
    assert not system_check.uses_xcb({"WAYLAND_DISPLAY": "wayland-0"})
