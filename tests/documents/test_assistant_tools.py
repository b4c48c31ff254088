"""An assistant with MCP tools over the API: the engine runs the tool loop server-side, only for tools
the admin marked "always allow", only for keys allowed tools; every call is in the audit chain in the
key's name, and its arguments and result are kept only encrypted (when the key stores texts). A real
MCP server (the `mcp` SDK, stdio), real llama.cpp inference, a real server on loopback, the `openai` SDK."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from engine.chat import ToolCallRequest
from engine.documents import assistants
from engine.documents.assistant_tools import _Caller
from engine.errors import NotFoundError, UserError
from engine.models import ModelRegistry
from engine.tools import Tools, sha256_text
from tests.api.conftest import Api, start_api, stop_api
from tests.conftest import module_enclave_home
from tests.tools.conftest import SERVER
from tests.tools.mcp_server import CANARY

ASK: Any = [{"role": "user", "content": "Look up code X1 and tell me what it is."}]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> Iterator[tuple[Api, Path]]:
    with module_enclave_home(tmp_path_factory, "assistant-tools-home") as home:
        # The tools' description and the found passages take more than the tiny model's own 512 tokens.
        registry = ModelRegistry()
        registry.import_file(tiny_gguf, "tiny")
        registry.update_settings("tiny", context_size=2048)
        api = start_api(home, tiny_gguf)
        try:
            folder = tmp_path_factory.mktemp("ops")
            (folder / "codes.txt").write_text("Internal codes are looked up with the lookup tool.")
            assert api.engine.documents.add([folder], "OPS", actor="cli").count("added") == 1
            calls = tmp_path_factory.mktemp("mcp") / "calls.jsonl"
            command = shlex.join([sys.executable, str(SERVER), str(calls), "stdio"])
            api.engine.tools.add("corp", command=command, timeout_s=30)
            api.engine.tools.allow("corp", "lookup", always=True)
            api.engine.tools.allow("corp", "wipe_disk")  # allowed, but each call asked of a person
            assistants.create(api.vault, "ops-helper", model="tiny", collections=["OPS"], known_models={"tiny"},
                              tools=["corp.lookup"], tool_choice="required", actor="cli")
            yield api, calls
        finally:
            stop_api(api)


@pytest.fixture(autouse=True)
def enclave_home(served: tuple[Api, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's home for every test here (the embedding model's file lives there)."""
    home = served[0].engine.home
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    return home


