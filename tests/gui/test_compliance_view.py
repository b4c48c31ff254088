"""The data-protection part of the Privacy view (legal hold, data subjects, processing record, model allowlist)
and the Server view's upstream list."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from app.dialogs.confirm import TypedConfirmDialog
from engine.policy import allowlist, retention


def _conversations(vault, *titles: str) -> list[str]:  # type: ignore[no-untyped-def]
    ids = []
    for title in titles:
        conversation = vault.conversations.create(title)
        vault.conversations.add_message(conversation.id, "user", f"text of {title}")
        ids.append(conversation.id)
    return ids


def _panel(window):  # type: ignore[no-untyped-def]
    window.show_view("privacy")
    return window.privacy.compliance


def _tag(qtbot, panel, conversation_id: str, label: str) -> None:  # type: ignore[no-untyped-def]
    panel.tag_conversation.setCurrentIndex(panel.tag_conversation.findData(conversation_id))
    panel.subject_label.setText(label)
    with qtbot.waitSignal(panel.tagged, timeout=10_000):  # tagged off the GUI thread
        panel.tag_button.click()


def test_compliance_legal_hold_persists(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    panel = _panel(window)
    assert not panel.legal_hold.isChecked()
    panel.legal_hold.click()  # set off the GUI thread
    qtbot.waitUntil(lambda: retention.get_policy(session.vault).legal_hold, timeout=10_000)
    panel.refresh()
    assert panel.legal_hold.isChecked()
    panel.legal_hold.click()
    qtbot.waitUntil(lambda: not retention.get_policy(session.vault).legal_hold, timeout=10_000)


def test_compliance_subject_tag_export_and_erase(qtbot, window, session, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first, second, third = _conversations(session.vault, "alpha", "beta", "gamma")
    panel = _panel(window)
    _tag(qtbot, panel, first, "customer-42")
    _tag(qtbot, panel, third, "customer-42")
    assert {c.id for c in session.vault.conversations.list() if c.subject == "customer-42"} == {first, third}
    assert panel.subject.currentData() == "customer-42"

    panel.hold_subject.click()
    qtbot.waitUntil(lambda: retention.get_policy(session.vault).held_subjects == ("customer-42",), timeout=10_000)
    qtbot.waitUntil(panel.hold_subject.isChecked)
    panel.hold_subject.click()
    qtbot.waitUntil(lambda: retention.get_policy(session.vault).held_subjects == (), timeout=10_000)

    folder = tmp_path / "bundle"
    with qtbot.waitSignal(panel.subject_export_finished, timeout=10_000) as done:
        panel.export(folder, "customer-42")
    assert isinstance(done.args[0], dict)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["what"]["subject"] == "customer-42" and manifest["what"]["conversations"] == 2
    assert all((folder / part["path"]).is_file() for part in manifest["parts"])

    def type_and_confirm(dialog: TypedConfirmDialog) -> int:
        qtbot.keyClicks(dialog.field, dialog.word)
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        return dialog.result()

    monkeypatch.setattr(TypedConfirmDialog, "exec", type_and_confirm)
    with qtbot.waitSignal(window.privacy.history_changed, timeout=10_000):
        panel.confirm_erase_subject()
    assert {c.id for c in session.vault.conversations.list()} == {second}
    assert panel.subject.count() == 0 and not panel.erase_subject.isEnabled()
    assert window.privacy.conversation.count() == 1


def test_compliance_report_dialog(qtbot, window, session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.gui.test_main import _unnamed_controls

    _conversations(session.vault, "alpha")
    panel = _panel(window)
    with qtbot.waitSignal(panel.report_ready, timeout=15_000) as ready:
        panel.show_report.click()
    dialog = ready.args[0]
    text = dialog.text.toPlainText()
    assert dialog.isVisible() and dialog.text.isReadOnly()
    assert "Data categories:" in text and "conversations" in text and "api_content" in text
    assert _unnamed_controls(dialog) == []
    dialog.save_to(tmp_path / "record.txt")
    assert (tmp_path / "record.txt").read_text(encoding="utf-8") == text
    dialog.close()


def test_compliance_allowlist_toggle_and_approve(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    panel = _panel(window)

    def click(button) -> None:  # type: ignore[no-untyped-def]
        with qtbot.waitSignal(panel.allowlist_changed, timeout=10_000):  # each change runs off the GUI thread
            button.click()

    click(panel.allowlist_required)
    assert allowlist.is_required(session.vault)
    panel.model_choice.setCurrentIndex(panel.model_choice.findData("tiny"))
    click(panel.approve_button)
    sha256 = session.registry.get("tiny").sha256
    assert sha256 in allowlist.approved(session.vault)
    assert panel.approved.count() == 1
    panel.approved.setCurrentRow(0)
    click(panel.unapprove_button)
    assert allowlist.approved(session.vault) == {}
    click(panel.allowlist_required)
    assert not allowlist.is_required(session.vault)


def test_upstreams_list_shows_a_registered_upstream(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    from engine.upstreams import add_upstream

    view = window.server
    window.show_view("server")
    qtbot.waitUntil(view.refresh_upstreams_button.isEnabled, timeout=10_000)
    add_upstream(session.vault, "lab", "http://127.0.0.1:9/v1", models=["x"], actor="test")
    with qtbot.waitSignal(view.upstreams_checked, timeout=15_000):
        view.refresh_upstreams_button.click()
    assert view.upstreams.rowCount() == 1
    cells = [view.upstreams.index(0, c).data() for c in range(view.upstreams.columnCount())]
    assert cells[0] == "lab" and cells[1].startswith("http://127.0.0.1:9") and cells[2] == "x"
    assert cells[3].startswith("problem:")
    assert view.upstreams_state.text()
