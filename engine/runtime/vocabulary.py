"""Text ↔ tokens for `BatchedModel` (engine.runtime.batch): tokenizing, detokenizing, a token's bytes.

What the model's vocabulary says, apart from decoding: how text becomes tokens (special tokens included, as
chat templates write them), what a token's text is (cached: every generated token is detokenised), the
fill-in-the-middle prompt, and which tokens end a generation. A mixin, so that `model.tokenize(...)` and
the rest stay the model's own methods for the worker, the manager and the tests.
"""

from __future__ import annotations

import ctypes
from functools import cached_property
from typing import Any

from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaModel

from engine.errors import UserError
from engine.models.registry import ModelRecord


class TokenText:
    """Text ↔ tokens of a loaded llama.cpp model; the class it is mixed into sets these attributes."""

    record: ModelRecord
    model: LlamaModel
    vocab: Any  # llama.cpp's vocabulary handle
    n_vocab: int
    _pieces: dict[int, bytes]  # token → its text's bytes (at most the vocabulary)

    @cached_property
    def _eog(self) -> list[int]:
        """Every end-of-generation token. Only `ignore_eos` needs the list, and finding it asks llama.cpp
        about each token of the vocabulary (262k for Gemma: ~0.3 s), so it waits for the first such request."""
        return [t for t in range(self.n_vocab) if C.llama_vocab_is_eog(self.vocab, t)]

    @cached_property
    def _eog_set(self) -> frozenset[int]:
        return frozenset(self._eog)

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        """Tokens of `text`; special tokens written by the chat template are recognised."""
        return list(self.model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def token_bytes(self, token: int, special: bool = False) -> bytes:
        """The raw bytes of one token (llama-cpp-python's own helper returns a NUL-padded buffer)."""
        if not special:
            # Every generated token is detokenised: a dict lookup instead of a buffer and a native call.
            piece = self._pieces.get(token)
            if piece is None:
                piece = self._pieces[token] = self._token_bytes(token, False)
            return piece
        return self._token_bytes(token, True)

    def _token_bytes(self, token: int, special: bool) -> bytes:
        size = 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            n = C.llama_token_to_piece(self.vocab, token, buffer, size, 0, special)
            if n >= 0:
                return buffer.raw[:n]
            size = -n  # the piece needs this many bytes

    def token_text(self, token: int, special: bool = False) -> str:
        """The text of one token (a partial UTF-8 sequence is replaced)."""
        return self.token_bytes(token, special).decode("utf-8", errors="replace")

    def detokenize(self, tokens: list[int]) -> str:
        """The text of token ids (ids outside the vocabulary are refused)."""
        if any(token < 0 or token >= self.n_vocab for token in tokens):
            raise UserError(f"the prompt has a token id outside this model's vocabulary (0…{self.n_vocab - 1})")
        text = b"".join(self.token_bytes(token) for token in tokens).decode("utf-8", errors="replace")
        # A SentencePiece vocabulary puts a space before the first word when it tokenises text: the text
        # the tokens stand for starts without it.
        return text[1:] if self._adds_space_prefix and text.startswith(" ") else text

    @cached_property
    def _adds_space_prefix(self) -> bool:
        first = self.tokenize("a", add_bos=False)
        return bool(first) and self.token_text(first[0]).startswith(" ")

    def fim_prompt(self, prefix: str | list[int], suffix: str) -> list[int]:
        """A fill-in-the-middle prompt in the model's own FIM tokens (prefix, suffix, then the middle to
        write), as llama.cpp's server builds it; UserError for a model that has no such tokens."""
        pre, suf, mid = (f(self.vocab) for f in (C.llama_vocab_fim_pre, C.llama_vocab_fim_suf, C.llama_vocab_fim_mid))
        if min(pre, suf, mid) < 0:
            raise UserError(
                f"suffix needs fill-in-the-middle tokens, which model {self.record.name!r} does not have: send the "
                "prompt without a suffix, or use a code model trained for infilling"
            )
        head = prefix if isinstance(prefix, list) else self.tokenize(prefix, add_bos=False)
        tail = self.tokenize(suffix, add_bos=False)
        bos = [self.model.token_bos()] if C.llama_vocab_get_add_bos(self.vocab) and self.model.token_bos() >= 0 else []
        return [*bos, pre, *head, suf, *tail, mid]

    def special_text(self) -> tuple[str, str]:
        """The BOS and EOS token texts, as chat templates expect them."""
        bos, eos = self.model.token_bos(), self.model.token_eos()
        return (
            self.token_text(bos, special=True) if bos >= 0 else "",
            self.token_text(eos, special=True) if eos >= 0 else "",
        )