def _calls(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


def _client(api: Api, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=api.base, api_key=secret, max_retries=0, timeout=120)


def _files_hold(home: Path, needle: bytes) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_only_always_allowed_registered_tools_can_be_attached(served: tuple[Api, Path]) -> None:
    api, _ = served
    with pytest.raises(UserError, match="always allow"):
        assistants.create(api.vault, "risky", model="tiny", collections=["OPS"], known_models={"tiny"},
                          tools=["corp.wipe_disk"], actor="cli")
    with pytest.raises(NotFoundError):
        assistants.create(api.vault, "risky", model="tiny", collections=["OPS"], known_models={"tiny"},
                          tools=["corp.nope"], actor="cli")
    with pytest.raises(UserError, match="SERVER.TOOL"):
        assistants.create(api.vault, "risky", model="tiny", collections=["OPS"], known_models={"tiny"},
                          tools=["lookup"], actor="cli")


def test_the_engine_runs_an_always_allowed_tool_for_a_key_allowed_tools(served: tuple[Api, Path]) -> None:
    api, calls = served
    _, secret = api.vault.api_keys.create("agent", tools=True, store_content=True)
    before = len(_calls(calls))
    reply = _client(api, secret).chat.completions.create(model="ops-helper", messages=ASK, max_tokens=200,
                                                          temperature=0.0)
    assert reply.choices[0].message.content and not reply.choices[0].message.tool_calls
    assert (reply.model_extra or {})["enclave_citations"][0]["document"] == "codes.txt"
    ran = _calls(calls)[before:]
    assert len(ran) == 1 and '"tool": "lookup"' in ran[0]
    # The audit chain: the call in the key's name, approved by the admin's rule, hashes only.
    entries = [e for e in api.vault.audit.entries() if e.event == "tool_call" and e.actor == "api:agent"]
    (entry,) = entries
    details = entry.details
    assert details["decision"] == "always-allowed" and details["approval"] == "auto (admin rule)"
    assert (details["server"], details["tool"], details["assistant"]) == ("corp", "lookup", "ops-helper")
    # The key stores texts: the call and its result are in a conversation of their own, encrypted.
    stored = next(c for c in api.vault.conversations.list() if c.title == "ops-helper tools (api:agent)")
    messages = api.vault.conversations.messages(stored.id)
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    assert CANARY in messages[2].content and details["result_sha256"] == sha256_text(messages[2].content)
    arguments = messages[1].metadata["tool_calls"][0]["arguments"] if messages[1].metadata else ""
    assert details["arguments_sha256"] == sha256_text(arguments)
    api.vault.audit.verify()
    assert _files_hold(api.engine.home, CANARY.encode()) == []
    # Both rounds count against the key: more prompt tokens than the answer's own prompt alone.
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_streamed_and_without_stored_texts(served: tuple[Api, Path]) -> None:
    api, calls = served
    _, secret = api.vault.api_keys.create("quiet-agent", tools=True)
    conversations = len(api.vault.conversations.list())
    before = len(_calls(calls))
    chunks = list(_client(api, secret).chat.completions.create(
        model="ops-helper", messages=ASK, max_tokens=200, temperature=0.0, stream=True))
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    assert len(_calls(calls)) == before + 1
    assert len(api.vault.conversations.list()) == conversations  # metadata-only key: no texts kept
    assert any(e.actor == "api:quiet-agent" and e.event == "tool_call" for e in api.vault.audit.entries())


def test_a_key_without_the_tools_rule_gets_an_answer_without_tools(served: tuple[Api, Path]) -> None:
    api, calls = served
    _, secret = api.vault.api_keys.create("plain")
    before = len(_calls(calls))
    reply = _client(api, secret).chat.completions.create(model="ops-helper", messages=ASK, max_tokens=8)
    assert reply.choices[0].finish_reason in ("stop", "length") and len(_calls(calls)) == before
    skipped = [e for e in api.vault.audit.entries() if e.event == "assistant_tools_skipped"]
    assert skipped[-1].actor == "api:plain" and skipped[-1].details["reason"] == "the key may not use tools"


def test_a_tool_needing_a_person_is_never_run_unattended(served: tuple[Api, Path]) -> None:
    api, calls = served
    key, _ = api.vault.api_keys.create("unattended", tools=True)
    tools = Tools(_Caller(api.vault, key), only=["corp__lookup", "corp__wipe_disk"], unattended=True)
    plan = tools.plan()
    assert plan is not None and [s["function"]["name"] for s in plan.offer.specs] == ["corp__lookup"]
    before = len(_calls(calls))
    outcome = tools.run(None, ToolCallRequest("call_1", "corp__wipe_disk", '{"path": "/"}'), approved=True)
    assert outcome.decision == "needs-approval" and "approval" in outcome.text and len(_calls(calls)) == before
    # When the admin takes "always allow" back, the assistant answers without the tool.
    api.engine.tools.allow("corp", "lookup")
    try:
        _, secret = api.vault.api_keys.create("agent-later", tools=True)
        _client(api, secret).chat.completions.create(model="ops-helper", messages=ASK, max_tokens=8)
        assert len(_calls(calls)) == before
    finally:
        api.engine.tools.allow("corp", "lookup", always=True)


def test_client_tools_are_refused_by_an_assistant_that_runs_its_own(served: tuple[Api, Path]) -> None:
    api, _ = served
    _, secret = api.vault.api_keys.create("agent-own-tools", tools=True)
    tool: Any = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError, match="runs its own tools"):
        _client(api, secret).chat.completions.create(model="ops-helper", messages=ASK, max_tokens=8, tools=[tool])
