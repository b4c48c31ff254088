"""A visible focus ring: whichever control has the keyboard focus gets a highlight-coloured outline.

Fusion marks focus faintly (a dotted rectangle on some controls, nothing on others), too faint to follow
when moving through a window with Tab. Restyling every control with `:focus` rules would replace
Fusion's drawing of each of them; a QFocusFrame instead draws one ring around the focused widget
(styled in theme.STYLE_SHEET) and leaves the controls as they are.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication, QFocusFrame, QWidget


class FocusRing(QObject):
    """Follows QApplication.focusChanged and moves one QFocusFrame to the new focus widget."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._frame: QFocusFrame | None = None
        app.focusChanged.connect(self._moved)

    def widget(self) -> QWidget | None:
        """The widget the ring is drawn around (None when hidden)."""
        frame = self._live_frame()
        return frame.widget() if frame is not None and frame.isVisible() else None

    def _live_frame(self) -> QFocusFrame | None:
        # The frame lives inside the focused widget's parent: it goes when that window or view does.
        if self._frame is not None and not shiboken6.isValid(self._frame):
            self._frame = None
        return self._frame

    def _moved(self, _old: QWidget | None, new: QWidget | None) -> None:
        frame = self._live_frame()
        if new is None or new.parentWidget() is None or new.focusPolicy() == Qt.FocusPolicy.NoFocus:
            if frame is not None:
                frame.hide()
            return
        if frame is None:
            frame = self._frame = QFocusFrame(new.parentWidget())
            frame.setObjectName("focusRing")
        frame.setWidget(new)
        frame.show()


_ring: FocusRing | None = None


def install(app: QApplication) -> FocusRing:
    """Show the focus ring in every window of `app` (once)."""
    global _ring
    if _ring is None or not shiboken6.isValid(_ring):
        _ring = FocusRing(app)
    return _ring
