"""What the screenshot scripts share inside Xvfb: the main window opened over a home, waits, and saving a grab.

Imported by the scripts' capture step only, after the repository is on sys.path (Qt and the app load then).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def settle(ms: int) -> None:
    """Let Qt run for `ms` milliseconds (layouts, timers, background results)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(done: Callable[[], object], what: str, seconds: float = 600) -> None:
    """Let Qt run until `done()` is true; exit with a message after `seconds`."""
    for _ in range(int(seconds * 10)):
        if done():
            return
        settle(100)
    raise SystemExit(f"timed out waiting for {what}")


def open_window(home: Path, passphrase: str, size: tuple[int, int], view: str) -> tuple[Any, Any]:
    """The session and main window over `home`, in the vault's language, showing `view`, laid out."""
    from app import i18n, theme
    from app.main import application
    from app.session import Session
    from app.window import MainWindow
    from engine.models import ModelRegistry
    from engine.runtime import Runtime
    from engine.vault import Vault

    app = application()
    theme.apply(app)
    vault = Vault.unlock(home, passphrase)
    i18n.install(app, i18n.chosen(vault.settings.get(i18n.LANGUAGE_KEY)) or "en")
    registry = ModelRegistry()
    session = Session(home, registry, Runtime(registry), vault)
    window = MainWindow(session, start_background=False)
    window.remember_geometry = False
    window.resize(*size)
    window.move(0, 0)
    window.show_view(view)
    window.show()
    return session, window


def save(widget: Any, target: Path) -> None:
    """Save a grab of `widget` as a PNG and print where."""
    widget.grab().save(str(target), "PNG")
    print(target, flush=True)
