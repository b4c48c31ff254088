"""Chunks for retrieval: built from paragraphs, never across a page or a heading, about 200 tokens each.

Inside a section, indented plain text (reference manuals, `pydoc` and man pages) is read as entries: a
paragraph whose first line hangs out to the left of what follows (`name(args)` over its indented
description) starts an entry, and the more indented paragraphs after it belong to it. A chunk starts
at an entry where it can, and a chunk that starts inside a long entry carries the entry's first line in
its heading, so every piece of a long class or function description still says what it describes.
Entries inside an entry (the methods of a class, pydoc's `|  name(args)` lines) are read the same way:
a chunk that starts inside a method says "section › class › method" (measured on the retrieval set's
dev half: hybrid recall@5 0.79 -> 0.83), and a class that does not fit whole starts a chunk of its own.

Sizes are estimated, not tokenised (one token per CJK character, one per four other characters), which
is close enough to keep every chunk well inside the embedding model's 512-token window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.documents.extract import Section
from engine.vault.documents import StoredChunk

TARGET_TOKENS = 200
MAX_TOKENS = 320
_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")
# A paragraph break: a line with nothing on it but spaces and the bars that pydoc draws down a class.
_BREAK = re.compile(r"\n[ \t|]*\n")
_MARGIN = re.compile(r"[ \t|]*")
_TITLE_CHARS = 120
# Entries inside entries are read this deep: a class's methods, and the entries inside a method's text.
MAX_DEPTH = 2


def estimate_tokens(text: str) -> int:
    """A quick token estimate that treats Chinese and Latin text fairly."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk) // 4 + 1


def _margin(line: str) -> int:
    return len(_MARGIN.match(line).group())  # type: ignore[union-attr]  # always matches


@dataclass
class _Entry:
    """Paragraphs that belong together; `title` is the hanging first line, when there is one. `raw` keeps
    the paragraphs with their margins, so the members of an entry (a class's methods) can be found."""

    margin: int
    title: str | None
    paragraphs: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)


def _entries(raw: list[str]) -> list[_Entry]:
    entries: list[_Entry] = []
    for i, para in enumerate(raw):
        lines = [line for line in para.split("\n") if line.strip()]
        margin = _margin(lines[0])
        if entries and entries[-1].title is not None and margin > entries[-1].margin:
            entries[-1].paragraphs.append(para.strip())  # more indented than its entry's title: part of it
            entries[-1].raw.append(para)
            continue
        following = lines[1] if len(lines) > 1 else (raw[i + 1].lstrip("\n") if i + 1 < len(raw) else "")
        hangs = bool(following.strip()) and _margin(following) > margin
        title = " ".join(lines[0][margin:].split())[:_TITLE_CHARS] if hangs else None
        entries.append(_Entry(margin, title, [para.strip()], [para]))
    return entries


@dataclass
class _Block:
    """Paragraphs to pack: `start` is the heading of a chunk that begins with them, `inside` the heading of
    one that begins in their middle; `entry` when they open an entry (a definition)."""

    start: str | None
    inside: str | None
    entry: bool
    paragraphs: list[str]
    size: int = 0  # tokens of the whole entry (a class with its members), to decide whether it fits


def _blocks(entries: list[_Entry], context: str | None, depth: int = 0) -> list[_Block]:
    blocks: list[_Block] = []
    for entry in entries:
        if entry.title is None:
            blocks.append(_Block(context, context, False, entry.paragraphs))
            continue
        inner = _heading(context, entry.title)
        members = _entries(entry.raw[1:]) if depth < MAX_DEPTH and len(entry.raw) > 1 else []
        if any(m.title is not None for m in members):
            # A class (or any entry with entries of its own): its first paragraph, then each member under it.
            whole = sum(estimate_tokens(p) for p in entry.paragraphs)
            blocks.append(_Block(context, inner, True, entry.paragraphs[:1], whole))
            blocks += _blocks(members, inner, depth + 1)
        else:
            blocks.append(_Block(context, inner, True, entry.paragraphs))
    return blocks


def _pieces(paragraph: str) -> list[str]:
    """A paragraph, or a long one (a PDF page without blank lines) cut at line ends, then sentences."""
    if estimate_tokens(paragraph) <= MAX_TOKENS:
        return [paragraph]
    return _split_long(paragraph)


def _split_long(text: str) -> list[str]:
    pieces = [line for line in text.split("\n") if line.strip()]
    if len(pieces) == 1:
        pieces = [s for s in _SENTENCE_END.split(text) if s.strip()]
    out: list[str] = []
    current = ""
    for piece in pieces:
        while estimate_tokens(piece) > MAX_TOKENS:  # a run-on sentence: hard cut
            cut = _cut_point(piece)
            out.append((current + " " + piece[:cut]).strip() if current else piece[:cut])
            current, piece = "", piece[cut:]
        joined = f"{current}\n{piece}" if current else piece
        if estimate_tokens(joined) > TARGET_TOKENS and current:
            out.append(current)
            current = piece
        else:
            current = joined
    if current.strip():
        out.append(current)
    return out


def _cut_point(text: str) -> int:
    total = 0
    for i, ch in enumerate(text):
        total += 4 if _CJK.match(ch) else 1
        if total >= MAX_TOKENS * 4 - 8:
            return i
    return len(text)


def _heading(section: str | None, title: str | None) -> str | None:
    if title is None:
        return section
    return f"{section} › {title}" if section else title


def chunk_sections(sections: list[Section]) -> list[StoredChunk]:
    """Pack each section's entries into chunks; the heading (and the entry a chunk starts inside) is kept
    with every chunk it covers."""
    chunks: list[StoredChunk] = []
    for section in sections:
        chunks += _chunk_section(section)
    return chunks


def _chunk_section(section: Section) -> list[StoredChunk]:
    chunks: list[StoredChunk] = []
    current: list[str] = []
    size = 0
    heading = section.heading
    blocks = _blocks(_entries([p for p in _BREAK.split(section.text) if p.strip()]), section.heading)
    for block in blocks:
        whole = max(block.size, sum(estimate_tokens(p) for p in block.paragraphs))
        if current and size + whole > TARGET_TOKENS:
            # The entry (a class: with all its members) does not fit: it starts the next chunk.
            chunks.append(StoredChunk("\n\n".join(current), section.page, heading))
            current, size, heading = [], 0, block.start
        first = True
        for paragraph in block.paragraphs:
            for piece in _pieces(paragraph):
                tokens = estimate_tokens(piece)
                if current and size + tokens > TARGET_TOKENS:
                    chunks.append(StoredChunk("\n\n".join(current), section.page, heading))
                    # The next chunk starts inside the entry unless this is its first piece: say which.
                    current, size = [], 0
                    heading = block.start if first else block.inside
                current.append(piece)
                size += tokens
                first = False
    if current:
        chunks.append(StoredChunk("\n\n".join(current), section.page, heading))
    return chunks
