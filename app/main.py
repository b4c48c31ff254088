"""`enclave gui`: open (or create) the vault, show the main window, or render one view to PNG."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import shiboken6
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QDialog

from app import gc_guard, i18n, theme, workers
from app.dialogs.unlock import UnlockDialog
from app.dialogs.wizard import FirstRunWizard
from app.session import ACTOR, Session
from app.window import MainWindow
from engine import paths
from engine.errors import UserError
from engine.models import ModelRegistry
from engine.policy import audit_events
from engine.runtime import Runtime
from engine.vault import Vault, remember
from engine.vault.errors import VaultMissing, WrongPassphrase

SCREENSHOT_SIZE = (1280, 800)


def application() -> QApplication:
    """The QApplication (created once; tests already have one)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "enclave"])
    assert isinstance(app, QApplication)
    app.setApplicationName("Enclave")
    app.setOrganizationName("Enclave")
    app.setDesktopFileName("enclave")
    gc_guard.install(app)
    return app


def _given_passphrase(args: argparse.Namespace) -> str | None:
    """The passphrase from --passphrase-file or $ENCLAVE_PASSPHRASE, if either is set (never prompts)."""
    if getattr(args, "passphrase_file", None) or os.environ.get("ENCLAVE_PASSPHRASE"):
        from engine.cli.passphrase import read_passphrase

        return read_passphrase(args)
    return None


def _unlock_remembered(home: Path) -> Vault | None:
    """Open the vault with a passphrase this device's keyring remembers (opted into), if it holds one."""
    passphrase = remember.recall(home)
    if passphrase is None:
        return None
    try:
        return audit_events.unlock(home, passphrase, actor=ACTOR)
    except WrongPassphrase:
        # Changed elsewhere (the CLI, a recovery): the stale entry would fail every start. Ask instead.
        remember.forget(home)
        return None


def open_vault(args: argparse.Namespace, home: Path, registry: ModelRegistry) -> Vault | None:
    """Unlock or create the vault: non-interactively when a passphrase is given, else by dialog."""
    screenshot = getattr(args, "screenshot", None) is not None
    passphrase = _given_passphrase(args)
    if Vault.exists(home):
        if passphrase is not None:
            # No window is up yet, so deriving the key here freezes nothing the person sees.
            return audit_events.unlock(home, passphrase, actor=ACTOR)
        if screenshot:
            raise UserError("a screenshot needs the passphrase: set ENCLAVE_PASSPHRASE or pass --passphrase-file")
        remembered = _unlock_remembered(home)
        if remembered is not None:
            return remembered
        dialog = UnlockDialog(home)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        vault = dialog.vault if accepted else None
        shiboken6.delete(dialog)  # now, on this thread: never later from a collector elsewhere
        return vault
    if screenshot:
        raise VaultMissing
    wizard = FirstRunWizard(home, registry)
    accepted = wizard.exec() == QDialog.DialogCode.Accepted
    vault = wizard.vault
    shiboken6.delete(wizard)
    if not accepted and vault is not None:
        vault.close()  # created, then cancelled: it opens with the passphrase next time
        return None
    return vault


def settle(ms: int) -> None:
    """Let queued events and layouts run for `ms` milliseconds."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def take_screenshot(window: MainWindow, view: str, path: Path) -> int:
    """Render one view of the window to a PNG file."""
    window.remember_geometry = False
    window.resize(*SCREENSHOT_SIZE)
    window.show_view(view)
    window.show()
    settle(600)
    pixmap = window.grab()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = pixmap.save(str(path), "PNG")
    window.close()
    if not saved:
        raise UserError(f"cannot write the screenshot to {path}")
    return 0


def _quit_on_signals(app: QApplication) -> None:
    """Ctrl+C or SIGTERM closes the window normally, so the vault is locked and its lock released."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: app.closeAllWindows())
    # Python runs signal handlers only between bytecodes: a timer gives it the chance while Qt waits.
    ticker = QTimer(app)
    ticker.timeout.connect(lambda: None)
    ticker.start(250)


def run(args: argparse.Namespace) -> int:
    """Run the desktop app (or take a screenshot); returns the exit code."""
    app = application()
    theme.apply(app)
    i18n.install(app)
    home = paths.enclave_home()
    registry = ModelRegistry()
    runtime = Runtime(registry)
    try:
        vault = open_vault(args, home, registry)
    except BaseException:
        runtime.close()
        raise
    if vault is None:
        runtime.close()
        return 0
    session = Session(home, registry, runtime, vault)
    try:
        # Before the unlock the stored choice is unreadable (it is encrypted): the dialogs so far
        # followed the system; from here on the person's choice applies.
        language = i18n.chosen(vault.settings.get(i18n.LANGUAGE_KEY))
        if language:
            i18n.install(app, language)
        screenshot = getattr(args, "screenshot", None)
        window = MainWindow(session, start_background=screenshot is None)
        try:
            if screenshot is not None:
                return take_screenshot(window, getattr(args, "view", "chat") or "chat", Path(screenshot))
            window.show_view(getattr(args, "view", "chat") or "chat")
            window.show()
            _quit_on_signals(app)
            return int(app.exec())
        finally:
            shiboken6.delete(window)
    finally:
        workers.wait_for_all(5000)
        session.close()
        QCoreApplication.processEvents()
