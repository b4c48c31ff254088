"""Chat turns as the desktop shows them: load progress, reasoning models, the tokens/s clock, regenerated
versions of a reply, and renaming when the first message is edited."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.chat import ChatService, title_for
from engine.handle import COMMAND_LINE, Engine
from engine.models import ModelRegistry
from engine.runtime import GenerationParams, LoadProgress, Runtime
from engine.vault import FLOOR, Vault
from engine.vault.core import db_path
from tests.tiny_gguf import CHATML_TEMPLATE, write_tiny_gguf


def _chat(runtime: Runtime, vault: Vault | None = None) -> ChatService:
    return Engine(runtime, vault, actor=COMMAND_LINE, owns=False).chat


@pytest.fixture()
def vault(enclave_home: Path) -> Iterator[Vault]:
    opened, _recovery = Vault.init(enclave_home, "correct horse battery staple", kdf=FLOOR)
    yield opened
    with contextlib.suppress(Exception):
        opened.close()


@pytest.fixture(scope="module")
def big_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few MB: llama.cpp reports its load in several steps."""
    return write_tiny_gguf(tmp_path_factory.mktemp("models") / "big.gguf", seed=2, n_embd=256, n_ff=1024, n_layers=4,
                           name="big")


@pytest.fixture()
def big_model(registry: ModelRegistry, big_gguf: Path):  # type: ignore[no-untyped-def]
    return registry.import_file(big_gguf, "big")


