"""Chunks for retrieval: built from paragraphs, never across a page or a heading, about 250 tokens each.

Sizes are estimated, not tokenised (one token per CJK character, one per four other characters), which
is close enough to keep every chunk well inside the embedding model's 512-token window.
"""

from __future__ import annotations

import re

from engine.documents.extract import Section
from engine.vault.documents import StoredChunk

TARGET_TOKENS = 200
MAX_TOKENS = 320
_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")


def estimate_tokens(text: str) -> int:
    """A quick token estimate that treats Chinese and Latin text fairly."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk) // 4 + 1


def _paragraphs(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"\n\s*\n", text)]
    out: list[str] = []
    for part in parts:
        if not part:
            continue
        if estimate_tokens(part) <= MAX_TOKENS:
            out.append(part)
            continue
        # A long paragraph (or a PDF page without blank lines) is cut at line ends, then sentences.
        out.extend(_split_long(part))
    return out


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


def chunk_sections(sections: list[Section]) -> list[StoredChunk]:
    """Pack each section's paragraphs into chunks; the heading is kept with every chunk it covers."""
    chunks: list[StoredChunk] = []
    for section in sections:
        current: list[str] = []
        size = 0
        for paragraph in _paragraphs(section.text):
            tokens = estimate_tokens(paragraph)
            if current and size + tokens > TARGET_TOKENS:
                chunks.append(StoredChunk("\n\n".join(current), section.page, section.heading))
                current, size = [], 0
            current.append(paragraph)
            size += tokens
        if current:
            chunks.append(StoredChunk("\n\n".join(current), section.page, section.heading))
    return chunks
