"""A base model (no chat template) in the app's chats: the conversation is one document that grows."""

from __future__ import annotations

from pathlib import Path

from engine.chat import continued_document
from engine.handle import COMMAND_LINE, Engine
from engine.models import ModelRegistry
from engine.runtime import GenerationParams, Runtime
from engine.vault import FLOOR, Vault


def test_a_conversation_reads_as_one_continued_document() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "The harbour at dawn:"},
        {"role": "assistant", "content": " boats came in."},
        {"role": "user", "content": "Then the market opened."},
    ]
    # The system prompt opens it; a reply continues its prompt as written; a message starts a paragraph.
    assert continued_document(messages) == (
        "Be brief.\n\nThe harbour at dawn: boats came in.\n\nThen the market opened."
    )
    assert continued_document(messages[1:2]) == "The harbour at dawn:"  # a first turn: the text itself


def test_a_base_models_next_turn_continues_from_the_cache(
    registry: ModelRegistry, runtime: Runtime, enclave_home: Path, tiny_gguf_no_template: Path
) -> None:
    record = registry.import_file(tiny_gguf_no_template, "base")
    assert record.is_base_model
    vault, _ = Vault.init(enclave_home, "correct horse battery staple", kdf=FLOOR)
    try:
        service = Engine(runtime, vault, actor=COMMAND_LINE, owns=False).chat
        # Every reply ends at once: the tiny model's random text would not survive a round trip.
        params = GenerationParams(max_tokens=5, temperature=0.0, logit_bias=((2, 100.0),))
        first = service.send("The harbour town woke slowly that morning.", model="base", params=params).finish()
        second = service.send("Fishermen checked their nets.", conversation_id=first.conversation_id, params=params)
        usage = second.finish().final.usage  # type: ignore[union-attr]
        assert first.final is not None and first.final.usage is not None and usage is not None
        # Everything the first turn evaluated is reused: its prompt starts the second one.
        assert usage.cached_prompt_tokens >= first.final.usage.prompt_tokens - 1
        assert usage.evaluated_prompt_tokens < usage.prompt_tokens // 2
    finally:
        vault.close()
