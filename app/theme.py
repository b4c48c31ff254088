"""Look and feel: the OS palette (light or dark), a few palette-based styles, and crisp SVG icons."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from app import focus

ICON_SIZES = (16, 20, 24, 32, 48, 64)

# Styles use palette() references, so they follow a light/dark switch without being rebuilt.
STYLE_SHEET = """
#navBar { background: palette(alternate-base); border-right: 1px solid palette(mid); }
#navBar QToolButton { border: none; border-radius: 8px; padding: 8px 4px; }
#navBar QToolButton:checked { background: palette(highlight); color: palette(highlighted-text); }
#navBar QToolButton:hover:!checked { background: palette(midlight); }
#userBubble { background: palette(alternate-base); border-radius: 10px; }
#assistantBubble { border: 1px solid palette(midlight); border-radius: 10px; }
#codeBlock { background: palette(alternate-base); border: 1px solid palette(mid); border-radius: 6px; }
#aiBadge { color: palette(highlighted-text); background: palette(highlight); border-radius: 4px;
           padding: 1px 6px; font-size: 10px; }
#mutedLabel { color: palette(placeholder-text); }
QFrame#searchHit { border: none; border-bottom: 1px solid palette(mid); }
#sheet { background: palette(alternate-base); border-left: 1px solid palette(mid); }
#secretBox { font-family: monospace; font-size: 15px; padding: 10px; border: 1px dashed palette(mid);
             border-radius: 6px; background: palette(base); }
#bigStatement { font-size: 15px; font-weight: 600; }
#errorLabel { color: #c62828; }
#okLabel { color: #2e7d32; }
QFocusFrame#focusRing { border: 2px solid palette(highlight); border-radius: 5px; }
"""


def assets_dir() -> Path:
    """The `assets/` folder (beside the `app` package in a checkout or an editable install)."""
    return Path(__file__).resolve().parent.parent / "assets"


def is_dark(palette: QPalette | None = None) -> bool:
    """True when the current palette is a dark one."""
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def apply(app: QApplication) -> None:
    """Install the style sheet and the window icon; the palette itself stays the OS's."""
    # Fusion draws the platform's light or dark palette faithfully on every OS we ship to.
    # Only once: setStyle deletes the style in use, and Qt widgets that cached it (a QWizard that
    # was never shown, for one) then crash on the next repolish.
    # (app.style() is a style-sheet proxy once a sheet is set, so a property remembers it was done.)
    if not app.property("enclaveStyled"):
        app.setStyle("Fusion")
        app.setProperty("enclaveStyled", True)
    if app.styleSheet() != STYLE_SHEET:
        app.setStyleSheet(STYLE_SHEET)
    app.setWindowIcon(app_icon())
    focus.install(app)  # a visible ring around the focused control, for keyboard use


def app_icon() -> QIcon:
    """The coloured application icon."""
    return _render(assets_dir() / "icons" / "enclave.svg", None)


def icon(name: str, color: QColor | None = None) -> QIcon:
    """A line icon from assets/icons drawn in the palette's text colour (or `color`)."""
    if color is None:
        color = QGuiApplication.palette().color(QPalette.ColorRole.WindowText)
    return _icon_cached(name, color.name())


@cache
def _icon_cached(name: str, color: str) -> QIcon:
    return _render(assets_dir() / "icons" / f"{name}.svg", color)


def clear_icon_cache() -> None:
    """Forget rendered icons (after a palette change)."""
    _icon_cached.cache_clear()


def _render(path: Path, color: str | None) -> QIcon:
    source = path.read_text(encoding="utf-8")
    if color is not None:
        source = source.replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(source.encode("utf-8")))
    result = QIcon()
    # Pixmaps at several sizes (and 2x of each via the larger ones) keep icons sharp on high-DPI screens.
    for size in ICON_SIZES:
        pixmap = QPixmap(QSize(size, size))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        result.addPixmap(pixmap)
    return result
