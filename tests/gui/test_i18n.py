"""Translations: every string wrapped and translated, catalogues in step, the language switched at runtime,
locale-aware formats, and Chinese text that wraps, is found by search, and never reaches the disk in clear."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QAbstractButton, QGroupBox, QLabel, QWidget

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app"
I18N = REPO / "assets" / "i18n"
TS_FILES = sorted(I18N.glob("*.ts"))
TOOLS = Path(sys.executable).parent  # pyside6-lupdate / pyside6-lrelease come with PySide6 in the venv

# Calls that put text in front of a person (or a screen reader); a literal with letters in one of them
# is a string that lupdate never sees.
TEXT_CALLS = {
    "QLabel", "QPushButton", "QCheckBox", "QRadioButton", "QGroupBox", "QToolButton", "QAction", "QListWidgetItem",
    "muted", "named", "_heading", "CopyButton", "TypedConfirmDialog",
    "setText", "setToolTip", "setStatusTip", "setWhatsThis", "setPlaceholderText", "setWindowTitle", "setTitle",
    "setSubTitle", "setAccessibleName", "setAccessibleDescription", "setSpecialValueText", "setSuffix",
    "setPrefix", "setButtonText", "setFormat", "addItem", "addItems", "addTab", "addRow", "insertRow",
    "addAction", "information", "warning", "question", "critical", "getText", "getSaveFileName",
    "getOpenFileName", "show_error",
}
# Literals that are not language: code placeholders.
ALLOWED_LITERALS = {"{% for m in messages %}…{% endfor %}"}
_TAGS = re.compile(r"<[^>]+>")


def _has_words(text: str) -> bool:
    text = _TAGS.sub("", text)
    return text not in ALLOWED_LITERALS and any(c.isalpha() for c in text)


def _literal_text(node: ast.AST) -> str | None:
    """The letters-bearing literal part of an argument, if it has one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and _has_words(node.value):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return parts if _has_words(parts) else None
    if isinstance(node, ast.BinOp):
        return _literal_text(node.left) or _literal_text(node.right)
    return None


def test_no_literal_text_reaches_a_widget() -> None:
    offenders = []
    for path in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name not in TEXT_CALLS:
                continue
            args = node.args
            if name == "addItem" and len(args) >= 2:
                args = args[:-1]  # the last one is the item's data, never shown
            for arg in [*args, *(k.value for k in node.keywords)]:
                text = _literal_text(arg)
                if text is not None:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {name}({text!r})")
    assert offenders == [], "wrap these in tr():\n" + "\n".join(offenders)


def _messages(ts: Path) -> list[tuple[str, str, ET.Element]]:
    root = ET.parse(ts).getroot()
    return [
        (context.findtext("name") or "", message.findtext("source") or "", message)
        for context in root.iter("context")
        for message in context.iter("message")
    ]


def _unfinished(ts: Path) -> list[str]:
    bad = []
    for context, source, message in _messages(ts):
        translation = message.find("translation")
        assert translation is not None
        forms = [f.text for f in translation.iter("numerusform")] if message.get("numerus") == "yes" else [
            translation.text]
        if translation.get("type") in ("unfinished", "vanished", "obsolete") or not all(f and f.strip() for f in forms):
            bad.append(f"{context}: {source!r}")
    return bad


@pytest.mark.parametrize("ts", TS_FILES, ids=lambda p: p.name)
def test_every_ts_entry_is_translated(ts: Path) -> None:
    assert _messages(ts), "empty catalogue"
    assert _unfinished(ts) == []


@pytest.mark.parametrize("ts", TS_FILES, ids=lambda p: p.name)
def test_ts_holds_every_string_of_the_app(ts: Path, tmp_path: Path) -> None:
    # lupdate adds a string it finds in app/ as unfinished: a tr() added without `make i18n` fails here.
    copy = tmp_path / ts.name
    shutil.copy(ts, copy)
    sources = sorted(str(p) for p in APP.rglob("*.py"))
    subprocess.run([str(TOOLS / "pyside6-lupdate"), "-no-obsolete", "-locations", "none", *sources, "-ts", str(copy)],
                   check=True, capture_output=True)
    assert _unfinished(copy) == [], "run `make i18n` and translate the new strings"
    assert len(_messages(copy)) == len(_messages(ts)), "strings left the app: run `make i18n`"


