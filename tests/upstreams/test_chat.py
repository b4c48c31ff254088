"""Upstream models outside the HTTP API: the desktop's chat service and `enclave chat --model` use them
through the same backend interface, streamed event by event, stored encrypted in the local vault."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import EnclaveError
from engine.handle import DESKTOP, Engine
from engine.models import ModelRegistry
from engine.models.reasoning import split_reply
from engine.runtime import GenerationParams, Runtime
from engine.upstreams import add_upstream
from engine.vault import FLOOR, Vault
from engine.vault.core import db_path
from tests.upstreams.conftest import LlamaServer, free_port
from tests.upstreams.fake import FakeUpstream

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def desktop(module_home: Path, tiny_gguf: Path, fake: FakeUpstream) -> Iterator[Engine]:
    """A desktop engine: the local tiny model, the fake upstream as `fake`, a dead upstream as `dead`."""
    registry = ModelRegistry()
    registry.import_file(tiny_gguf, "tiny")
    vault, _ = Vault.init(module_home, PASSPHRASE, kdf=FLOOR)
    add_upstream(vault, "fake", fake.url, api_key=fake.api_key, models=["fake=fake-model"])
    add_upstream(vault, "dead", f"http://127.0.0.1:{free_port()}/v1", models=["dead=fake-model"])
    engine = Engine(Runtime(registry), vault, actor=DESKTOP, home=module_home)
    yield engine
    engine.close()


def _reset(fake: FakeUpstream) -> None:
    fake.gate.clear()
    fake.finished.clear()
    fake.cancelled.clear()


def _on_disk(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith(db_path(home).name))


def test_the_chat_service_streams_an_upstream_model_and_stores_the_reply(desktop: Engine, fake: FakeUpstream) -> None:
    _reset(fake)
    assert [m.name for m in desktop.models()] == ["tiny", "fake", "dead"]
    turn = desktop.chat.send("Hello", model="fake")
    texts = []
    for chunk in turn:
        if chunk.text:
            texts.append(chunk.text)
            if len(texts) == 1:
                assert not fake.finished.is_set()  # passed on while the upstream still holds its stream
                fake.gate.set()
    result = turn.finish()
    assert texts == ["first", " second"] and result.text == "first second"
    assert turn.generation.served_by == "fake"
    assert result.final is not None and result.final.usage is not None
    assert result.final.usage.completion_tokens == 2  # no usage from this upstream: one token per event
    label = result.label
    assert (label["model"], label["served_by"], label["model_sha256"]) == ("fake", "upstream", None)
    assert desktop.vault is not None and result.conversation_id and result.message_id
    stored = desktop.vault.conversations.messages(result.conversation_id)
    assert [(m.role, m.content) for m in stored] == [("user", "Hello"), ("assistant", "first second")]
    assert stored[1].id == result.message_id and stored[0].id == turn.user_message_id
    assert stored[1].metadata["served_by"] == "upstream"
    assert b"first second" not in _on_disk(desktop.home)  # only encrypted at rest
    # The next turn goes to the same model: the conversation remembers it.
    _reset(fake)
    fake.gate.set()
    again = desktop.chat.send("More", conversation_id=result.conversation_id).finish()
    assert again.text == "first second" and again.label["served_by"] == "upstream"


def test_an_upstreams_separate_thinking_is_kept_as_thinking(desktop: Engine) -> None:
    result = desktop.chat.send("think", model="fake").finish()
    assert result.text == "<think>Let me see. Yes.</think>\n\nIt is so."  # as a local reasoning model's reply
    assert split_reply(result.text) == ("Let me see. Yes.", "It is so.")


def test_stopping_a_reply_closes_the_upstream_stream_and_keeps_the_part(desktop: Engine, fake: FakeUpstream) -> None:
    _reset(fake)
    turn = desktop.chat.send("Hello", model="fake")
    for chunk in turn:
        if chunk.text:
            turn.generation.cancel()  # the Stop button
            break
    assert fake.cancelled.wait(10), "the upstream stream stayed open after Stop"
    result = turn.finish()
    assert result.text == "first" and result.final is not None and result.final.finish_reason == "cancelled"
    assert not fake.finished.is_set()


def test_an_unreachable_upstream_is_one_clear_message_and_local_chat_still_works(desktop: Engine) -> None:
    turn = desktop.chat.send("Hello", model="dead")
    with pytest.raises(EnclaveError, match="no serving backend for model 'dead' is reachable") as caught:
        turn.finish()
    assert "127.0.0.1" not in str(caught.value)
    params = GenerationParams(max_tokens=3, logit_bias=((2, -100.0), (4, -100.0)))
    local = desktop.chat.send("Hello", model="tiny", params=params).finish()
    assert local.final is not None and local.final.usage is not None and local.label["model"] == "tiny"


def test_enclave_chat_with_an_upstream_model(tmp_path: Path, upstream_a: LlamaServer) -> None:
    home = tmp_path / "cli-home"
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    add_upstream(vault, "a", upstream_a.url, api_key=upstream_a.api_key, models=["tiny-up"], prefix="cluster/")
    vault.close()
    env = {**os.environ, "ENCLAVE_HOME": str(home), "ENCLAVE_PASSPHRASE": PASSPHRASE, "ENCLAVE_NO_DEMO": "1"}
    command = [sys.executable, "-m", "engine.cli", "chat", "--model", "cluster/tiny-up", "--max-tokens", "4", "Hello"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "[conversation " in result.stderr
    with Vault.unlock(home, PASSPHRASE) as vault:
        conversation = vault.conversations.list()[0]
        assert conversation.model == "cluster/tiny-up"
        stored = vault.conversations.messages(conversation.id)
        assert [m.role for m in stored] == ["user", "assistant"]
        assert result.stdout == stored[1].content + "\n"  # what was streamed is what was kept
        label = stored[1].metadata
        assert (label["served_by"], label["model"]) == ("upstream", "cluster/tiny-up")
        assert label["usage"]["prompt_tokens"] > 0  # llama.cpp's server reports its own count
    unknown = subprocess.run([*command[:5], "nope", "Hello"], capture_output=True, text=True, timeout=120, env=env)
    assert unknown.returncode == 1 and unknown.stderr.startswith("enclave: unknown model 'nope'")


def test_closing_the_engine_stops_the_upstream_connections(tmp_path: Path, fake: FakeUpstream) -> None:
    vault, _ = Vault.init(tmp_path / "other", PASSPHRASE, kdf=FLOOR)
    add_upstream(vault, "fake", fake.url, api_key=fake.api_key, models=["fake=fake-model"])
    engine = Engine(Runtime(ModelRegistry()), vault, actor=DESKTOP)
    _reset(fake)
    fake.gate.set()

    def loops() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "upstreams"}

    before = loops()  # other engines' (this module's desktop)
    assert engine.chat.send("Hello", model="fake").finish().text == "first second"
    assert len(loops() - before) == 1  # this backend's own loop thread
    engine.close()
    assert loops() - before == set()
