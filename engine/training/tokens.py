"""Dataset rows → training examples, tokenised exactly as the engine will prompt the adapted model.

The chat template and tokenizer are the base model's own, through llama.cpp (the tokenizer the runtime
uses), so the adapter learns on the very token sequences it will see when serving. Only the assistant's
messages are learned; the rest of each row is context.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping, Sequence
from typing import Any

from llama_cpp import llama_cpp as C
from llama_cpp._internals import LlamaModel

from engine.errors import UserError
from engine.models.memory import context_per_sequence
from engine.models.registry import ModelRecord
from engine.models.templates import ChatTemplate, render_chat, resolve_template
from engine.runtime.loaded import longest_prefix
from engine.training.dataset import DatasetRow, Example


class TooLong(UserError):
    """Rows longer than the context the adapter will serve with."""


class RowTokenizer:
    """The base model's vocabulary and chat template, loaded without its weights."""

    def __init__(self, record: ModelRecord) -> None:
        params = C.llama_model_default_params()
        params.vocab_only = True
        try:
            self._model = LlamaModel(path_model=str(record.path), params=params, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"llama.cpp could not read the vocabulary of {record.name!r}: {exc}") from None
        self.context = context_per_sequence(record)
        metadata = self._model.metadata()
        self.template: ChatTemplate = resolve_template(
            override=record.settings.chat_template,
            embedded=metadata.get("tokenizer.chat_template"),
            architecture=record.facts.architecture,
            vocab_hint="llama3" if metadata.get("tokenizer.ggml.pre") == "llama-bpe" else None,
        )
        bos, eos = self._model.token_bos(), self._model.token_eos()
        self.bos = self._text(bos) if bos >= 0 else ""
        self.eos = self._text(eos) if eos >= 0 else ""

    def _text(self, token: int) -> str:
        buffer = ctypes.create_string_buffer(256)
        n = C.llama_token_to_piece(self._model.vocab, token, buffer, 256, 0, True)
        return buffer.raw[: max(0, n)].decode("utf-8", errors="replace")

    def _render(self, messages: Sequence[Mapping[str, Any]], generation_prompt: bool) -> list[int]:
        text = render_chat(
            self.template,
            [{"role": m["role"], "content": m["content"]} for m in messages],
            bos_token=self.bos,
            eos_token=self.eos,
            add_generation_prompt=generation_prompt,
        )
        # As the runtime does: a template that writes BOS itself gets no second one.
        add_bos = not (self.bos and text.startswith(self.bos))
        return list(self._model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def example(self, row: DatasetRow) -> Example:
        """The row's tokens, the assistant's (weight 1) marked as learned."""
        messages = list(row.messages)
        tokens = self._render(messages, generation_prompt=False)
        learn = [False] * len(tokens)
        for index, message in enumerate(messages):
            if message["role"] != "assistant" or message.get("weight", 1) == 0:
                continue
            start = longest_prefix(self._render(messages[:index], generation_prompt=True), tokens)
            end = longest_prefix(self._render(messages[: index + 1], generation_prompt=False), tokens)
            for position in range(start, end):
                learn[position] = True
        return Example(tuple(tokens), tuple(learn))

    def examples(self, rows: Sequence[DatasetRow]) -> list[Example]:
        """Every row's example; TooLong naming each row (by its line) that does not fit the context."""
        examples, long = [], []
        for row in rows:
            example = self.example(row)
            if len(example.tokens) > self.context:
                long.append(f"{row.where}: {len(example.tokens)} tokens")
            examples.append(example)
        if long:
            raise TooLong(
                f"{len(long)} row(s) are longer than the model's context of {self.context} tokens: "
                + "; ".join(long[:20])
            )
        return examples

    def close(self) -> None:
        """Free the vocabulary now."""
        self._model.close()