@pytest.mark.parametrize("ts", TS_FILES, ids=lambda p: p.name)
def test_qm_is_compiled_from_its_ts(ts: Path, tmp_path: Path) -> None:
    fresh = tmp_path / ts.with_suffix(".qm").name
    subprocess.run([str(TOOLS / "pyside6-lrelease"), "-silent", str(ts), "-qm", str(fresh)], check=True)
    assert ts.with_suffix(".qm").read_bytes() == fresh.read_bytes(), "run `make i18n` and commit the .qm"


def test_the_ai_label_in_both_languages(zh) -> None:  # type: ignore[no-untyped-def]
    assert QCoreApplication.translate("MessageWidget", "AI-generated") == "内容由人工智能生成"


def test_every_audit_event_has_a_name_in_the_privacy_view(zh) -> None:  # type: ignore[no-untyped-def]
    from app.audit_names import event_label
    from engine.policy.audit_events import EVENTS

    # Shown by name, in the person's language (an unnamed event would show its code, in English).
    assert [event for event in EVENTS if event_label(event) == event] == []


# -- the running app ---------------------------------------------------------------------------------


@pytest.fixture()
def zh(qapp) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Chinese translations installed for the test; English again afterwards."""
    from app import i18n

    assert i18n.install(qapp, "zh_CN") == "zh_CN"
    yield
    i18n.install(qapp, "en")


@pytest.fixture()
def back_to_english(qapp) -> Iterator[None]:  # type: ignore[no-untyped-def]
    from app import i18n

    yield
    i18n.install(qapp, "en")


def _texts(root: QWidget) -> list[str]:
    """Every visible text of labels, buttons and group boxes under `root`."""
    texts = []
    for widget in root.findChildren(QWidget):
        if isinstance(widget, QLabel | QAbstractButton):
            texts.append(widget.text())
        elif isinstance(widget, QGroupBox):
            texts.append(widget.title())
    return texts


def _has_chinese(texts: list[str]) -> bool:
    return any(re.search(r"[\u4e00-\u9fff]", t) for t in texts)


def test_switch_language_at_runtime(qtbot, window, session, back_to_english) -> None:  # type: ignore[no-untyped-def]
    from app import i18n

    conversation = session.vault.conversations.create("季度报告", model="tiny")
    session.vault.conversations.add_message(conversation.id, "user", "你好")
    window.chat.reload()
    window.chat.composer.setPlainText("草稿还没发")
    window.show_view("privacy")
    privacy = window.privacy
    with qtbot.waitSignal(window.retranslated, timeout=5_000):
        privacy.language.setCurrentIndex(privacy.language.findData("zh_CN"))
        privacy.language.activated.emit(privacy.language.currentIndex())
    assert session.vault.settings.get(i18n.LANGUAGE_KEY) == "zh_CN"
    assert not session.vault.is_locked and window.current_view() == "privacy"
    assert window.privacy is not privacy  # rebuilt, in Chinese
    assert window.nav_buttons["chat"].text() == "对话" and window.windowTitle() == "Enclave"
    assert window.nav_buttons["chat"].accessibleName() == "对话"  # what a screen reader says changes too
    assert window.chat.composer.accessibleName() == "消息"

    expected = {
        "chat": window.chat.sidebar.new_button.text() == "新对话",
        "models": window.models.import_button.text() == "导入…",
        "server": window.server.start_button.text() == "启动",
        "privacy": window.privacy.language.currentData() == "zh_CN",
    }
    assert all(expected.values()), expected
    for name, view in window.views.items():
        window.show_view(name)
        assert _has_chinese(_texts(view)), name
    # What the person was doing survives the rebuild.
    assert window.chat.conversation_id == conversation.id
    assert window.chat.composer.toPlainText() == "草稿还没发"

    with qtbot.waitSignal(window.retranslated, timeout=5_000):
        window.change_language("en")
    assert window.nav_buttons["chat"].text() == "Chat"
    assert not _has_chinese([t for t in _texts(window.models) if t != "季度报告"])


def test_language_waits_for_a_streaming_reply(qtbot, window, back_to_english) -> None:  # type: ignore[no-untyped-def]
    chat = window.chat
    chat.sheet.max_tokens.setValue(16)
    chat.composer.setPlainText("Hello")
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000):
        chat.send()
        window.change_language("zh_CN")
        assert window.chat is chat  # not rebuilt under the stream
    qtbot.waitUntil(lambda: window.nav_buttons["chat"].text() == "对话", timeout=5_000)


def test_stored_language_applies_at_start(qtbot, session, tmp_path: Path, monkeypatch, back_to_english) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from app import i18n
    from app.main import run
    from tests.gui.conftest import PASSPHRASE

    session.vault.settings.set(i18n.LANGUAGE_KEY, "zh_CN")
    session.vault.close()
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    assert run(argparse.Namespace(screenshot=tmp_path / "zh.png", view="models")) == 0
    assert i18n.current() == "zh_CN"


def test_locale_formats(zh) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from app.widgets import human_date, human_duration_ms, human_number, human_size

    assert human_number(1234567) == "1,234,567"
    assert human_size(253_400_000) == "253.4 MB"
    assert human_date(dt.datetime(2025, 3, 4, 12, tzinfo=dt.UTC)) == "2025/3/4"
    assert human_duration_ms(12_400) == "12.4 秒"


LONG_CHINESE = "数据保护法要求企业只在必要的期限内保存个人信息，" * 12 + "蓝色长颈鹿"


def test_chinese_text_wraps_in_the_chat(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    from app.models.messages import MessageItem

    window.resize(1000, 700)
    chat = window.chat
    chat.messages.append(MessageItem("user", LONG_CHINESE))
    chat.messages.append(MessageItem("assistant", LONG_CHINESE))
    chat._show_placeholder()
    qtbot.waitUntil(lambda: len(chat.view.widgets()) == 2)
    qtbot.wait(50)
    viewport = chat.view.viewport().width()
    for bubble in chat.view.widgets():
        assert bubble.width() <= viewport
        assert bubble.body.height() > 3 * bubble.fontMetrics().height()  # wrapped onto several lines
    assert chat.view.horizontalScrollBar().maximum() == 0


CANARY = "机密金丝雀短语：紫色长颈鹿在午夜歌唱"


def test_chinese_canary_is_found_by_search_and_never_on_disk_in_clear(  # type: ignore[no-untyped-def]
    qtbot, window, session, enclave_home: Path
) -> None:
    vault = session.vault
    conversation = vault.conversations.create("周报", model="tiny")
    vault.conversations.add_message(conversation.id, "user", f"请记住：{CANARY}。")
    vault.conversations.add_message(conversation.id, "assistant", "好的，我记住了。")
    chat = window.chat
    chat.reload()
    sidebar = chat.sidebar
    sidebar.search.setText("金丝雀")
    qtbot.waitUntil(lambda: sidebar.hits.isVisibleTo(sidebar) and sidebar.hits.count() == 1, timeout=5_000)
    hit = sidebar.hits.item(0)
    assert hit.data(Qt.ItemDataRole.UserRole) == conversation.id
    assert "金丝雀" in hit.data(Qt.ItemDataRole.AccessibleTextRole)
    sidebar._open_hit(hit)
    assert chat.conversation_id == conversation.id
    assert any(CANARY in w.item.content for w in chat.view.widgets())

    vault.close()  # checkpoints the WAL: every byte is in the files now
    needles = [CANARY.encode("utf-8"), "金丝雀".encode(), "周报".encode()]
    for path in enclave_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path


def test_a_system_without_a_real_locale_gets_plain_english_formats(qapp, back_to_english) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from PySide6.QtCore import QLocale

    from app import i18n
    from app.widgets import human_date

    if QLocale.system().language() != QLocale.Language.C:
        pytest.skip("only meaningful where the system locale is C/POSIX (as in CI and containers)")
    assert i18n.install(qapp) == "en"
    assert human_date(dt.datetime(2025, 3, 4, 12, tzinfo=dt.UTC)) == "3/4/25"  # not the C locale's "4 3 2025"
