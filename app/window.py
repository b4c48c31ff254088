"""The main window: a navigation rail, the four views, window shortcuts, geometry and auto-lock."""

from __future__ import annotations

import base64
import time

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QMainWindow,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import i18n, theme
from app.dialogs.unlock import UnlockDialog
from app.operations.privacy import autolock_minutes
from app.session import ACTOR, Session, prepare_demo
from app.views.chat import ChatView
from app.views.documents import DocumentsView
from app.views.models import ModelsView
from app.views.privacy import PrivacyView
from app.views.server import ServerView
from app.views.training import TrainingView
from app.widgets import named
from app.workers import run_task
from engine.policy import retention

VIEWS = ("chat", "models", "server", "privacy", "training", "documents")
GEOMETRY_KEY = "gui.geometry"
RETRANSLATE_RETRY_MS = 300
_INPUT_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}


class ActivityWatcher(QObject):
    """Remembers when the person last touched keyboard or mouse (for the idle auto-lock)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.last_input = time.monotonic()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT_EVENTS:
            self.last_input = time.monotonic()
        return False


class MainWindow(QMainWindow):
    """Chat, Models, Server and Privacy behind a navigation rail."""

    locked = Signal()
    unlocked = Signal()
    retranslated = Signal()  # the views were rebuilt in a new language

    def __init__(self, session: Session, *, start_background: bool = True) -> None:
        super().__init__()
        self.session = session
        self.setWindowIcon(theme.app_icon())
        self.resize(1200, 780)
        self.is_locked = False
        self.remember_geometry = True  # off for screenshots: they must not move the real window
        self._retranslate_pending = False

        self.activity = ActivityWatcher(self)
        application = QApplication.instance()
        assert application is not None
        application.installEventFilter(self.activity)
        self._autolock_minutes = self._stored_autolock()
        self.autolock_timer = QTimer(self)
        self.autolock_timer.setInterval(15_000)
        self.autolock_timer.timeout.connect(self.check_idle)
        self.autolock_timer.start()

        self._build()
        self._restore_geometry()
        self.show_view("chat")
        if start_background:
            self._prepare_demo()

    def _build(self) -> None:
        """Create the views, the rail and the shortcuts: everything that shows translated text.

        All of it hangs off one central widget, so a language switch can drop it whole and build it
        again in the new language (the session, and so the unlocked vault, stays).
        """
        self.setWindowTitle(self.tr("Enclave"))
        central = self.central = QWidget()
        self.chat = ChatView(self.session)
        self.models = ModelsView(self.session)
        self.server = ServerView(self.session)
        self.privacy = PrivacyView(self.session)
        self.training = TrainingView(self.session)
        self.documents = DocumentsView(self.session)
        self.views: dict[str, QWidget] = {
            "chat": self.chat, "models": self.models, "server": self.server, "privacy": self.privacy,
            "training": self.training, "documents": self.documents,
        }
        self.stack = QStackedWidget()
        for view in self.views.values():
            self.stack.addWidget(view)

        self.nav = QWidget()
        self.nav.setObjectName("navBar")
        self.nav.setMinimumWidth(92)
        self.nav.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.nav_group = QButtonGroup(central)
        self.nav_group.setExclusive(True)
        self.nav_buttons: dict[str, QToolButton] = {}
        nav_layout = QVBoxLayout(self.nav)
        nav_layout.setContentsMargins(6, 10, 6, 10)
        labels = {
            "chat": self.tr("Chat"), "models": self.tr("Models"), "training": self.tr("Training"),
            "server": self.tr("Server"), "privacy": self.tr("Privacy"), "documents": self.tr("Documents"),
        }
        for number, name in enumerate(VIEWS, start=1):
            button = self._nav_button(name, labels[name])
            button.setToolTip(self.tr("{view} (Ctrl+{number})").format(view=labels[name], number=number))
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, n=name: self.show_view(n))
            self.nav_group.addButton(button)
            self.nav_buttons[name] = button
            nav_layout.addWidget(button)
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), central)
            shortcut.activated.connect(lambda n=name: self.show_view(n))
        nav_layout.addStretch(1)
        self.lock_button = self._nav_button("lock", self.tr("Lock"))
        self.lock_button.setToolTip(self.tr("Lock now (Ctrl+L)"))
        self.lock_button.clicked.connect(self.lock)
        nav_layout.addWidget(self.lock_button)

        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)  # deletes the previous central widget, if any

        for keys, slot in (
            ("Ctrl+N", self._new_chat),
            ("Ctrl+K", self._search),
            ("Ctrl+L", self.lock),
        ):
            QShortcut(QKeySequence(keys), central).activated.connect(slot)

        self.models.models_changed.connect(self.chat.refresh_models)
        self.models.models_changed.connect(self.server.refresh_models)
        self.models.models_changed.connect(self.training.refresh)
        self.training.models_changed.connect(self.models.refresh)
        self.training.models_changed.connect(self.chat.refresh_models)
        self.training.models_changed.connect(self.server.refresh_models)
        self.documents.collections_changed.connect(self.chat.refresh_collections)
        self.privacy.history_changed.connect(self.chat.reload)
        self.privacy.autolock_changed.connect(self._autolock_changed)
        self.privacy.language_chosen.connect(self.change_language)
        self.privacy.backup.restored.connect(lambda _vault: self._reload_views())

    def _nav_button(self, icon: str, text: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setIcon(theme.icon(icon))
        button.setIconSize(button.iconSize() * 1.5)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        return named(button, text)

    # -- navigation --------------------------------------------------------------------------------

    def show_view(self, name: str) -> None:
        """Bring a view to the front."""
        view = self.views[name]
        self.stack.setCurrentWidget(view)
        self.nav_buttons[name].setChecked(True)
        refresh = getattr(view, "on_shown", None)
        if refresh is not None:
            refresh()

    def current_view(self) -> str:
        """Name of the view in front."""
        return next(n for n, v in self.views.items() if v is self.stack.currentWidget())

    def _new_chat(self) -> None:
        self.show_view("chat")
        self.chat.new_chat()

    def _search(self) -> None:
        self.show_view("chat")
        self.chat.focus_search()

    # -- background start-up work ------------------------------------------------------------------

    def _prepare_demo(self) -> None:
        # First start: assemble the bundled demo model (a couple of seconds) without blocking.
        registry, vault = self.session.registry, self.session.vault
        run_task(self, lambda ctx: prepare_demo(registry), self._demo_ready, lambda _exc: None)
        run_task(self, lambda ctx: retention.purge_at_start(vault, actor=ACTOR), self._retention_done,
                 lambda _exc: None)

    def _retention_done(self, counts: dict[str, int]) -> None:
        if counts.get("conversations"):
            self.chat.reload()
            self.privacy.refresh()

    def _demo_ready(self, record: object) -> None:
        self.models.refresh()  # older records' facts may have been completed too
        if record is not None:
            self.chat.refresh_models()
            self.server.refresh_models()

    # -- geometry ----------------------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        stored = self.session.vault.settings.get(GEOMETRY_KEY)
        if isinstance(stored, str):
            self.restoreGeometry(QByteArray(base64.b64decode(stored)))

    def save_geometry(self) -> None:
        """Remember size and position in the vault (it is not the OS's business where we were)."""
        if self.remember_geometry and not self.session.vault.is_locked:
            data = bytes(self.saveGeometry().data())
            self.session.vault.settings.set(GEOMETRY_KEY, base64.b64encode(data).decode("ascii"))

    def closeEvent(self, event: QCloseEvent) -> None:
        # The window's close box while locked is a quit from the lock screen: ask, as its Quit button does.
        # (Closing from code — a confirmed Quit, SIGTERM — is not spontaneous and goes ahead.)
        dialog = getattr(self, "unlock_dialog", None)
        if self.is_locked and event.spontaneous() and dialog is not None and not dialog.confirm_quit():
            event.ignore()
            return
        if self.chat.stream is not None:
            self.chat.stream.stop()
        self.save_geometry()
        super().closeEvent(event)

    # -- language --------------------------------------------------------------------------------

    def change_language(self, language: str) -> None:
        """Use `language` ("" follows the system) from now on: store it, load it, rebuild the texts."""
        self.session.vault.settings.set(i18n.LANGUAGE_KEY, i18n.chosen(language))
        application = QApplication.instance()
        assert application is not None
        i18n.install(application, language or None)  # the LanguageChange events it sends rebuild us
        self._schedule_retranslate()  # also when the new language is the one already shown

    def _schedule_retranslate(self) -> None:
        # Swapping translators sends several LanguageChange events, and the combo box that asked for
        # the switch is still inside its signal: rebuild once, from the event loop.
        if not self._retranslate_pending:
            self._retranslate_pending = True
            QTimer.singleShot(0, self, self.retranslate)  # with `self` as context: dropped if it is gone

    def _rebuild_blocked(self) -> bool:
        # A reply streaming in, a server starting or stopping, an import copying: their results are
        # delivered to the view that started them, so that view must live until they are done.
        return (self.chat.busy() or self.server.busy() or self.models.import_task is not None
                or self.documents.busy() or self.is_locked)

    def retranslate(self) -> None:
        """Rebuild every view in the current language, keeping what the person was looking at."""
        if not self.isVisible():  # closed: nothing to show, and its vault may be closed too
            self._retranslate_pending = False
            return
        if self._rebuild_blocked():
            QTimer.singleShot(RETRANSLATE_RETRY_MS, self, self.retranslate)
            return
        self._retranslate_pending = False
        view = self.current_view()
        conversation = self.chat.conversation_id
        draft = self.chat.composer.toPlainText()
        sheet_open = self.chat.settings_button.isChecked()
        splitter = self.chat.splitter.saveState()
        model = self.models.selected()
        self._build()
        if conversation is not None:
            self.chat.open_conversation(conversation)
        self.chat.composer.setPlainText(draft)
        self.chat.settings_button.setChecked(sheet_open)
        self.chat.splitter.restoreState(splitter)
        if model is not None:
            self.models.select(model.name)
        self.show_view(view)
        if view == "privacy":
            # The switch came from there: keep a keyboard user's place instead of dropping focus.
            self.privacy.language.setFocus(Qt.FocusReason.OtherFocusReason)
        self.retranslated.emit()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange and hasattr(self, "chat") and self.isVisible():
            self._schedule_retranslate()
        if event.type() == QEvent.Type.PaletteChange:
            # Icons are drawn in the text colour: redraw them for the new light or dark palette.
            theme.clear_icon_cache()
            for name, button in self.nav_buttons.items():
                button.setIcon(theme.icon(name))
            self.lock_button.setIcon(theme.icon("lock"))
            for view in self.views.values():
                getattr(view, "apply_icons", lambda: None)()
        super().changeEvent(event)

    # -- auto-lock -------------------------------------------------------------------------------

    def _stored_autolock(self) -> int:
        return autolock_minutes(self.session)

    def _autolock_changed(self, minutes: int) -> None:
        self._autolock_minutes = minutes

    def check_idle(self) -> None:
        """Lock when nobody has touched the app for the configured time (never mid-reply)."""
        # Locking mid-reply would lose it; locking under a running server would break its clients.
        if (self.is_locked or not self._autolock_minutes or self.chat.busy() or self.server.running()
                or self.documents.busy()):
            return
        idle = time.monotonic() - self.activity.last_input
        if idle >= self._autolock_minutes * 60:
            self.lock()

    def lock(self) -> None:
        """Drop the keys from memory, hide everything, and ask for the passphrase again."""
        if self.is_locked:
            return
        if self.chat.stream is not None:
            self.chat.stream.stop()
        self.save_geometry()
        self.session.vault.lock()
        self.is_locked = True
        self.central.hide()
        self.locked.emit()
        # Deferred, so a caller (timer, shortcut, test) returns before the modal dialog runs.
        QTimer.singleShot(0, self._ask_unlock)

    def _ask_unlock(self) -> None:
        dialog = UnlockDialog(self.session.home, self, vault=self.session.vault)
        self.unlock_dialog = dialog
        dialog.finished.connect(self._unlock_finished)
        dialog.open()  # window-modal, without a nested event loop

    def _reload_views(self) -> None:
        """Every view reads the vault again (after an unlock, or a restore replaced it)."""
        for view in self.views.values():
            getattr(view, "reload", lambda: None)()

    def _unlock_finished(self, code: int) -> None:
        dialog = self.unlock_dialog
        if code == QDialog.DialogCode.Accepted and dialog.vault is not None:
            if dialog.vault is not self.session.vault:
                self.session.replace_vault(dialog.vault)
            self.is_locked = False
            self.activity.last_input = time.monotonic()
            self.central.show()
            self._reload_views()
            self.unlocked.emit()
        else:
            self.close()
