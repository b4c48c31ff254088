"""The Training view: a real training of the tiny model from the window, a live loss curve, the base and
adapted answers side by side, the adapter's record, and the adapted model offered for chat."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from tests.training.conftest import CODE_WORD, QUESTIONS, code_word_rows


def test_training_from_the_window(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    data = ("\n".join(json.dumps(r) for r in code_word_rows()) + "\n").encode()
    session.engine.training.datasets.import_bytes(data, "codes")
    view = window.training
    window.show_view("training")
    view.refresh()
    view.base.setCurrentIndex(view.base.findData("tiny"))
    view.dataset.setCurrentIndex(view.dataset.findData("codes"))
    assert view.name.text() == "tiny-codes"
    view.epochs.setValue(3)
    view.rank.setValue(4)
    view.lr.setValue(0.02)
    task = view.start()
    assert task is not None and not view.start_button.isEnabled() and view.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not task.running, timeout=300_000)
    assert "tiny-codes is ready" in view.status.text(), view.status.text()
    assert [step for step, _ in view.curve.points] == list(range(1, 16))  # one point a step, live
    assert view.curve.points[-1][1] < view.curve.points[0][1]
    evaluation = view.evaluation.toPlainText()
    assert f"The code word is {CODE_WORD}" in evaluation and "Held-out loss" in evaluation
    # The record in words, not raw JSON: labelled lines with the real hashes and settings.
    record = view.record.toPlainText()
    info = session.engine.training.info("tiny-codes")
    assert "{" not in record and "hyperparameters" not in record, record
    assert "Base model" in record and "tiny" in record and info["adapter_sha256"] in record
    assert "codes: " in record and "LoRA rank 4" in record and "Legal basis" in record
    assert "tiny-codes" in {r.name for r in session.registry.list()}
    picker = window.chat.model_picker  # offered for chat in the desktop picker
    assert any(picker.itemText(i).startswith("tiny-codes") for i in range(picker.count()))
    assert view.start_button.isEnabled() and not view.stop_button.isEnabled()


def test_a_dataset_from_two_ticked_conversations(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    conversations = session.vault.conversations
    ids = []
    for index, (question, subject) in enumerate(((QUESTIONS[0], "kim"), (QUESTIONS[1], None), (QUESTIONS[2], None))):
        conv = conversations.create(f"Chat {index}", subject=subject)
        conversations.add_message(conv.id, "user", question)
        conversations.add_message(conv.id, "assistant", f"The code word is {CODE_WORD}.")
        ids.append(conv.id)
    view = window.training
    window.show_view("training")
    view.refresh()
    view.base.setCurrentIndex(view.base.findData("tiny"))
    dialog = view.new_dataset_from_conversations()
    assert dialog.isVisible() and dialog.list.topLevelItemCount() == 3
    titles = {dialog.list.topLevelItem(i).text(0): dialog.list.topLevelItem(i).text(2) for i in range(3)}
    assert titles == {"Chat 0": "kim", "Chat 1": "—", "Chat 2": "—"}  # title, date and subject shown
    assert not dialog.create_button.isEnabled()
    dialog.set_checked(ids[0])
    dialog.set_checked(ids[2])
    dialog.name.setText("picked")
    assert dialog.create_button.isEnabled()
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30_000)
    assert dialog.created is not None and dialog.created.rows == 2 and dialog.created.subjects == ("kim",)
    assert view.dataset.currentData() == "picked"  # selectable for training, and selected
    assert view.base.currentData() == "tiny"
    assert view.name.text() == "tiny-picked"
    rows = session.engine.training.datasets.rows(dialog.created)
    assert sorted(r.messages[0]["content"] for r in rows) == sorted([QUESTIONS[0], QUESTIONS[2]])  # list order

    again = view.new_dataset_from_conversations()  # a taken name: said in the dialog, which stays open
    again.set_checked(ids[1])
    again.set_checked(ids[2])
    again.name.setText("picked")
    task = again.create()
    assert task is not None
    qtbot.waitUntil(lambda: not task.running, timeout=30_000)
    assert again.isVisible() and "already exists" in again.status.text()
    again.reject()


def test_view_shows_a_model_trained_elsewhere(qtbot, qapp, window, session) -> None:  # type: ignore[no-untyped-def]
    """An adapter trained from the command line under its own name is shown when its base and dataset are picked."""
    from engine.training.jobs import TrainRequest

    data = ("\n".join(json.dumps(r) for r in code_word_rows()) + "\n").encode()
    training = session.engine.training
    training.datasets.import_bytes(data, "codes")
    for _ in training.train(TrainRequest("tiny", "codes", "support-bot", epochs=1, rank=4, lr=0.02)):
        pass
    view = window.training
    window.show_view("training")
    view.refresh()
    view.base.setCurrentIndex(view.base.findData("tiny"))
    view.dataset.setCurrentIndex(view.dataset.findData("codes"))
    assert view.name.text() == "support-bot"
    assert "support-bot already exists" in view.status.text()
    assert training.info("support-bot")["adapter_sha256"] in view.record.toPlainText()
    assert view.curve.points  # the finished training's loss curve, from its record
    assert view.progress.value() == view.progress.maximum() > 0  # a finished training: the bar is full
    # The audit log says what training did in words, in both languages: no raw field names or English left.
    from app import i18n
    from app.audit_names import describe_details

    events = ("dataset_import", "training_start", "training_finish", "adapter_load")
    entries = [e for e in session.vault.audit.entries() if e.event in events]
    assert {e.event for e in entries} >= {"dataset_import", "training_start", "training_finish"}
    for language in ("en", "zh_CN"):
        i18n.install(qapp, language)
        try:
            for entry in entries:
                said = describe_details(entry.event, entry.details)
                assert "_sha256" not in said and "rows:" not in said and "subjects:" not in said, said
                if language == "zh_CN":
                    assert "dataset" not in said.lower() and "row" not in said, said
        finally:
            i18n.install(qapp, "en")
