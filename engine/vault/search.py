"""An in-memory index of decrypted titles and messages: substring search, any script, no tokenizer.

Built lazily after unlock, kept in step on every write, dropped on lock. Substring matching on
casefolded text needs no word segmentation, so Chinese and Japanese search works the same as English.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.vault.records import SearchHit

SNIPPET_CHARS = 60


@dataclass
class _Entry:
    title: str
    title_folded: str
    messages: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, role, text, folded


def _snippet(text: str, folded: str, at: int, length: int) -> tuple[str, int, int]:
    """The text around a match, and where the match is in it (-1 when it cannot be located)."""
    # casefold can change lengths (ß -> ss); only then fall back to the start of the text.
    located = len(folded) == len(text)
    if not located:
        at, length = 0, 0
    start = max(0, at - SNIPPET_CHARS // 2)
    end = min(len(text), at + length + SNIPPET_CHARS // 2)
    prefix = "…" if start else ""
    snippet = prefix + text[start:end].replace("\n", " ") + ("…" if end < len(text) else "")
    return snippet, (len(prefix) + at - start) if located else -1, length


def _hit(conv_id: str, msg_id: str | None, entry: _Entry, role: str | None, text: str, folded: str, at: int,
         length: int) -> SearchHit:
    snippet, match_at, match_length = _snippet(text, folded, at, length)
    return SearchHit(conv_id, msg_id, entry.title, role, snippet, match_at, match_length)


class SearchIndex:
    """Conversation id -> title and messages, newest conversation searched first."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def put_conversation(self, conv_id: str, title: str) -> None:
        """Add a conversation or change its title; it moves to the front."""
        entry = self._entries.pop(conv_id, None) or _Entry(title, title.casefold())
        entry.title, entry.title_folded = title, title.casefold()
        self._entries[conv_id] = entry

    def add_message(self, conv_id: str, msg_id: str, role: str, content: str) -> None:
        """Index a new message."""
        entry = self._entries.pop(conv_id, None) or _Entry("", "")
        entry.messages.append((msg_id, role, content, content.casefold()))
        self._entries[conv_id] = entry

    def truncate(self, conv_id: str, msg_id: str) -> None:
        """Forget `msg_id` and every later message of the conversation."""
        entry = self._entries.get(conv_id)
        if entry is None:
            return
        for i, message in enumerate(entry.messages):
            if message[0] == msg_id:
                del entry.messages[i:]
                return

    def replace_message(self, conv_id: str, msg_id: str, content: str) -> None:
        """A message's text changed (another version of a reply was chosen)."""
        entry = self._entries.get(conv_id)
        if entry is None:
            return
        for i, (known, role, _text, _folded) in enumerate(entry.messages):
            if known == msg_id:
                entry.messages[i] = (msg_id, role, content, content.casefold())
                return

    def remove(self, conv_id: str) -> None:
        """Forget a conversation."""
        self._entries.pop(conv_id, None)

    def search(self, query: str, limit: int) -> list[SearchHit]:
        """Up to `limit` hits, most recently updated conversations first."""
        needle = query.casefold().strip()
        if not needle or limit <= 0:
            return []
        hits: list[SearchHit] = []
        for conv_id in reversed(self._entries):
            entry = self._entries[conv_id]
            at = entry.title_folded.find(needle)
            if at >= 0:
                hits.append(_hit(conv_id, None, entry, None, entry.title, entry.title_folded, at, len(needle)))
                if len(hits) >= limit:
                    return hits
            for msg_id, role, text, folded in entry.messages:
                at = folded.find(needle)
                if at >= 0:
                    hits.append(_hit(conv_id, msg_id, entry, role, text, folded, at, len(needle)))
                    if len(hits) >= limit:
                        return hits
        return hits
