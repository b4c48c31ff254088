"""Model output as Markdown: cut into paragraphs and code blocks, so a streaming reply re-renders only its end."""

from __future__ import annotations

from app.views.markdown import MarkdownView, Segment, split_segments


def test_prose_is_cut_between_paragraphs_where_nothing_continues() -> None:
    text = (
        "First.\nStill first.\n\nSecond.\n\n- a list\n\n- kept together\n\n  indented: continues\n\n"
        "> a quote\n\n> goes on\n\nAfter.\n\n```py\nx = 1\n\ny = 2\n```\nLast."
    )
    assert split_segments(text) == [
        Segment("First.\nStill first."),
        Segment("Second.\n\n- a list\n\n- kept together\n\n  indented: continues\n\n> a quote\n\n> goes on"),
        Segment("After.\n"),  # prose before a fence keeps its line end, as before
        Segment("x = 1\n\ny = 2", code=True, language="py"),
        Segment("Last."),
    ]


def test_a_growing_reply_renders_only_its_last_paragraph_again(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = MarkdownView()
    qtbot.addWidget(view)
    view.set_text("One.\n\nTwo.\n\nThr")
    first = list(view._widgets)
    view.set_text("One.\n\nTwo.\n\nThree, longer now.")
    assert len(view._widgets) == 3 and view._widgets[:2] == first[:2] and view._widgets[2] is not first[2]
