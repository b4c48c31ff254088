"""What the app shows is said in words, in the person's language: audit details, checksums, memory,
and the Unload button's icon."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

RAW = re.compile(r"store_content|tokens_per_day|\brpm\b|policy\.|api_metadata|held_subjects|: True|: False")


@pytest.fixture(params=["en", "zh_CN"])
def language(request, qapp) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from app import i18n

    i18n.install(qapp, request.param)
    yield request.param
    i18n.install(qapp, "en")


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def test_audit_details_are_sentences(qtbot, session, language) -> None:  # type: ignore[no-untyped-def]
    from app.views.privacy import PrivacyView
    from engine.policy import retention
    from engine.policy.keys import issue_key, revoke_key

    vault = session.vault
    issue_key(vault, "intranet-bot", models=["tiny"], rpm=60, tokens_per_day=200_000, store_content=False)
    issue_key(vault, "old-prototype")
    revoke_key(vault, "old-prototype")
    days = {"conversations": 30, "api_content": 7, "api_metadata": 90}
    retention.set_policy(vault, retention.RetentionPolicy().with_days(days), actor="gui")
    view = PrivacyView(session)
    qtbot.addWidget(view)
    details = {}
    for row in range(view.audit.rowCount()):
        entry = view.audit.record(row)
        details[(entry.event, entry.seq)] = view.audit.data(view.audit.index(row, 4))
    shown = [text for text in details.values() if text]
    assert shown and not [text for text in shown if RAW.search(text)], shown
    created = next(t for (event, _), t in sorted(details.items()) if event == "api_key_create")
    setting = next(t for (event, _), t in details.items() if event == "setting_change")
    if language == "en":
        assert "only metadata is logged, no texts" in created and "at most 60 requests a minute" in created
        assert setting.startswith("Retention set: keep conversations 30 days") and "API request texts 7 days" in setting
    else:
        assert _has_chinese(created) and _has_chinese(setting) and "intranet-bot" in created
    # The stored names stay reachable for an auditor matching `enclave audit show`: in the tooltip.
    row = next(r for r in range(view.audit.rowCount()) if view.audit.record(r).event == "api_key_create")
    assert "store_content" in view.audit.data(view.audit.index(row, 4), Qt.ItemDataRole.ToolTipRole)


def test_the_memory_figure_says_what_it_is_made_of(qtbot, session, language) -> None:  # type: ignore[no-untyped-def]
    from app.hardware import Hardware
    from app.views.models import HardwarePanel
    from app.widgets import human_size
    from engine.models.memory import estimate_memory

    panel = HardwarePanel()
    qtbot.addWidget(panel)
    record = session.registry.get("tiny")
    parts = estimate_memory(record)
    panel.show_info(Hardware("CPU", 2, 8 * 1024**3, 4 * 1024**3, (), False))
    panel.show_fit(record)
    # A model of a few hundred kB "needs" hundreds of MB: the line below says which parts, so the total
    # is no riddle (buffers and the RAM kept for paused conversations, not the model).
    text = panel.fit_parts.text()
    for size in (parts.weights, parts.kv_cache, parts.buffers, parts.saved_conversations):
        assert human_size(size) in text
    assert human_size(parts.saved_conversations) in panel.fit.toolTip()
    if language == "zh_CN":
        assert _has_chinese(text)


def test_unload_has_its_own_icon(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    from app import theme

    view = window.models
    view.select("tiny")
    assert view.load_button.text() == "Load"
    assert view.load_button.icon().cacheKey() == theme.icon("play").cacheKey()
    said: list[str] = []
    show = view.status.setText
    view.status.setText = lambda text: (said.append(text), show(text))  # type: ignore[method-assign]
    view.toggle_load()
    qtbot.waitUntil(lambda: view.load_button.text() == "Unload", timeout=10_000)
    assert any(text.startswith("Loading tiny… ") and text.endswith("%") for text in said)  # the engine's progress
    assert view.load_button.icon().cacheKey() == theme.icon("unload").cacheKey()
