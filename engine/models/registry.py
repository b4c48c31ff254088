"""The model registry: which GGUF files Enclave knows, their facts, hashes, settings and the default.

The registry is a small JSON manifest beside the model files (`models/registry.json`). It holds only
file facts and settings, no user content, so `enclave models list` works without unlocking the vault.
Every write is whole-or-nothing and serialised across processes by a lock file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import paths
from engine.errors import IntegrityError, NotFoundError, UserError
from engine.fileio import fsync_dir, part_path, write_atomic
from engine.models.gguf_header import read_header
from engine.models.metadata import ModelFacts, facts_from_header
from engine.models.names import contained_path, suggest_model_name, validate_model_name

ProgressCallback = Callable[[int, int], None]
COPY_BLOCK = 4 * 1024 * 1024
GPU_LAYER_CHOICES = ("auto", "all", "none")


class ImportCancelled(UserError):
    """The person cancelled an import; nothing was kept."""


@dataclass(frozen=True)
class ModelSettings:
    """How a model is loaded and prompted. None means "the engine picks"."""

    context_size: int | None = None
    threads: int | None = None
    gpu_layers: str | int = "auto"
    batch_size: int = 512
    chat_template: str | None = None  # a builtin name ("chatml", "gemma", …) or Jinja source
    parallel: int = 4
    speculation: str = "lookup"  # "lookup": prompt-lookup drafts (engine.runtime.speculative); "off"
    draft_model: str | None = None  # a registered model that drafts for this one (engine.runtime.draft_model)

    def validated(self) -> ModelSettings:
        """Return self, or raise a UserError naming the first bad setting."""
        if self.context_size is not None and not 64 <= self.context_size <= 1_048_576:
            raise UserError("context size must be between 64 and 1048576 tokens")
        if self.threads is not None and not 1 <= self.threads <= 512:
            raise UserError("threads must be between 1 and 512")
        if isinstance(self.gpu_layers, str) and self.gpu_layers not in GPU_LAYER_CHOICES:
            raise UserError("gpu layers must be auto, all, none or a number")
        if isinstance(self.gpu_layers, int) and self.gpu_layers < 0:
            raise UserError("gpu layers cannot be negative")
        if not 1 <= self.batch_size <= 65536:
            raise UserError("batch size must be between 1 and 65536")
        if not 1 <= self.parallel <= 64:
            raise UserError("parallel sequences must be between 1 and 64")
        if self.speculation not in ("lookup", "off"):
            raise UserError("speculation must be lookup or off")
        if self.draft_model is not None and not (isinstance(self.draft_model, str) and self.draft_model):
            raise UserError("the draft model must be a registered model's name")
        return self


@dataclass(frozen=True)
class AdapterRef:
    """What makes a registered model an adapted one: a LoRA adapter (sealed in the vault) on a base model."""

    base: str  # the base model's name
    base_sha256: str
    adapter_sha256: str
    job_id: str  # the training job in the vault that holds the adapter, its provenance and evaluation
    withdrawn: bool = False  # set when a data subject whose rows trained it was erased: not served


@dataclass(frozen=True)
class ModelRecord:
    """A registered GGUF file (a `ModelFile` on disk), its facts and its settings."""

    name: str
    file_name: str
    sha256: str
    file_size: int
    imported_at: str
    source: str  # "import" or "demo"
    facts: ModelFacts
    settings: ModelSettings = field(default_factory=ModelSettings)
    adapter: AdapterRef | None = None  # an adapted model: the file is its base model's
    verified_at: str | None = None  # the last `verify` that found the file unchanged (ISO, UTC)

    @property
    def last_checked(self) -> str:
        """When the file last matched its SHA-256: the last verification, else the import (hashed as copied)."""
        return self.verified_at or self.imported_at

    @property
    def path(self) -> Path:
        """Absolute path of the GGUF file inside the models folder."""
        return contained_path(paths.models_dir(), self.file_name)

    def loads_like(self, other: ModelRecord) -> bool:
        """True when loading either gives the same model in memory: the same file with the same settings
        (facts completed later do not count)."""
        return (self.file_name, self.sha256, self.settings, self.adapter) == (
            other.file_name,
            other.sha256,
            other.settings,
            other.adapter,
        )

    @property
    def is_base_model(self) -> bool:
        """A model without a chat template is (almost always) a base model that continues text."""
        return not self.facts.has_chat_template

    def to_json(self) -> dict[str, Any]:
        """The record as `info --json` and the registry file show it."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["is_base_model"] = self.is_base_model
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelRecord:
        """Rebuild a record stored by `to_json`."""
        return cls(
            name=data["name"],
            file_name=data["file_name"],
            sha256=data["sha256"],
            file_size=data["file_size"],
            imported_at=data["imported_at"],
            source=data.get("source", "import"),
            facts=ModelFacts(**data["facts"]),
            settings=ModelSettings(**data.get("settings", {})),
            adapter=AdapterRef(**data["adapter"]) if data.get("adapter") else None,
            verified_at=data.get("verified_at"),
        )


