"""Model names: what a person may call a model, and the one safe way a name becomes a file path."""

from __future__ import annotations

import re
from pathlib import Path

from engine.errors import UserError

# Letters, digits, dot, dash, underscore; no path separators, no leading dot, no NUL.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def validate_model_name(name: str) -> str:
    """Return `name` if it is a safe model name, else raise a UserError saying why."""
    if "\x00" in name:
        raise UserError("model names cannot contain NUL bytes")
    if "/" in name or "\\" in name or ".." in name:
        raise UserError(f"invalid model name {name!r}: no '/', '\\' or '..' allowed")
    if not _NAME.fullmatch(name):
        raise UserError(
            f"invalid model name {name!r}: use up to 80 letters, digits, '.', '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def suggest_model_name(file_name: str) -> str:
    """A valid name derived from a file name ('Llama 3 (8B).Q4.gguf' → 'Llama-3-8B-.Q4')."""
    stem = file_name[:-5] if file_name.lower().endswith(".gguf") else file_name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.").replace("..", ".")
    return cleaned[:80] or "model"


def contained_path(folder: Path, file_name: str) -> Path:
    """`folder / file_name`, refusing anything that would resolve outside `folder`."""
    base = folder.resolve()
    candidate = (base / file_name).resolve()
    if candidate.parent != base:
        raise UserError(f"refusing a model path outside the models folder: {file_name!r}")
    return candidate
