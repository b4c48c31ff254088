"""A fine-tuning dataset built from conversations a person selects: one `{"messages": [...]}` row each.

Each conversation's system prompt and its user and assistant turns (the chosen version of a regenerated
reply) become a row; tool messages and empty replies (an assistant turn that only called a tool) are left
out, and so are turns after the last reply. The rows go through exactly the validation a JSONL import
gets (`parse_dataset`: format, duplicates, the held-out split), built in memory and never written to a
file, and the errors name the conversation instead of a line. A row's data subject is its conversation's
subject label, so a subject's erasure removes it as it removes imported rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from engine.errors import UserError
from engine.training.dataset import MAX_MESSAGES, MAX_ROWS, MAX_SUBJECT_CHARS, DatasetInvalid, DatasetRow, parse_dataset
from engine.vault import Vault
from engine.vault.records import Conversation

SOURCE = "conversations"
MAX_TITLE_SHOWN = 60


class ConversationsInvalid(UserError):
    """Some selected conversations cannot be training rows; the message names each of them."""


def _name(conversation: Conversation) -> str:
    title = conversation.title if len(conversation.title) <= MAX_TITLE_SHOWN else conversation.title[:59] + "…"
    return f"conversation {title!r} ({conversation.id})"


def conversation_messages(vault: Vault, conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation as OpenAI chat messages for training: system prompt, user and assistant turns."""
    messages: list[dict[str, Any]] = []
    if conversation.system_prompt and conversation.system_prompt.strip():
        messages.append({"role": "system", "content": conversation.system_prompt})
    for message in vault.conversations.messages(conversation.id):
        if message.role == "tool" or not message.content.strip():
            continue  # tool results, and replies that only called a tool, teach nothing a row can hold
        messages.append({"role": message.role, "content": message.content})
    while messages and messages[-1]["role"] != "assistant":
        messages.pop()  # a question never answered is no example
    return messages


def build_rows(vault: Vault, ids: Sequence[str], *, subject: str | None = None) -> list[DatasetRow]:
    """The validated, split rows of the conversations `ids` (in that order); NotFoundError for an unknown id,
    ConversationsInvalid naming every conversation that cannot be a row."""
    if subject is not None and (not subject.strip() or len(subject) > MAX_SUBJECT_CHARS):
        raise UserError(f"a subject label must be 1-{MAX_SUBJECT_CHARS} characters")
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise UserError("select at least two conversations")
    if len(unique) > MAX_ROWS:
        raise UserError(f"a dataset has at most {MAX_ROWS:,} rows")
    conversations = [vault.conversations.get(conv_id) for conv_id in unique]  # NotFoundError names the id
    problems: list[str] = []
    lines: list[str] = []
    for conversation in conversations:
        messages = conversation_messages(vault, conversation)
        if not any(m["role"] == "assistant" for m in messages):
            problems.append(f"{_name(conversation)}: has no reply to learn from")
        elif len(messages) > MAX_MESSAGES:
            problems.append(f"{_name(conversation)}: more than {MAX_MESSAGES} messages; pick shorter conversations")
        value: dict[str, Any] = {"messages": messages}
        if conversation.subject:
            value["subject"] = conversation.subject
        lines.append(json.dumps(value, ensure_ascii=False))
    if problems:
        raise ConversationsInvalid(_report(problems))
    try:
        # The same validation as a JSONL file, on the same bytes a file would hold, kept in memory.
        rows = parse_dataset("\n".join(lines).encode("utf-8"), subject=subject)
    except DatasetInvalid as exc:
        named = [_rename(line, text, conversations) for line, text in exc.problems]
        raise ConversationsInvalid(_report(named)) from None
    return [replace(row, origin=_name(conversations[row.line - 1])) for row in rows]


def _rename(line: int, text: str, conversations: list[Conversation]) -> str:
    """A problem `parse_dataset` reported by line, said of the conversation on that line."""

    def earlier(match: re.Match[str]) -> str:
        return f"has the same messages as {_name(conversations[int(match[1]) - 1])}"

    text = re.sub(r"duplicates line (\d+)", earlier, text)
    return f"{_name(conversations[line - 1])}: {text}"


def _report(problems: list[str]) -> str:
    shown = problems[:20]
    more = f"\n  … and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    return (
        f"{len(problems)} selected conversation(s) cannot be training rows; nothing was stored:\n  "
        + "\n  ".join(shown)
        + more
    )
