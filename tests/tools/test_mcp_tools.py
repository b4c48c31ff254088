"""Governed MCP tools in chat turns: a real MCP server (the `mcp` SDK) over stdio and Streamable HTTP,
real llama.cpp inference with the tiny model, a real vault. The tiny model writes random text, so the
turn that must call a tool uses tool choice "required" (a grammar: the reply is a call of an allowed
tool); the model's continuation after the result is free text."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.chat import ToolCallRequest
from engine.errors import UserError
from engine.handle import DESKTOP, Engine
from engine.runtime import GenerationParams, Runtime
from engine.tools import sha256_text
from engine.vault import FLOOR, Vault
from tests.tools.conftest import McpTarget
from tests.tools.mcp_server import CANARY

PARAMS = GenerationParams(max_tokens=24, temperature=0.0, seed=1)
CALL_PARAMS = GenerationParams(max_tokens=200, temperature=0.0, seed=1)


@pytest.fixture()
def engine(enclave_home: Path, runtime: Runtime, tiny_model: object) -> Iterator[Engine]:
    vault, _ = Vault.init(enclave_home, "correct horse battery staple", kdf=FLOOR)
    made = Engine(runtime, vault, actor=DESKTOP, owns=False)
    yield made
    with contextlib.suppress(Exception):
        vault.close()


def _register(engine: Engine, target: McpTarget) -> None:
    engine.tools.add("corp", command=target.command, url=target.url, timeout_s=30)


def _tool_calls(engine: Engine) -> list[dict[str, object]]:
    assert engine.vault is not None
    return [e.details for e in engine.vault.audit.entries() if e.event == "tool_call"]


def _files_hold(home: Path, needle: bytes) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_an_approved_call_runs_is_stored_encrypted_and_audited(engine: Engine, mcp_target: McpTarget) -> None:
    _register(engine, mcp_target)
    server = engine.tools.servers()[0]
    assert [t.name for t in server.tools] == ["lookup", "wipe_disk", "big", "slow"]
    assert not any(t.allowed for t in server.tools)  # default: nothing allowed
    assert engine.tools.plan("required") is None  # nothing to offer
    engine.tools.allow("corp", "lookup")

    turn = engine.chat.send("Look up code X1", params=CALL_PARAMS, tools=engine.tools.plan("required"))
    result = turn.finish()
    assert [c.name for c in result.calls] == ["corp__lookup"]
    call = result.calls[0]
    assert engine.tools.needs_approval(call)
    outcome = engine.tools.run(result.conversation_id, call, approved=True)
    assert outcome.decision == "approved" and CANARY in outcome.text and not outcome.is_error
    assert len(mcp_target.calls()) == 1

    assert result.conversation_id is not None
    after = engine.chat.resume(result.conversation_id, params=PARAMS, tools=engine.tools.plan()).finish()
    assert after.message_id is not None  # the model went on after the result
    assert engine.vault is not None
    stored = engine.vault.conversations.messages(result.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[1].metadata is not None and stored[1].metadata["tool_calls"][0]["name"] == "corp__lookup"
    assert CANARY in stored[2].content and stored[2].metadata == {
        "tool_call_id": call.id, "tool": "corp__lookup", "decision": "approved", "is_error": False, "truncated": False}

    [audited] = _tool_calls(engine)
    assert audited["decision"] == "approved" and audited["tool"] == "lookup" and audited["server"] == "corp"
    assert audited["arguments_sha256"] == sha256_text(call.arguments)
    assert audited["result_sha256"] == sha256_text(outcome.text)
    engine.vault.audit.verify()
    # The canary (and the arguments) exist only inside the vault's ciphertext.
    assert _files_hold(engine.home, CANARY.encode()) == []
    assert json.loads(call.arguments)["code"] in ("X1", "Y2", "Z9")


def test_a_denied_call_never_runs(engine: Engine, mcp_target: McpTarget) -> None:
    _register(engine, mcp_target)
    engine.tools.allow("corp", "lookup")
    result = engine.chat.send("Look up X", params=CALL_PARAMS, tools=engine.tools.plan("required")).finish()
    outcome = engine.tools.run(result.conversation_id, result.calls[0], approved=False)
    assert outcome.decision == "denied" and mcp_target.calls() == []
    assert [d["decision"] for d in _tool_calls(engine)] == ["denied"]


def test_a_tool_not_allowed_is_never_offered_nor_run(engine: Engine, mcp_target: McpTarget) -> None:
    _register(engine, mcp_target)
    engine.tools.allow("corp", "lookup")
    plan = engine.tools.plan()
    assert plan is not None
    offered = [spec["function"]["name"] for spec in plan.offer.specs]
    assert offered == ["corp__lookup"] and "wipe_disk" not in plan.offer.note
    # A model that names it anyway (as text) gets nothing run.
    outcome = engine.tools.run(None, ToolCallRequest("call_1", "corp__wipe_disk", '{"path": "/"}'), approved=True)
    assert outcome.decision == "not-allowed" and mcp_target.calls() == []
    engine.tools.deny("corp", "lookup")
    assert engine.tools.plan() is None


def test_always_allowed_runs_without_asking(engine: Engine, mcp_target: McpTarget) -> None:
    _register(engine, mcp_target)
    engine.tools.allow("corp", "lookup", always=True)
    call = ToolCallRequest("call_2", "corp__lookup", '{"code": "Z9"}')
    assert not engine.tools.needs_approval(call)
    assert engine.tools.run(None, call, approved=False).decision == "always-allowed"
    assert len(mcp_target.calls()) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://8.8.8.8/mcp"}, "plain http://"),
        ({"url": "https://user:pw@tools.corp/mcp"}, "credentials"),
        ({"command": "  "}, "empty"),
        ({"command": "x", "url": "https://a/mcp"}, "either"),
    ],
)
def test_bad_registrations_are_refused(engine: Engine, options: dict[str, str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        engine.tools.add("bad", **options)


def test_an_unreachable_server_is_one_clear_error(engine: Engine) -> None:
    from engine.tools import ToolServerError

    with pytest.raises(ToolServerError, match="tool server 'gone'"):
        engine.tools.add("gone", url="http://127.0.0.1:9/mcp", timeout_s=5)
    assert engine.tools.servers() == []


def test_results_are_capped_and_calls_time_out(engine: Engine, mcp_target: McpTarget) -> None:
    from engine.tools.client import MAX_RESULT_CHARS

    engine.tools.add("corp", command=mcp_target.command, url=mcp_target.url, timeout_s=3)
    engine.tools.allow("corp", "big", always=True)
    engine.tools.allow("corp", "slow", always=True)
    big = engine.tools.run(None, ToolCallRequest("c1", "corp__big", '{"size": 200000}'), approved=True)
    assert len(big.text) < MAX_RESULT_CHARS + 100 and big.text.endswith("[cut at 32 KiB]")
    started = time.monotonic()
    slow = engine.tools.run(None, ToolCallRequest("c2", "corp__slow", '{"seconds": 8}'), approved=True)
    assert time.monotonic() - started < 7
    assert slow.is_error and "did not answer within 3 s" in slow.text
    bad = engine.tools.run(None, ToolCallRequest("c3", "corp__big", "not json"), approved=True)
    assert bad.is_error and "not valid JSON" in bad.text
    assert [d["is_error"] for d in _tool_calls(engine)] == [False, True, True]
