"""Fine-tuning datasets in OpenAI's chat format: parse, validate and split, all in memory.

A dataset file is JSONL, one `{"messages": [...]}` object a line, as OpenAI's fine-tuning API takes it.
Each row may also carry a `"subject"` label (whose personal data the row holds), which `--subject` gives
to every row that has none. Validation reads the whole file before anything is stored, so a bad file
is refused with every bad line named and nothing half-imported. Token lengths depend on the model and
are checked when a training job starts (`engine.training.tokens`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from engine.errors import UserError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 100_000
MAX_LINE_BYTES = 256 * 1024
MAX_MESSAGES = 64
MAX_SUBJECT_CHARS = 200
MAX_REPORTED = 20  # bad lines named in one error; the count says how many more
ROLES = frozenset({"system", "user", "assistant"})
HELD_OUT_FRACTION = 0.1
MIN_ROWS = 2  # one to train on, one held out


@dataclass(frozen=True)
class DatasetRow:
    """One validated example: its messages, its line in the source file, its subject and split."""

    line: int
    messages: tuple[dict[str, Any], ...]
    subject: str | None
    held_out: bool
    origin: str | None = None  # how errors name the row when it came from elsewhere than a file's line

    @property
    def where(self) -> str:
        """The row as an error message names it: its conversation, or its line in the file."""
        return self.origin or f"line {self.line}"

    def canonical(self) -> bytes:
        """The row as the dataset's SHA-256 covers it (messages and subject, keys sorted)."""
        value = {"messages": list(self.messages), "subject": self.subject}
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Example:
    """One tokenised row: all its tokens, and which of them the model learns to produce."""

    tokens: tuple[int, ...]
    learn: tuple[bool, ...]  # True for the assistant's tokens

    @property
    def trained_tokens(self) -> int:
        """Tokens the loss covers."""
        return sum(self.learn)


class DatasetInvalid(UserError):
    """The file is not a valid dataset; the message names the lines."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        shown = [f"line {line}: {text}" for line, text in problems[:MAX_REPORTED]]
        more = len(problems) - len(shown)
        tail = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(
            f"the dataset has {len(problems)} bad row(s); nothing was imported:\n  " + "\n  ".join(shown) + tail
        )


def dataset_sha256(rows: list[DatasetRow]) -> str:
    """SHA-256 over the canonical rows in order: it identifies exactly which data trained an adapter."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.canonical())
        digest.update(b"\n")
    return digest.hexdigest()


def _check_message(index: int, message: Any) -> str | None:
    if not isinstance(message, dict):
        return f"message {index + 1} is not an object"
    role = message.get("role")
    if role not in ROLES:
        return f"message {index + 1} has role {role!r}; expected system, user or assistant"
    if message.get("tool_calls") or message.get("function_call"):
        return f"message {index + 1}: tool calls are not supported for training"
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        return f"message {index + 1} ({role}) needs non-empty text content"
    weight = message.get("weight", 1)
    if role == "assistant" and weight not in (0, 1):
        return f"message {index + 1}: weight must be 0 or 1"
    unknown = set(message) - {"role", "content", "weight", "name"}
    if unknown:
        return f"message {index + 1} has unknown field(s) {sorted(unknown)}"
    return None


def _parse_line(text: str) -> tuple[tuple[dict[str, Any], ...], str | None]:
    """The messages and subject of one line; ValueError with the reason when it is not a valid row."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise ValueError('a row must be a JSON object like {"messages": [...]}')
    unknown = set(value) - {"messages", "subject"}
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}")
    messages = value.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError('"messages" must be a non-empty list')
    if len(messages) > MAX_MESSAGES:
        raise ValueError(f"more than {MAX_MESSAGES} messages")
    for index, message in enumerate(messages):
        if problem := _check_message(index, message):
            raise ValueError(problem)
    if messages[-1]["role"] != "assistant":
        raise ValueError("the last message must be the assistant's answer")
    if not any(m["role"] == "assistant" and m.get("weight", 1) == 1 for m in messages):
        raise ValueError("no assistant message to learn from (all have weight 0)")
    subject = value.get("subject")
    bad_subject = not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_CHARS
    if subject is not None and bad_subject:
        raise ValueError(f'"subject" must be a label of 1-{MAX_SUBJECT_CHARS} characters')
    clean = tuple({k: m[k] for k in ("role", "content", "weight", "name") if k in m} for m in messages)
    return clean, subject.strip() if isinstance(subject, str) else None


def _held_out(rows: list[tuple[int, tuple[dict[str, Any], ...], str | None]]) -> set[int]:
    """Lines of the held-out split: a fixed tenth (at least one row), chosen by content hash so the same
    file always splits the same way and no ordering in the file biases it."""
    count = max(1, round(len(rows) * HELD_OUT_FRACTION))

    def rank(row: tuple[int, tuple[dict[str, Any], ...], str | None]) -> str:
        return hashlib.sha256(json.dumps(row[1], sort_keys=True).encode()).hexdigest()

    return {row[0] for row in sorted(rows, key=rank)[:count]}


def resplit(rows: list[DatasetRow]) -> list[DatasetRow]:
    """The rows with a held-out split again when removals (a subject's erasure) took every held-out row."""
    if len(rows) < MIN_ROWS or any(r.held_out for r in rows):
        return rows
    held = _held_out([(r.line, r.messages, r.subject) for r in rows])
    return [replace(r, held_out=r.line in held) for r in rows]


def parse_dataset(data: bytes, *, subject: str | None = None) -> list[DatasetRow]:
    """Every row of a JSONL dataset, validated and split; DatasetInvalid naming every bad line."""
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"the dataset is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; split it")
    if subject is not None and (not subject.strip() or len(subject) > MAX_SUBJECT_CHARS):
        raise UserError(f"a subject label must be 1-{MAX_SUBJECT_CHARS} characters")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = data[: exc.start].count(b"\n") + 1
        raise DatasetInvalid([(bad_line, "not UTF-8 text")]) from None
    problems: list[tuple[int, str]] = []
    parsed: list[tuple[int, tuple[dict[str, Any], ...], str | None]] = []
    first_seen: dict[bytes, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue  # blank lines (a trailing newline) carry no row
        if len(line.encode("utf-8")) > MAX_LINE_BYTES:
            problems.append((number, f"longer than {MAX_LINE_BYTES // 1024} KiB"))
            continue
        try:
            messages, own_subject = _parse_line(line)
        except ValueError as exc:
            problems.append((number, str(exc)))
            continue
        key = json.dumps(messages, sort_keys=True).encode()
        if key in first_seen:
            problems.append((number, f"duplicates line {first_seen[key]}"))
            continue
        first_seen[key] = number
        parsed.append((number, messages, own_subject or (subject.strip() if subject else None)))
        if len(parsed) > MAX_ROWS:
            raise UserError(f"the dataset has more than {MAX_ROWS:,} rows; split it")
    if problems:
        raise DatasetInvalid(problems)
    if len(parsed) < MIN_ROWS:
        raise UserError(f"a dataset needs at least {MIN_ROWS} rows (one is held out for evaluation)")
    held = _held_out(parsed)
    return [DatasetRow(line, messages, subj, line in held) for line, messages, subj in parsed]
