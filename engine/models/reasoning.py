"""A reasoning model's thinking, told apart from its answer: `<think>…</think>` before the answer.

Qwen 3, QwQ, DeepSeek-R1 and its distillations, Phi-4-reasoning and others think first. Some templates
open the block themselves at the end of the prompt (the reply then starts inside it), others leave the
model to write `<think>`. OpenAI-style clients get the thinking as `reasoning_content`, the convention of
DeepSeek's API that llama.cpp's server and vLLM follow; the app shows it apart from the answer.
"""

from __future__ import annotations

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def thinks(template_source: str) -> bool:
    """Whether a chat template is a reasoning model's: it opens a thinking block, or strips one from past
    replies (Qwen 3, DeepSeek-R1, QwQ, Phi-4-reasoning all mention the tag; other templates never do)."""
    return THINK_OPEN in template_source or THINK_CLOSE in template_source


def opens_thinking(prompt: str) -> bool:
    """Whether the rendered prompt ends inside a thinking block, so the reply starts with thinking."""
    return prompt.rstrip().endswith(THINK_OPEN)


class ReasoningSplitter:
    """Splits a reply, piece by piece as it streams, into thinking and answer.

    Text that could still be the start of a tag is held until the next piece says what it is, so no
    tag ever reaches either side.
    """

    def __init__(self, thinking: bool = False) -> None:
        self._state = "thinking" if thinking else "start"
        self._held = ""
        self._thought = False  # some thinking shown already (blank lines before it are not)

    def feed(self, piece: str) -> tuple[str, str]:
        """(thinking, answer) text of `piece` that may be shown now."""
        self._held += piece
        thinking = answer = ""
        while True:
            if self._state == "start":  # a reply may open with <think>, after blank space
                text = self._held.lstrip()
                if text.startswith(THINK_OPEN):
                    self._held, self._state = text[len(THINK_OPEN) :].lstrip("\n"), "thinking"
                    continue
                if THINK_OPEN.startswith(text):
                    return thinking, answer  # nothing yet, or maybe the tag's start: wait
                self._state = "answer"
            if self._state == "thinking":
                if not self._thought:  # a model may write the tag its template already opened
                    text = self._held.lstrip()
                    if text.startswith(THINK_OPEN):
                        self._held = text[len(THINK_OPEN) :]
                    elif text and THINK_OPEN.startswith(text):
                        return thinking, answer  # maybe that tag: wait
                end = self._held.find(THINK_CLOSE)
                if end < 0:
                    # Held back: what may begin the closing tag, and blank space that may end the thinking.
                    shown = self._held[: len(self._held) - tag_start_at_end(self._held, THINK_CLOSE)].rstrip()
                    thinking += self._thinking(shown)
                    self._held = self._held[len(shown) :]
                    return thinking, answer
                thinking += self._thinking(self._held[:end].rstrip())
                self._held, self._state = self._held[end + len(THINK_CLOSE) :], "after"
            if self._state == "after":  # the blank lines between thinking and answer are neither
                self._held = self._held.lstrip()
                if not self._held:
                    return thinking, answer
                self._state = "answer"
            answer += self._held
            self._held = ""
            return thinking, answer

    def _thinking(self, text: str) -> str:
        if not self._thought:
            text = text.lstrip()
            self._thought = bool(text)
        return text

    def finish(self) -> tuple[str, str]:
        """What is still held at the end of the reply, as (thinking, answer)."""
        held, self._held = self._held, ""
        if self._state == "thinking":
            return self._thinking(held.rstrip()), ""
        return "", held if self._state != "after" else held.lstrip()


def split_reply(text: str, thinking: bool = False, *, complete: bool = True) -> tuple[str, str]:
    """A reply as (thinking, answer); `complete=False` for one still streaming in (a partial tag at its
    end is not shown yet)."""
    splitter = ReasoningSplitter(thinking)
    first = splitter.feed(text)
    last = splitter.finish() if complete else ("", "")
    return first[0] + last[0], first[1] + last[1]


def tag_start_at_end(text: str, tag: str) -> int:
    """How many characters at the end of `text` could begin `tag` (to hold back while text streams)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
