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
    answer = chat.view.widgets()[-1]
    assert answer.sources.isVisible(), chat.status.text()
    # The model read the grounded prompt (one token a character: instructions and sources, not just the question).
    assert finished.args[0].final.usage.prompt_tokens > len(INSTRUCTIONS) + len(FACT)
    first = answer.sources.lines()[0]
    assert first.startswith("[1] handbook.pdf, page 2: “") and "seven years" in first
    # The sources served this turn only: the conversation's stored system prompt is not them.
    conversation = window.session.vault.conversations.get(chat.conversation_id)
    assert not conversation.system_prompt
    # Stored with the reply (sealed in the vault) and the collections with the conversation.
    stored = window.session.vault.conversations.messages(chat.conversation_id)[-1]
    assert stored.metadata["sources"][0]["document"] == "handbook.pdf" and stored.metadata["sources"][0]["page"] == 2
    assert conversation.collections == ("Handbook",)
    answer.sources.list.linkActivated.emit("0")  # a click on source [1]
    qtbot.waitUntil(lambda: getattr(chat, "passage_dialog", None) is not None, timeout=10_000)
    dialog = chat.passage_dialog
    assert "seven years" in dialog.highlighted and "handbook.pdf" in dialog.windowTitle()
    assert "gizmo" in dialog.text.toPlainText()
    dialog.close()

    # A new chat starts without documents; reopening the first brings back its collections and its sources.
    first_id = chat.conversation_id
    chat.new_chat()
    assert chat.collections.chosen() == [] and chat.collections.text() == "Documents: none"
    assert not any(w.sources.isVisible() for w in chat.view.widgets())
    chat.open_conversation(first_id)
    assert chat.collections.chosen() == ["Handbook"]
    reopened = chat.view.widgets()[-1]
    assert reopened.sources.isVisible() and reopened.sources.lines()[0] == first
    assert not chat.view.widgets()[0].sources.isVisible()  # the question has none
    # Regenerating an answer from documents writes it from the sources again, stored with its own.
    with qtbot.waitSignal(chat.reply_finished, timeout=180_000):
        chat.regenerate()
    qtbot.waitUntil(lambda: chat.view.widgets()[-1].item.versions == 2, timeout=10_000)
    versions = window.session.vault.conversations.messages(first_id)[-1].alternatives
    assert [v.metadata["sources"][0]["document"] for v in versions] == ["handbook.pdf", "handbook.pdf"]
    assert versions[1].metadata["usage"]["prompt_tokens"] > len(INSTRUCTIONS) + len(FACT)
    assert chat.view.widgets()[-1].sources.lines()[0] == first
    # Unticking the collection is remembered for this conversation too.
    chat.collections.set_chosen([])
    assert window.session.vault.conversations.get(first_id).collections == ()


def test_api_uploads_are_labelled_and_not_offered_in_chat(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    engine = window.session.engine
    engine.vector_stores.upload("notes.txt", b"Uploaded by a script.")
    engine.documents.create_collection("Legal")
    view = window.documents
    window.show_view("documents")
    view.refresh()
    labels = [view.collection_list.item(i).text() for i in range(view.collection_list.count())]
    assert "Files uploaded through the API" in labels and "openai-files" not in labels
    view.select_collection("openai-files")
    assert view.document_names() == ["notes.txt"]  # the organisation's data: listed, and removable
    assert "Files uploaded through the API" in view.heading.text()
    assert not view.add_files_button.isEnabled() and view.remove_collection_button.isEnabled()
    window.chat.refresh_collections()
    offered = [a.text() for a in window.chat.collections.menu_.actions()]
    assert offered == ["Legal"]


def test_audit_view_names_document_collections(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from app.audit_names import describe_details

    library = window.session.engine.documents
    coll = library.create_collection("Case 2024-113")
    window.show_view("privacy")
    privacy = window.privacy
    privacy.refresh()
    entry = next(e for e in window.session.vault.audit.entries() if e.event == "documents_collection")
    assert entry.details == {"collection": coll.id}  # the chain keeps the id: names may be personal
    row = next(r for r in range(privacy.audit.rowCount())
               if privacy.audit.index(r, 2).data() == "Document collection created")
    shown = privacy.audit.index(row, 4).data()
    assert "“Case 2024-113”" in shown and coll.id not in shown
    added = describe_details("documents_add", {"collection": coll.id, "added": 2, "failed": 1},
                             privacy.collection_names)
    assert added == "Collection “Case 2024-113”; 2 files added; 1 file unreadable"
    assert "a removed collection" in describe_details("documents_add", {"collection": "gone"}, {})


def test_collection_picker_leaves_room_for_its_arrow(window) -> None:  # type: ignore[no-untyped-def]
    picker = window.chat.collections
    picker.set_chosen([])
    # The menu arrow is drawn beside the text, not over its end: the button is wider than the same Qt button
    # without a menu by the arrow's room (a tool button with an instant popup reserved none, and overlapped).
    plain = type(picker).__mro__[1]()  # the Qt button class it is made from
    plain.setFont(picker.font())
    plain.setText(picker.text())
    assert picker.sizeHint().width() >= plain.sizeHint().width() + 8
