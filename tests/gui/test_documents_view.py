"""The Documents view and document chat from the window: real files added through the view's operation
(the real default embedding model, real PDF), the import report, search, removal, cancel, and a chat turn
answered from a collection whose sources open the passage in its document."""

from __future__ import annotations

from pathlib import Path

from engine.documents.answer import INSTRUCTIONS
from tests.documents.files import write_pdf
from tests.tiny_gguf import write_tiny_gguf

FACT = "The warranty on every gizmo lasts seven years from delivery."
FILLER = " ".join(f"Routine paragraph {i} about office supplies and unrelated procedures." for i in range(30))


def _folder(root: Path, filler: str = FILLER) -> Path:
    """A handbook PDF (the fact on page 2), a note, and two files that cannot be read."""
    folder = root / "incoming"
    (folder / "sub").mkdir(parents=True)
    write_pdf(folder / "handbook.pdf", [filler, f"{FACT} {filler}", filler])
    (folder / "sub" / "notes.md").write_text("# Backups\n\nBackups go offsite every Friday night.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf \x00\x01\x02")
    (folder / "sub" / "empty.docx").write_bytes(b"PK\x03\x04 truncated zip")
    return folder


def _wait_task(qtbot, view, attribute: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: getattr(view, attribute) is None, timeout=180_000)


def test_documents_view_adds_searches_reports_and_removes(qtbot, window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = window.documents
    window.show_view("documents")
    assert window.current_view() == "documents"
    assert not view.add_files_button.isEnabled()  # no collection yet
    task = view.create_collection("Legal", "contract review", keep_originals=False)
    qtbot.waitUntil(lambda: view.selected_collection() == "Legal", timeout=10_000)
    assert not task.running and "contract review" in view.heading.text() and "not kept" in view.heading.text()
    assert "Legal" in [a.text() for a in window.chat.collections.menu_.actions()]  # offered in chat

    folder = _folder(tmp_path)
    started = view.add_paths([folder])
    assert started is not None and view.progress.isVisible() and view.cancel_button.isVisible()
    _wait_task(qtbot, view, "add_task")
    assert sorted(view.document_names()) == ["handbook.pdf", "notes.md"]
    assert view.table.item(view.document_names().index("handbook.pdf"), 1).text() == "3"  # pages
    report = view.report.toPlainText().splitlines()
    assert len(report) == 2 and report[0].startswith("broken.pdf: ") and report[1].startswith("empty.docx: ")
    assert "2 added" in view.status.text() and "2 unreadable" in view.status.text()
    assert not view.progress.isVisible()

    qtbot.waitUntil(lambda: view.library.ready, timeout=60_000)
    view.query.setText("how long is a gizmo covered")
    assert view.search() is not None
    _wait_task(qtbot, view, "search_task")
    assert view.hits.rowCount() >= 1, view.status.text()
    assert view.hits.item(0, 1).text() == "handbook.pdf" and view.hits.item(0, 2).text() == "2"
    assert "seven years" in view.hits.item(0, 0).text()
    view.open_hit(0)
    qtbot.waitUntil(lambda: getattr(view, "passage_dialog", None) is not None, timeout=10_000)
    assert "seven years" in view.passage_dialog.highlighted
    view.passage_dialog.close()

    # Re-adding is a no-op; cancelling stops before the files not yet read.
    more = tmp_path / "more"
    more.mkdir()
    for number in range(6):
        (more / f"memo{number}.txt").write_text(f"Memo {number}: the parking lot is repainted on day {number}.")
    view.add_paths([more])
    view.cancel()
    _wait_task(qtbot, view, "add_task")
    assert "cancelled" in view.status.text() and "0 cancelled" not in view.status.text(), view.status.text()

    row = view.document_names().index("notes.md")
    view.table.selectRow(row)
    count = view.table.rowCount()
    view.remove_document()
    qtbot.waitUntil(lambda: view.table.rowCount() == count - 1, timeout=10_000)
    assert "notes.md" not in view.document_names()

    view.remove_collection("Legal")
    qtbot.waitUntil(lambda: view.collection_list.count() == 0, timeout=10_000)
    assert window.session.engine.documents.collections() == []


def test_chat_answers_from_a_collection_with_sources(qtbot, window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = window.documents
    window.show_view("documents")
    view.create_collection("Handbook")
    qtbot.waitUntil(lambda: view.selected_collection() == "Handbook", timeout=10_000)
    view.add_paths([_folder(tmp_path, "Preamble and definitions.")])
    _wait_task(qtbot, view, "add_task")

    # The grounded prompt is longer than the 512 tokens of the suite's tiny model (one token a character).
    long = write_tiny_gguf(tmp_path / "long.gguf", context_length=4096)
    window.session.registry.import_file(long, "tiny-long")
    chat = window.chat
    chat.refresh_models()
    chat.model_picker.setCurrentIndex(chat.model_picker.findData("tiny-long"))
    window.show_view("chat")
    chat.collections.set_chosen(["Handbook"])
    assert chat.collections.chosen() == ["Handbook"] and "Handbook" in chat.collections.text()
    chat.sheet.max_tokens.setValue(16)
    chat.composer.setPlainText("How long is a gizmo covered?")
    with qtbot.waitSignal(chat.reply_finished, timeout=180_000) as finished:
        chat.send()
    assert chat.sources.isVisible(), chat.status.text()
    # The model read the grounded prompt (one token a character: instructions and sources, not just the question).
    assert finished.args[0].final.usage.prompt_tokens > len(INSTRUCTIONS) + len(FACT)
    first = chat.sources.list.item(0).text()
    assert first.startswith("[1] handbook.pdf, page 2: “") and "seven years" in first
    # The sources served this turn only: the conversation's stored system prompt is not them.
    conversation = window.session.vault.conversations.get(chat.conversation_id)
    assert not conversation.system_prompt
    chat.sources.open_source(0)
    qtbot.waitUntil(lambda: getattr(chat.sources, "passage_dialog", None) is not None, timeout=10_000)
    dialog = chat.sources.passage_dialog
    assert "seven years" in dialog.highlighted and "handbook.pdf" in dialog.windowTitle()
    assert "gizmo" in dialog.text.toPlainText()
    dialog.close()

    chat.new_chat()
    assert not chat.sources.isVisible()
