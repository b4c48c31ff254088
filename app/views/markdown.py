"""Rendering model output: Markdown text, with fenced code blocks split out so each gets a Copy button."""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase, QTextDocument, QTextOption
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.widgets import CopyButton, muted, named

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$")
_LIST_ITEM = re.compile(r"^([-*+]|\d{1,9}[.)])(\s|$)")
MAX_CODE_LINES = 24


@dataclass(frozen=True)
class Segment:
    """A run of Markdown text, or one fenced code block."""

    text: str
    code: bool = False
    language: str = ""


def _closes(match: re.Match[str], fence: str) -> bool:
    marker = match.group(1)
    return marker[0] == fence[0] and len(marker) >= len(fence) and not match.group(2)


def _starts_own_block(line: str, previous: str) -> bool:
    """Whether prose can be cut before `line` without changing how it renders: after a blank line, at a
    line that continues nothing (not indented, no list item, quote or table row)."""
    return (
        not previous.strip()
        and bool(line.strip())
        and not line[0].isspace()
        and not line.startswith((">", "|"))
        and not _LIST_ITEM.match(line)
    )


def split_segments(text: str) -> list[Segment]:
    """Split Markdown into prose paragraphs and fenced code; an unclosed fence (still streaming) runs to
    the end. Prose is cut between paragraphs so that a streaming reply re-renders only its last one (a
    10,000-character answer as one label took ~60 ms to lay out again on every chunk)."""
    segments: list[Segment] = []
    prose: list[str] = []
    code: list[str] = []
    fence: str | None = None
    language = ""
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if fence is None and not match and prose and _starts_own_block(line, prose[-1]):
            if any(p.strip() for p in prose):
                segments.append(Segment("\n".join(prose).strip("\n")))
            prose = []
        if fence is None and match:
            if prose:
                segments.append(Segment("\n".join(prose)))
                prose = []
            fence, language = match.group(1), match.group(2)
        elif fence is not None and match and _closes(match, fence):
            segments.append(Segment("\n".join(code), True, language))
            code, fence = [], None
        elif fence is not None:
            code.append(line)
        else:
            prose.append(line)
    if fence is not None:
        segments.append(Segment("\n".join(code), True, language))
    elif prose and any(p.strip() for p in prose):
        segments.append(Segment("\n".join(prose)))
    return segments


def markdown_html(text: str) -> str:
    """Markdown to rich text with raw HTML disabled (model output is untrusted)."""
    document = QTextDocument()
    features = QTextDocument.MarkdownFeature.MarkdownDialectGitHub | QTextDocument.MarkdownFeature.MarkdownNoHTML
    document.setMarkdown(text, features)
    return document.toHtml()


def clean(text: str) -> str:
    """Drop characters a label cannot show (NULs and other C0 controls but tab/newline)."""
    return "".join(c for c in text if c >= " " or c in "\n\t")


class CodeBlock(QFrame):
    """A monospace, non-wrapping code block with its language and a Copy button."""

    def __init__(self, code: str, language: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.code = code
        self.editor = QPlainTextEdit()
        self.editor.setReadOnly(True)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)
        self.editor.setWordWrapMode(QTextOption.WrapMode.NoWrap)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.editor.setFont(font)
        named(self.editor, self.tr("Code block {language}").format(language=language).strip())
        self.language = muted(language or self.tr("code"))
        self.copy = CopyButton(lambda: self.code, self.tr("Copy code"))
        self.copy.setAutoRaise(True)
        top = QHBoxLayout()
        top.setContentsMargins(8, 2, 2, 0)
        top.addWidget(self.language)
        top.addStretch(1)
        top.addWidget(self.copy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.editor)
        self.set_code(code)

    def set_code(self, code: str) -> None:
        """Show new code (a streaming block grows)."""
        self.code = code
        if self.editor.toPlainText() != code:
            self.editor.setPlainText(clean(code))
        lines = min(max(code.count("\n") + 1, 1), MAX_CODE_LINES)
        spacing = self.editor.fontMetrics().lineSpacing()
        # Room for a horizontal scroll bar keeps the last line visible when a line is long.
        self.editor.setFixedHeight(lines * spacing + 14 + self.editor.horizontalScrollBar().sizeHint().height())


class MarkdownView(QWidget):
    """A message body: prose as rich text, code blocks as CodeBlocks; `set_text` re-renders."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._segments: list[Segment] = []
        self._widgets: list[QWidget] = []
        self.text = ""

    def set_text(self, text: str) -> None:
        """Render `text`, reusing the widgets of unchanged segments (cheap while streaming)."""
        self.text = text
        segments = split_segments(text)
        keep = 0
        while (
            keep < min(len(segments), len(self._segments))
            and segments[keep] == self._segments[keep]
        ):
            keep += 1
        # The last kept segment may still change kind (a fence just opened), so reuse only exact matches.
        for widget in self._widgets[keep:]:
            widget.deleteLater()
        self._widgets = self._widgets[:keep]
        for segment in segments[keep:]:
            widget = self._make(segment)
            self._layout.addWidget(widget)
            self._widgets.append(widget)
        self._segments = segments

    def _make(self, segment: Segment) -> QWidget:
        if segment.code:
            return CodeBlock(segment.text, segment.language)
        label = QLabel()
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        # Links in model output are shown, never opened by a click: they may point anywhere.
        label.setOpenExternalLinks(False)
        label.setText(markdown_html(clean(segment.text)))
        named(label, clean(segment.text)[:500])
        return label
