"""Run Python's cyclic garbage collector on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate. When that is a worker (a model
stream, uvicorn, an import) and the garbage holds a Qt object, its C++ destructor runs on the wrong
thread and the process crashes. So automatic collection is switched off and a GUI-thread timer collects
instead (the approach qutebrowser takes for the same reason).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class GarbageCollector(QObject):
    """Collects generation by generation from a GUI-thread timer, with the interpreter's thresholds."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._threshold[generation]:
                gc.collect(generation)
                break

    def stop(self) -> None:
        """Give collection back to the interpreter."""
        self.timer.stop()
        gc.collect()
        gc.enable()


_installed: GarbageCollector | None = None


def install(parent: QObject) -> GarbageCollector:
    """Start the GUI-thread collector once per process."""
    global _installed
    if _installed is None:
        _installed = GarbageCollector(parent)
    return _installed
