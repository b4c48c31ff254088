"""Operations on conversations (the Chat page): each returns a StreamTask for one reply."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.session import Session
from app.workers import StreamTask, Task
from engine.chat import ToolCallRequest
from engine.runtime import GenerationParams


def send(
    owner: QObject,
    session: Session,
    text: str,
    *,
    conversation_id: str | None,
    model: str | None,
    params: GenerationParams,
    system_prompt: str | None = None,
    tool_choice: str = "auto",
) -> StreamTask:
    """Send `text` (a new conversation when `conversation_id` is None) and stream the reply; the tools an
    admin allowed are offered to the model (`tool_choice` "required": the reply must call one)."""
    chat, tools = session.chat, session.engine.tools
    return StreamTask(
        lambda on_load: chat.send(
            text, conversation_id=conversation_id, model=model, params=params, system_prompt=system_prompt,
            on_load=on_load, tools=tools.plan(tool_choice),
        ),
        owner,
    )


def resume(
    owner: QObject, session: Session, conversation_id: str, model: str | None, params: GenerationParams
) -> StreamTask:
    """Stream the model's reply after a tool's result (the allowed tools still offered)."""
    chat, tools = session.chat, session.engine.tools
    return StreamTask(
        lambda on_load: chat.resume(conversation_id, model=model, params=params, on_load=on_load,
                                    tools=tools.plan()),
        owner,
    )


def run_tool(
    owner: QObject, session: Session, conversation_id: str | None, call: ToolCallRequest, *, approved: bool
) -> Task:
    """Call a tool the model asked for (or record that the person denied it), off the GUI thread; the
    result is an `engine.tools.ToolOutcome`."""
    tools = session.engine.tools
    return Task(lambda _ctx: tools.run(conversation_id, call, approved=approved), owner)


def edit_and_resend(
    owner: QObject, session: Session, conversation_id: str, message_id: str, text: str, params: GenerationParams
) -> StreamTask:
    """Replace a sent message (and what followed it) with `text`, and stream the new reply."""
    chat = session.chat
    return StreamTask(
        lambda on_load: chat.edit_and_resend(conversation_id, message_id, text, params=params, on_load=on_load), owner
    )


def regenerate(
    owner: QObject, session: Session, conversation_id: str, model: str | None, params: GenerationParams
) -> StreamTask:
    """Stream a new version of the last reply (the earlier ones are kept, to switch back to)."""
    chat = session.chat
    return StreamTask(
        lambda on_load: chat.regenerate(conversation_id, model=model, params=params, on_load=on_load), owner
    )
