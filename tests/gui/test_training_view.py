"""The Training view: a real training of the tiny model from the window, a live loss curve, the base and
adapted answers side by side, the adapter's record, and the adapted model offered for chat."""

from __future__ import annotations

import json

from tests.training.conftest import CODE_WORD, code_word_rows


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
    record = json.loads(view.record.toPlainText())
    assert record["base_model"] == "tiny" and len(record["adapter_sha256"]) == 64
    assert record["dataset"] == "codes" and record["hyperparameters"]["rank"] == 4
    assert "tiny-codes" in {r.name for r in session.registry.list()}
    picker = window.chat.model_picker  # offered for chat in the desktop picker
    assert any(picker.itemText(i).startswith("tiny-codes") for i in range(picker.count()))
    assert view.start_button.isEnabled() and not view.stop_button.isEnabled()
