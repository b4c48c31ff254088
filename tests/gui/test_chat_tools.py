"""MCP tools in the desktop chat, driven like a person would: the model's call waits for approval (its
arguments shown), approve runs it on the real test server (stdio and Streamable HTTP, the `mcp` SDK),
the result shows folded and the model goes on; deny never runs it; a tool not allowed is never offered.

The tiny model writes random text: the first reply is forced to be a call of an allowed tool by the
chat view's tool choice "required" (a grammar over the allowed tools' schemas); what follows is free.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.tools.conftest import McpTarget, mcp_target  # noqa: F401 (the fixture)
from tests.tools.mcp_server import CANARY


def _prepare(window, session, target: McpTarget):  # type: ignore[no-untyped-def]
    session.registry.update_settings("tiny", context_size=2048)  # the tools' descriptions take room
    session.engine.tools.add("corp", command=target.command, url=target.url, timeout_s=30)
    session.engine.tools.allow("corp", "lookup")
    chat = window.chat
    chat.sheet.max_tokens.setValue(128)  # a forced call ends within ~60 tokens (the grammar bounds whitespace)
    chat.tool_choice = "required"
    chat.composer.setPlainText("Look up X1 please")
    return chat


def test_an_approved_call_runs_shows_folded_and_the_model_goes_on(qtbot, window, session, mcp_target) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    chat = _prepare(window, session, mcp_target)
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000) as first:
        qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
    assert [c.name for c in first.args[0].calls] == ["corp__lookup"]
    qtbot.waitUntil(lambda: chat.approval is not None, timeout=10_000)
    approval = chat.approval
    assert approval.isVisibleTo(chat) and '"code"' in approval.arguments.toPlainText()
    assert "lookup" in approval.title.text()
    assert mcp_target.calls() == []  # nothing ran before the click
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000) as second:
        qtbot.mouseClick(approval.approve, Qt.MouseButton.LeftButton)
    assert len(mcp_target.calls()) == 1
    assert [i.role for i in chat.messages.items()] == ["user", "assistant", "tool", "assistant"]
    tool_bubble = chat.view.widgets()[2]
    assert CANARY in chat.messages.items()[2].content
    assert tool_bubble.result_toggle.isVisibleTo(tool_bubble) and not tool_bubble.body.isVisibleTo(tool_bubble)
    qtbot.mouseClick(tool_bubble.result_toggle, Qt.MouseButton.LeftButton)
    assert tool_bubble.body.isVisibleTo(tool_bubble)
    assert second.args[0].message_id is not None and chat.approval is None and not chat.busy()
    audited = [e.details for e in session.vault.audit.entries() if e.event == "tool_call"]
    assert [d["decision"] for d in audited] == ["approved"]
    # Shown on screen, yet on disk only inside the vault's ciphertext.
    home = Path(session.home)
    assert [p for p in home.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()] == []


def test_a_denied_call_never_runs(qtbot, window, session, mcp_target) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    chat = _prepare(window, session, mcp_target)
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000):
        qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: chat.approval is not None, timeout=10_000)
    qtbot.mouseClick(chat.approval.deny, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(chat.messages.items()) == 4 and not chat.busy(), timeout=60_000)
    assert mcp_target.calls() == []
    assert chat.messages.items()[2].metadata["decision"] == "denied"
    audited = [e.details for e in session.vault.audit.entries() if e.event == "tool_call"]
    assert [d["decision"] for d in audited] == ["denied"]


def test_no_allowed_tool_means_no_offer(qtbot, window, session, mcp_target) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    chat = _prepare(window, session, mcp_target)
    session.engine.tools.deny("corp", "lookup")  # registered, listed, but nothing allowed
    # Tool choice stays "required": were any tool offered, the reply would have to be its call.
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000) as finished:
        qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].calls == () and chat.approval is None
    assert "corp__" not in finished.args[0].text  # no grammar forced a call: nothing was offered
    assert mcp_target.calls() == [] and [i.role for i in chat.messages.items()] == ["user", "assistant"]


def test_the_admin_registers_a_server_and_allows_a_tool_in_the_dialog(qtbot, session, mcp_target) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from app.dialogs.tools import ALLOWED, ALWAYS, ToolsDialog

    dialog = ToolsDialog(session.engine.tools)
    qtbot.addWidget(dialog)
    dialog.name.setText("corp")
    dialog.kind.setCurrentIndex(dialog.kind.findData("command" if mcp_target.command else "url"))
    dialog.target.setText(mcp_target.command or mcp_target.url)
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 1, timeout=30_000)
    server = dialog.tree.topLevelItem(0)
    assert [server.child(i).text(0) for i in range(server.childCount())] == ["lookup", "wipe_disk", "big", "slow"]
    assert server.child(0).checkState(ALLOWED) == Qt.CheckState.Unchecked
    server.child(0).setCheckState(ALLOWED, Qt.CheckState.Checked)
    [(_, rule)] = session.engine.tools.allowed()
    assert rule.name == "lookup" and not rule.always
    dialog.tree.topLevelItem(0).child(0).setCheckState(ALWAYS, Qt.CheckState.Checked)
    assert session.engine.tools.allowed()[0][1].always
    assert [e.event for e in session.vault.audit.entries() if e.event.startswith("tool_")] == [
        "tool_server_add", "tool_rule", "tool_rule"]
