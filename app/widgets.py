"""Small reusable widgets and helpers: accessible naming, copy buttons, shaking, locale formatting."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from PySide6.QtCore import (
    QAbstractItemModel,
    QCoreApplication,
    QDateTime,
    QEasingCurve,
    QLocale,
    QPoint,
    QPropertyAnimation,
    QSize,
    Qt,
    QTimer,
)
from PySide6.QtGui import QGuiApplication, QKeyEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QSizePolicy,
    QTableView,
    QToolButton,
    QWidget,
)

from app import theme

W = TypeVar("W", bound=QWidget)


def named(widget: W, name: str, description: str = "") -> W:
    """Give a control the name (and optional description) a screen reader announces."""
    widget.setAccessibleName(name)
    if description:
        widget.setAccessibleDescription(description)
    return widget


def muted(text: str) -> QLabel:
    """A secondary, dimmed label."""
    label = QLabel(text)
    label.setObjectName("mutedLabel")
    label.setWordWrap(True)
    return label


class ElidedLabel(QLabel):
    """One line of text cut with "…" to the width it is given, the whole text in its tooltip: it never
    widens its layout or causes a horizontal scroll bar."""

    def __init__(
        self, text: str = "", parent: QWidget | None = None, *, mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight
    ) -> None:
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        """Show `text`, elided when it does not fit."""
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        """The text before eliding."""
        return self._full

    def is_elided(self) -> bool:
        """True when the text shown is cut."""
        return self.text() != self._full

    def sizeHint(self) -> QSize:  # noqa: N802
        # As wide as the whole text when there is room; as narrow as a few characters when there is not.
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self._full) + margins.left() + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(min(self.sizeHint().width(), self.fontMetrics().horizontalAdvance("M…") * 2),
                     super().minimumSizeHint().height())

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self._full, self._mode, max(1, self.contentsRect().width())))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()


def shrinkable(combo: QComboBox, characters: int = 16) -> QComboBox:
    """A combo box whose width does not follow its longest item (a long conversation title would widen
    the whole column and bring a horizontal scroll bar): the current item is elided, the list shows it all."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(characters)
    combo.view().setTextElideMode(Qt.TextElideMode.ElideNone)
    return combo


def copy_text(text: str) -> None:
    """Put text on the clipboard."""
    QGuiApplication.clipboard().setText(text)