@pytest.fixture()
def slow_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of llama.cpp's load reports takes 20 ms longer: a load then surely outlasts the caller's first look."""
    from engine.runtime.worker import ModelWorker

    original = ModelWorker._progress

    def slower(self: ModelWorker, fraction: float) -> None:
        time.sleep(0.02)
        original(self, fraction)

    monkeypatch.setattr(ModelWorker, "_progress", slower)


def test_a_load_reports_its_progress_to_the_caller_that_waits(registry: ModelRegistry, big_model, slow_load) -> None:  # type: ignore[no-untyped-def]
    heard: list[LoadProgress] = []
    runtime = Runtime(registry)
    try:
        runtime.load("big", on_load=heard.append)
        assert len(heard) > 2 and heard[-1] == LoadProgress("big", 1.0)
        fractions = [p.fraction for p in heard]
        assert fractions == sorted(fractions) and all(0.0 <= f <= 1.0 for f in fractions)
        heard.clear()
        runtime.load("big", on_load=heard.append)  # already in memory: nothing to report
        assert heard == []
    finally:
        runtime.close()


def test_llama_cpp_reports_load_fractions(registry: ModelRegistry, big_model) -> None:  # type: ignore[no-untyped-def]
    from engine.runtime.batch import BatchedModel

    seen: list[float] = []
    model = BatchedModel(registry.get("big"), on_progress=seen.append)
    model.close()
    assert seen and seen[-1] == 1.0 and len(seen) > 2  # from llama.cpp's own callback, as it reads the file


def test_only_a_reasoning_template_counts_as_thinking(registry: ModelRegistry, runtime: Runtime, tiny_model,
                                                      tmp_path: Path) -> None:
    assert not runtime.thinks("tiny")
    opened = CHATML_TEMPLATE.replace("<|im_start|>assistant\n", "<|im_start|>assistant\n<think>\n")
    registry.import_file(write_tiny_gguf(tmp_path / "thinker.gguf", chat_template=opened), "thinker")
    assert runtime.thinks("thinker")
    turn = _chat(runtime).send("Why?", model="thinker", params=GenerationParams(max_tokens=2))
    assert turn.thinks
    turn.finish()
    assert not _chat(runtime).send("Hi", model="tiny", params=GenerationParams(max_tokens=2)).thinks


def test_tokens_per_s_is_counted_from_the_first_token(registry: ModelRegistry, tiny_model) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(registry)  # nothing loaded: the first turn includes the load
    try:
        started = time.perf_counter()
        generation = runtime.chat([{"role": "user", "content": "Hi"}], GenerationParams(max_tokens=40, ignore_eos=True))
        first_at = None
        for chunk in generation:
            if first_at is None and chunk.text:
                first_at = time.perf_counter()
        ended = time.perf_counter()
        final = generation.final
        assert final is not None and final.usage is not None and final.tokens_per_s and first_at is not None
        # The tokens after the first took (completion - 1) / rate seconds: no longer than this test saw
        # between the first chunk and the end, so neither the load nor the prompt is in the figure.
        implied = (final.usage.completion_tokens - 1) / final.tokens_per_s
        assert implied <= (ended - first_at) + 0.01
        assert implied < ended - started
    finally:
        runtime.close()


def test_regenerate_keeps_the_earlier_reply_as_a_version(vault, runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    chat = _chat(runtime, vault)
    params = GenerationParams(max_tokens=6, seed=1, temperature=1.0)
    first = chat.send("Tell me something", params=params).finish()
    conversation = first.conversation_id
    assert conversation is not None
    again = chat.regenerate(conversation, params=GenerationParams(max_tokens=6, seed=2, temperature=1.0))
    assert again.replaces is not None
    second = again.finish()
    stored = vault.conversations.messages(conversation)
    assert [m.role for m in stored] == ["user", "assistant"]
    reply = stored[1]
    assert [a.content for a in reply.alternatives] == [first.text, second.text]
    assert reply.active == 1 and reply.content == second.text
    # Choosing the first version again: it is what is shown, searched and sent with the next turn.
    chosen = vault.conversations.choose_alternative(conversation, reply.id, 0)
    assert chosen.content == first.text and chosen.metadata == first.label
    history = chat._history(conversation)
    assert history[-1] == {"role": "assistant", "content": first.text}
    # An export (access and portability requests) carries every version, and says which one was chosen.
    exported = json.loads(vault.export_json(vault.home / "export.json", conversation).read_text())
    details = exported["conversations"][0]["message_metadata"][1]
    assert [v["content"] for v in details["versions"]] == [first.text, second.text]
    assert details["chosen_version"] == 0
    # Stored only encrypted: no version's text in the database file.
    raw = db_path(vault.home).read_bytes()
    for text in (first.text, second.text):
        if len(text) > 8:
            assert text.encode() not in raw


def test_editing_the_first_message_renames_the_conversation_and_its_search(vault, runtime: Runtime, tiny_model) -> None:  # type: ignore[no-untyped-def]
    chat = _chat(runtime, vault)
    params = GenerationParams(max_tokens=3)
    conversation = chat.send("Budget for the cardiology ward", params=params).finish().conversation_id
    assert conversation is not None
    first = vault.conversations.messages(conversation)[0]
    chat.edit_and_resend(conversation, first.id, "Staff rota for oncology", params=params).finish()
    assert vault.conversations.get(conversation).title == title_for("Staff rota for oncology")
    assert vault.conversations.search("oncology") and not vault.conversations.search("cardiology")
    # A title changed by hand stays.
    vault.conversations.rename(conversation, "My own title")
    first = vault.conversations.messages(conversation)[0]
    chat.edit_and_resend(conversation, first.id, "Something else", params=params).finish()
    assert vault.conversations.get(conversation).title == "My own title"


def test_search_hits_locate_the_match_in_their_snippet(vault) -> None:  # type: ignore[no-untyped-def]
    conversation = vault.conversations.create("Ward notes")
    vault.conversations.add_message(conversation.id, "user", "x" * 100 + " the Needle is here " + "y" * 100)
    hit = next(h for h in vault.conversations.search("needle") if h.message_id)
    assert hit.snippet[hit.match_at : hit.match_at + hit.match_length] == "Needle"
    title = next(h for h in vault.conversations.search("ward") if h.message_id is None)
    assert title.snippet[title.match_at : title.match_at + title.match_length] == "Ward"
