"""Translations: Qt's own strings and ours, for the system language or the one chosen in settings."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from app.theme import assets_dir

LANGUAGE_KEY = "gui.language"  # vault setting: "" (follow the system), "en" or "zh_CN"
LANGUAGES = ("en", "zh_CN")
_installed: list[QTranslator] = []


def system_language() -> str:
    """The supported language closest to the system's."""
    return "zh_CN" if QLocale.system().language() == QLocale.Language.Chinese else "en"


def install(app: QCoreApplication, language: str | None = None) -> str:
    """Load translators for `language` (default: the system's); returns the language in use."""
    language = language or system_language()
    for translator in _installed:
        app.removeTranslator(translator)
    _installed.clear()
    QLocale.setDefault(QLocale(language))
    if language == "en":
        return language
    qt_translations = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    for name, folder in ((f"qtbase_{language}", qt_translations), (f"enclave_{language}", str(assets_dir() / "i18n"))):
        translator = QTranslator(app)
        if translator.load(name, folder):
            app.installTranslator(translator)
            _installed.append(translator)
    return language