def hash_file(path: Path, progress: ProgressCallback | None = None) -> str:
    """SHA-256 of a file, read in blocks (never whole), reporting progress."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(COPY_BLOCK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def _copy_hashing(
    sources: Sequence[Path],
    target: Path,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> str:
    """Concatenate `sources` into `target` while hashing; fsync; return the SHA-256 hex digest."""
    total = sum(source.stat().st_size for source in sources)
    digest = hashlib.sha256()
    done = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for source in sources:
            with source.open("rb") as handle:
                while block := handle.read(COPY_BLOCK):
                    if cancel is not None and cancel.is_set():
                        raise ImportCancelled("import cancelled; nothing was kept")
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


class ModelRegistry:
    """Registered models in `ENCLAVE_HOME/models`, read fresh from disk on every call."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or paths.models_dir()
        self.manifest = self.folder / "registry.json"
        self._lock_path = self.folder / "registry.lock"

    # -- reading -------------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "default": None, "models": {}, "demo_removed": False}
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise IntegrityError(f"the model registry {self.manifest} is corrupt") from None
        return data

    def list(self, *, include_withdrawn: bool = False) -> list[ModelRecord]:
        """Registered models, sorted by name; adapters withdrawn from serving only when asked for."""
        models = (ModelRecord.from_json(m) for m in self._load()["models"].values())
        kept = (m for m in models if include_withdrawn or m.adapter is None or not m.adapter.withdrawn)
        return sorted(kept, key=lambda r: r.name.lower())

    def get(self, name: str) -> ModelRecord:
        """The record called `name`, or NotFoundError."""
        data = self._load()["models"].get(name)
        if data is None:
            raise NotFoundError(f"unknown model {name!r}; see `enclave models list`")
        return ModelRecord.from_json(data)

    def default_name(self) -> str | None:
        """Name of the model used when a request names none."""
        default = self._load().get("default")
        return default if isinstance(default, str) else None

    def resolve(self, name: str | None) -> ModelRecord:
        """The named model, or the default one, to serve; a clear error when there is neither, or when it
        is an adapter withdrawn from serving."""
        if not name:
            name = self.default_name()
            if name is None:
                raise UserError("no default model: import one with `enclave models import FILE.gguf`")
        record = self.get(name)
        if record.adapter is not None and record.adapter.withdrawn:
            raise UserError(
                f"model {name!r} is withdrawn: it was trained on data of an erased subject; "
                f"retrain it with `enclave train --retrain {name}` or remove it"
            )
        return record

    # -- writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold the cross-process registry lock; write the manifest back if the block succeeds."""
        with self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            yield data
            write_atomic(self.manifest, json.dumps(data, indent=2, sort_keys=True).encode())

    def import_file(
        self,
        source: Path,
        name: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        expected_sha256: str | None = None,
        approve: Callable[[str], None] | None = None,
    ) -> ModelRecord:
        """Validate, copy (hashing as it goes), fsync and register a GGUF file."""
        source = Path(source).expanduser()
        read_header(source)  # fail fast, before copying gigabytes of a bad file
        return self.import_parts(
            [source],
            suggest_model_name(source.name) if name is None else name,
            source_kind="import",
            progress=progress,
            cancel=cancel,
            expected_sha256=expected_sha256,
            approve=approve,
        )

    def import_parts(
        self,
        sources: Sequence[Path],
        name: str,
        *,
        source_kind: str,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        expected_sha256: str | None,
        approve: Callable[[str], None] | None = None,
    ) -> ModelRecord:
        validate_model_name(name)
        if any(m.name == name for m in self.list()):
            raise UserError(f"a model called {name!r} already exists; pick another name with --name")
        total = sum(source.stat().st_size for source in sources)
        if shutil.disk_usage(self.folder).free < total:
            raise UserError(f"not enough disk space to import {name} ({total:,} bytes needed); nothing was written")

        target = contained_path(self.folder, f"{name}.gguf")
        part = part_path(target)
        part.unlink(missing_ok=True)  # a leftover of an earlier crash
        try:
            sha256 = _copy_hashing(sources, part, progress, cancel)
            if expected_sha256 and sha256 != expected_sha256.lower():
                raise IntegrityError(f"SHA-256 mismatch for {name}: the file is not the one expected")
            header = read_header(part)  # what was written is what gets registered
            if approve is not None:
                approve(sha256)
            for existing in self.list():
                if existing.sha256 == sha256:
                    raise UserError(f"this file is already registered as {existing.name!r}")
            record = ModelRecord(
                name=name,
                file_name=target.name,
                sha256=sha256,
                file_size=total,
                imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
                source=source_kind,
                facts=facts_from_header(header),
            )
            with self._locked() as data:
                if name in data["models"]:
                    raise UserError(f"a model called {name!r} already exists; pick another name with --name")
                os.replace(part, target)
                fsync_dir(self.folder)
                data["models"][name] = record.to_json()
                # An embedding model cannot chat, so it never becomes the default chat model.
                if not data.get("default") and source_kind != "embedding":
                    data["default"] = name
            return record
        except OSError as exc:
            part.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise UserError(f"disk full while importing {name}; nothing was kept") from None
            raise UserError(f"cannot import {name}: {exc.strerror}") from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    def complete_facts(self) -> tuple[str, ...]:
        """Add the facts an older version did not record (the KV cache a token takes) to the records that
        lack them, from their files' headers; the names completed. Once per model, ever, but a header with
        a large vocabulary takes up to a second to read: call it off the GUI thread."""
        known = {f.name for f in fields(ModelFacts)}
        stale = {name: entry for name, entry in self._load()["models"].items() if known - entry["facts"].keys()}
        read: dict[str, dict[str, Any]] = {}
        for name, entry in stale.items():  # before taking the lock: other processes need not wait for this
            try:
                path = contained_path(self.folder, entry["file_name"])  # as ModelRecord.path: never outside
                read[name] = asdict(facts_from_header(read_header(path)))
            except (UserError, OSError):
                continue  # a missing or damaged file: `verify` says so, and estimates guess meanwhile
        if not read:
            return ()
        with self._locked() as data:
            for name, facts in read.items():
                entry = data["models"].get(name)
                if entry is None or entry["sha256"] != stale[name]["sha256"]:
                    continue  # removed or replaced meanwhile
                for key, value in facts.items():
                    entry["facts"].setdefault(key, value)
        return tuple(read)

    def verify(self, name: str, progress: ProgressCallback | None = None) -> ModelRecord:
        """Recompute the file's SHA-256; IntegrityError if it differs from the registry."""
        record = self.get(name)
        if not record.path.exists():
            raise IntegrityError(f"the file of model {name!r} is missing from the models folder")
        if hash_file(record.path, progress) != record.sha256:
            raise IntegrityError(f"model {name!r} failed verification: its SHA-256 changed since import")
        checked = datetime.now(UTC).isoformat(timespec="seconds")
        with self._locked() as data:
            entry = data["models"].get(name)
            if entry is not None and entry.get("sha256") == record.sha256:  # not replaced meanwhile
                entry["verified_at"] = checked
        return replace(record, verified_at=checked)

    def remove(self, name: str) -> None:
        """Delete the model's file and its record (an adapted model's record only: the file is its base's)."""
        with self._locked() as data:
            if name not in data["models"]:
                raise NotFoundError(f"unknown model {name!r}; see `enclave models list`")
            dependants = sorted(
                other for other, entry in data["models"].items() if (entry.get("adapter") or {}).get("base") == name
            )
            if dependants:
                raise UserError(f"adapted models {', '.join(dependants)} are built on {name!r}; remove them first")
            record = ModelRecord.from_json(data["models"].pop(name))
            if record.adapter is None:
                record.path.unlink(missing_ok=True)
            if record.source == "demo":
                data["demo_removed"] = True  # do not bring it back on the next start
            if data.get("default") == name:
                remaining = sorted(data["models"])
                data["default"] = remaining[0] if remaining else None

    def register_adapter(self, name: str, base: ModelRecord, adapter: AdapterRef) -> ModelRecord:
        """Register (or, retrained, replace) an adapted model: the base's file and facts with an adapter."""
        validate_model_name(name)
        record = replace(
            base,
            name=name,
            source="training",
            imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            adapter=adapter,
        )
        with self._locked() as data:
            existing = data["models"].get(name)
            if existing is not None and not existing.get("adapter"):
                raise UserError(f"a model called {name!r} already exists; pick another name")
            data["models"][name] = record.to_json()
            if not data.get("default"):
                data["default"] = name
        return record

    def set_withdrawn(self, name: str, withdrawn: bool) -> ModelRecord:
        """Withdraw an adapted model from serving (or put it back); it stays listed, flagged."""
        with self._locked() as data:
            entry = data["models"].get(name)
            if entry is None or not entry.get("adapter"):
                raise NotFoundError(f"no adapted model {name!r}")
            record = ModelRecord.from_json(entry)
            assert record.adapter is not None
            record = replace(record, adapter=replace(record.adapter, withdrawn=withdrawn))
            data["models"][name] = record.to_json()
            if withdrawn and data.get("default") == name:
                data["default"] = next((n for n in sorted(data["models"]) if n != name), None)
        return record

    def set_default(self, name: str) -> None:
        """Make `name` the model used when a request names none."""
        with self._locked() as data:
            if name not in data["models"]:
                raise NotFoundError(f"unknown model {name!r}; see `enclave models list`")
            data["default"] = name

    def update_settings(self, name: str, **changes: Any) -> ModelRecord:
        """Change a model's load/prompt settings (validated) and return the new record."""
        with self._locked() as data:
            if name not in data["models"]:
                raise NotFoundError(f"unknown model {name!r}; see `enclave models list`")
            record = ModelRecord.from_json(data["models"][name])
            try:
                settings = replace(record.settings, **changes).validated()
            except TypeError:
                raise UserError(f"unknown model setting in {sorted(changes)}") from None
            record = replace(record, settings=settings)
            data["models"][name] = record.to_json()
        return record

    def demo_was_removed(self) -> bool:
        """True once a person removed the bundled demo model (it is then not re-added)."""
        return bool(self._load().get("demo_removed"))
