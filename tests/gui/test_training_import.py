"""The Training view imports a JSONL dataset file itself (no CLI): progress, the bad lines named by number
with nothing stored, then a good file stored encrypted and picked; the evaluation box of long English
answers never shows a sideways scroll bar."""

from __future__ import annotations

import json
from pathlib import Path

from tests.training.conftest import code_word_rows


def _wait(qtbot, view) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: view.import_task is None, timeout=30_000)


def test_a_bad_file_names_its_lines_and_a_good_one_is_imported(qtbot, window, session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = window.training
    window.show_view("training")
    rows = [json.dumps(r) for r in code_word_rows()]
    bad = tmp_path / "helpdesk answers.jsonl"
    bad.write_text("\n".join([rows[0], "{not json", rows[1], rows[0], '{"messages": []}']) + "\n")
    task = view.import_file(bad, "helpdesk")
    assert task is not None and view.import_progress.isVisible() and not view.import_button.isEnabled()
    _wait(qtbot, view)
    report = view.import_report.toPlainText().splitlines()
    assert view.import_report.isVisible() and [line.split(":")[0] for line in report] == ["Line 2", "Line 4", "Line 5"]
    assert "duplicates line 1" in report[1]
    assert "3 bad rows" in view.status.text() and "nothing was imported" in view.status.text()
    assert session.engine.training.datasets.list() == []  # nothing half-imported
    assert not view.import_progress.isVisible() and view.import_button.isEnabled()

    good = tmp_path / "helpdesk answers.jsonl"
    good.write_text("\n".join(rows) + "\n")
    from app.operations.training import suggested_name

    assert suggested_name(good, ["helpdesk-answers"]) == "helpdesk-answers-2"
    view.import_file(good, suggested_name(good, []))
    _wait(qtbot, view)
    assert not view.import_report.isVisible()
    assert [d.name for d in session.engine.training.datasets.list()] == ["helpdesk-answers"]
    assert view.dataset.currentData() == "helpdesk-answers", view.status.text()
    assert f"{len(rows)} rows" in view.status.text()
    view.import_file(good, "helpdesk-answers")  # the name is taken: one clear line, nothing stored
    _wait(qtbot, view)
    assert "already exists" in view.status.text() and len(session.engine.training.datasets.list()) == 1


def test_the_evaluation_box_wraps_instead_of_scrolling_sideways(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    view = window.training
    window.show_view("training")
    window.resize(800, 500)  # filled while small (as at start-up), then shown at many widths
    qtbot.wait(50)
    base = "How do I reset my password? mendatanguser " * 5
    samples = [{"prompt": [{"role": "user", "content": "How do I reset my password?"}],
                "expected": "Open id.example.internal, choose Forgot password and follow the email. — IT Helpdesk",
                "base": base, "adapted": "Sign in with your badge PIN and sign in. — IT Helpdesk " * 3}]
    samples.append({"prompt": [{"role": "user", "content": "mendatanguser" * 12}], "expected": "x" * 200,
                    "base": base, "adapted": base})  # "words" wider than a cell: they break, the table stays
    view.show_evaluation({"held_out_loss_before": 6.9694, "held_out_loss_after": 4.8377, "samples": samples})
    qtbot.wait(50)
    assert "Held-out loss" in view.evaluation.toPlainText()
    bar = view.evaluation.horizontalScrollBar()
    shown_at = []
    # At some widths Qt's table layout ends a pixel wider than the box: a sideways bar showed (README shot).
    for width in range(900, 1300, 3):
        window.resize(width, 800)
        qtbot.wait(5)
        if bar.isVisible():
            shown_at.append(width)
    assert shown_at == []