class CopyButton(QToolButton):
    """A button that copies what `source()` returns and briefly says so."""

    def __init__(self, source: object, label: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._label = label or self.tr("Copy")
        self.setText(self._label)
        self.setIcon(theme.icon("copy"))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        named(self, self._label)
        self.clicked.connect(self._copy)

    def _copy(self) -> None:
        text = self._source() if callable(self._source) else str(self._source)
        copy_text(text)
        self.setText(self.tr("Copied"))
        # With the button as context, the timer dies with it (a message closed within the 1.5 s).
        QTimer.singleShot(1500, self, lambda: self.setText(self._label))


def record_table(model: QAbstractItemModel, name: str, *, stretch: int = -1, max_height: int = 0) -> QTableView:
    """A named table of whole-row, single selections, columns sized to their contents; column `stretch`
    (the last when -1) takes what is left, so the table fits without scrolling sideways."""
    table = named(QTableView(), name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch < 0:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    if max_height:
        table.setMaximumHeight(max_height)
    return table


def shake(widget: QWidget) -> QPropertyAnimation:
    """Shake a window sideways (the wrong-passphrase cue)."""
    start = widget.pos()
    animation = QPropertyAnimation(widget, b"pos", widget)
    animation.setDuration(360)
    animation.setEasingCurve(QEasingCurve.Type.Linear)
    for step, dx in enumerate((0, -10, 10, -8, 8, -4, 4, 0)):
        animation.setKeyValueAt(step / 7, start + QPoint(dx, 0))
    animation.start()
    return animation


def human_size(size: int) -> str:
    """A file size in the user's locale (e.g. '253.4 MB')."""
    return QLocale().formattedDataSize(size, 1, QLocale.DataSizeFormat.DataSizeSIFormat)


def human_number(value: int) -> str:
    """An integer with the locale's grouping."""
    return QLocale().toString(value)


def human_time(moment: dt.datetime) -> str:
    """A timestamp in local time and the locale's short format."""
    stamp = QDateTime.fromSecsSinceEpoch(int(moment.timestamp()))
    return QLocale().toString(stamp, QLocale.FormatType.ShortFormat)


def human_clock(moment: dt.datetime) -> str:
    """Today: the time of day with seconds; earlier: the short date and time."""
    local = QDateTime.fromSecsSinceEpoch(int(moment.timestamp()))
    if local.date() == QDateTime.currentDateTime().date():
        return QLocale().toString(local.time(), "HH:mm:ss")
    return QLocale().toString(local, QLocale.FormatType.ShortFormat)


def human_time_of_day(moment: dt.datetime) -> str:
    """The local time of day in the locale's short format ('14:05', '2:05 PM')."""
    local = QDateTime.fromSecsSinceEpoch(int(moment.timestamp()))
    return QLocale().toString(local.time(), QLocale.FormatType.ShortFormat)


def human_date(moment: dt.datetime) -> str:
    """A date in the locale's short format."""
    return QLocale().toString(QDateTime.fromSecsSinceEpoch(int(moment.timestamp())).date(),
                              QLocale.FormatType.ShortFormat)


def human_duration_ms(ms: float) -> str:
    """'840 ms' or '12.4 s'."""
    if ms < 1000:
        return QCoreApplication.translate("Units", "{ms} ms").format(ms=round(ms))
    return QCoreApplication.translate("Units", "{s} s").format(s=QLocale().toString(ms / 1000, "f", 1))


def show_error(parent: QWidget | None, exc: BaseException, title: str | None = None) -> None:
    """Tell the person what went wrong in one line (engine errors are already one sentence)."""
    heading = title or QCoreApplication.translate("Errors", "Something went wrong")
    QMessageBox.warning(parent, heading, error_text(exc))


def _known_error(exc: BaseException) -> str | None:
    """A translated sentence for the engine errors a person meets most, chosen by class (never by text)."""
    from engine.errors import IntegrityError
    from engine.models.registry import ImportCancelled
    from engine.pairing.client import CertificateChanged, KeyRefused, PairingCodeRefused, RemoteUnreachable
    from engine.runtime.types import PromptTooLong, RuntimeBusy
    from engine.vault.errors import VaultInUse, VaultMissing, WrongPassphrase, WrongRecoveryKey

    if isinstance(exc, WrongPassphrase):
        return QCoreApplication.translate("Errors", "Wrong passphrase.")
    if isinstance(exc, WrongRecoveryKey):
        return QCoreApplication.translate("Errors", "That recovery key does not open this vault.")
    if isinstance(exc, VaultInUse):
        return QCoreApplication.translate("Errors", "Enclave is already open in another window or program.")
    if isinstance(exc, VaultMissing):
        return QCoreApplication.translate("Errors", "There is no vault in this data folder yet.")
    if isinstance(exc, ImportCancelled):
        return QCoreApplication.translate("Errors", "Import cancelled; nothing was kept.")
    if isinstance(exc, RuntimeBusy):
        return QCoreApplication.translate("Errors", "The model is busy with other requests. Try again in a moment.")
    if isinstance(exc, PromptTooLong):
        return QCoreApplication.translate(
            "Errors", "The conversation no longer fits the model's context. Start a new chat, or give the model "
            "a larger context in its settings."
        )
    if isinstance(exc, CertificateChanged):
        return QCoreApplication.translate(
            "Errors", "Refused: the server at {url} presented certificate {shown}, but this computer was paired "
            "with certificate {pinned}. Someone may be intercepting the connection, or the server has a new "
            "certificate: ask its administrator for a new pairing code."
        ).format(url=exc.url, shown=exc.shown, pinned=exc.pinned)
    if isinstance(exc, RemoteUnreachable) and exc.server:
        return QCoreApplication.translate(
            "Errors", "Cannot reach the server “{name}”: is it running, and is this computer on its network? "
            "Models on this computer keep working."
        ).format(name=exc.server)
    if isinstance(exc, PairingCodeRefused):
        return {
            "used": QCoreApplication.translate(
                "Errors", "This pairing code was already used. Ask the server's administrator for a new one."),
            "expired": QCoreApplication.translate(
                "Errors", "This pairing code has expired. Ask the server's administrator for a new one."),
            "revoked": QCoreApplication.translate(
                "Errors", "This pairing code was revoked. Ask the server's administrator for a new one."),
        }.get(exc.reason, QCoreApplication.translate(
            "Errors", "The server does not know this pairing code. Is it meant for another server?"))
    if isinstance(exc, KeyRefused):
        return QCoreApplication.translate(
            "Errors", "The server “{name}” no longer accepts this computer: its pairing was revoked. Ask its "
            "administrator for a new pairing code."
        ).format(name=exc.server)
    if isinstance(exc, IntegrityError):
        return QCoreApplication.translate(
            "Errors", "Stored data failed its integrity check (it was changed or damaged): {detail}"
        ).format(detail=str(exc))
    return None


def error_text(exc: BaseException) -> str:
    """One line for an error: a translated sentence for common ones, else the engine's message."""
    from engine.errors import EnclaveError

    known = _known_error(exc)
    if known is not None:
        return known
    if isinstance(exc, EnclaveError):
        text = str(exc)
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
    return QCoreApplication.translate("Errors", "Unexpected error: {kind}").format(kind=type(exc).__name__)


class DeliberateComboBox(QComboBox):
    """A combo box that changes only by an explicit choice from its open list.

    For settings with consequences (retention erases data): a wheel scrolling the page past it, or an
    arrow key while it merely has focus, must not change it. Arrow keys open the list instead.
    """

    _STEP_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown,
                            Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_Left, Qt.Key.Key_Right})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not focused (and so not changed) by a wheel

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # the page around it scrolls instead

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if Qt.Key(event.key()) in self._STEP_KEYS and not event.modifiers():
            self.showPopup()
            return
        if event.text().strip() and event.text().isprintable():
            event.ignore()  # typing would jump to a matching item: no change without the list open
            return
        super().keyPressEvent(event)


class Banner(QFrame):
    """A result shown at the top of a view, where the eye is, until closed or replaced."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        named(self.label, QCoreApplication.translate("Banner", "Result"))
        self.close_button = named(QToolButton(), QCoreApplication.translate("Banner", "Dismiss"))
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, *, error: bool = False) -> None:
        """Show `text` (in the error colour when `error`)."""
        self.label.setText(text)
        self.label.setObjectName("errorLabel" if error else "okLabel")
        self.label.style().polish(self.label)
        self.show()

    def text(self) -> str:
        """The message shown (empty when hidden)."""
        return "" if self.isHidden() else self.label.text()
