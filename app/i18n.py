"""Translations: Qt's own strings and ours, for the system language or the one chosen in settings.

The compiled catalogues (`assets/i18n/enclave_<lang>.qm`) are built by `make i18n` from the `.ts`
sources beside them and committed, so a checkout runs without Qt's tools; a test keeps them in step.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from app.theme import assets_dir

LANGUAGE_KEY = "gui.language"  # vault setting: "" (follow the system), "en" or "zh_CN"
LANGUAGES = ("en", "zh_CN")
# Each language is named in itself, never translated: someone who cannot read the current language
# must still find their own in the list.
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}
_installed: list[QTranslator] = []
_current = "en"


def translations_dir() -> Path:
    """Where the `.ts` sources and compiled `.qm` catalogues live."""
    return assets_dir() / "i18n"


def system_language() -> str:
    """The supported language closest to the system's."""
    return "zh_CN" if QLocale.system().language() == QLocale.Language.Chinese else "en"


def current() -> str:
    """The language whose translations are installed now."""
    return _current


def chosen(setting: object) -> str:
    """A stored language setting as one of LANGUAGES, or "" (follow the system) when unset or unknown."""
    return setting if isinstance(setting, str) and setting in LANGUAGES else ""


def install(app: QCoreApplication, language: str | None = None) -> str:
    """Load translators for `language` (None or "": the system's); returns the language in use.

    Installing or removing a translator sends every widget a LanguageChange event: the main window
    rebuilds its texts on it, so this also switches a running app.
    """
    global _current
    follow_system = not language
    language = language or system_language()
    for translator in _installed:
        app.removeTranslator(translator)
    _installed.clear()
    # Following the system keeps its regional formats (en_GB dates, de_DE decimal commas); a chosen
    # language, or a system without a real locale (C, POSIX: "28 11 2026"), gets that language's own.
    system = QLocale.system()
    regional = follow_system and system.language() not in (QLocale.Language.C, QLocale.Language.AnyLanguage)
    QLocale.setDefault(system if regional and language == system_language() else QLocale(language))
    _current = language
    if language == "en":
        return language
    qt_translations = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    for name, folder in ((f"qtbase_{language}", qt_translations), (f"enclave_{language}", str(translations_dir()))):
        translator = QTranslator(app)
        if translator.load(name, folder):
            app.installTranslator(translator)
            _installed.append(translator)
    return language
