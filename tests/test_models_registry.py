"""The model registry: import, metadata, verify, remove, default, and every kind of bad input."""

from __future__ import annotations

import errno
import hashlib
import json
import threading
from pathlib import Path

import pytest

from engine.errors import IntegrityError, NotFoundError, UserError
from engine.models import GGUFError, ImportCancelled, ModelRegistry
from engine.models.gguf_header import read_header
from tests.tiny_gguf import write_tiny_gguf


def models_folder_files(registry: ModelRegistry) -> set[str]:
    return {p.name for p in registry.folder.iterdir() if p.name not in ("registry.json", "registry.lock")}


def test_import_copies_hashes_and_registers(registry: ModelRegistry, tiny_gguf: Path) -> None:
    seen: list[tuple[int, int]] = []
    record = registry.import_file(tiny_gguf, "tiny", progress=lambda done, total: seen.append((done, total)))
    assert record.sha256 == hashlib.sha256(tiny_gguf.read_bytes()).hexdigest()
    assert record.path.read_bytes() == tiny_gguf.read_bytes()
    assert record.path.parent == registry.folder
    assert seen and seen[-1][0] == seen[-1][1] == tiny_gguf.stat().st_size
    assert registry.default_name() == "tiny"  # the first model becomes the default
    assert models_folder_files(registry) == {"tiny.gguf"}


def test_metadata_comes_from_the_header(registry: ModelRegistry, tiny_gguf: Path) -> None:
    facts = registry.import_file(tiny_gguf, "tiny").facts
    header = read_header(tiny_gguf)
    assert facts.architecture == "llama"
    assert facts.context_length == 512
    assert facts.embedding_length == 64
    assert facts.layer_count == 2
    assert facts.vocab_size == header.array_lengths["tokenizer.ggml.tokens"] > 256
    assert facts.quantization == "ALL_F32"
    assert facts.license == "apache-2.0"
    assert facts.has_chat_template is True
    assert facts.parameter_count == header.parameter_count > 0
    assert facts.size_label.endswith("K") or facts.size_label.endswith("M")


def test_base_model_is_flagged(registry: ModelRegistry, tiny_gguf_no_template: Path) -> None:
    record = registry.import_file(tiny_gguf_no_template, "base")
    assert record.is_base_model and not record.facts.has_chat_template


def test_default_name_comes_from_file_name(registry: ModelRegistry, tiny_gguf: Path) -> None:
    assert registry.import_file(tiny_gguf).name == "tiny-test"


def test_verify_detects_a_changed_file(registry: ModelRegistry, tiny_gguf: Path) -> None:
    record = registry.import_file(tiny_gguf, "tiny")
    assert registry.verify("tiny").sha256 == record.sha256
    data = bytearray(record.path.read_bytes())
    data[-10] ^= 0xFF
    record.path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="failed verification"):
        registry.verify("tiny")


def test_remove_and_default(registry: ModelRegistry, tiny_gguf: Path, tiny_gguf_no_template: Path) -> None:
    registry.import_file(tiny_gguf, "a")
    registry.import_file(tiny_gguf_no_template, "b")
    registry.set_default("b")
    assert registry.resolve(None).name == "b"
    registry.remove("b")
    assert registry.default_name() == "a"
    assert models_folder_files(registry) == {"a.gguf"}
    with pytest.raises(NotFoundError):
        registry.get("b")


@pytest.mark.parametrize("name", ["../evil", "a/b", "/etc/passwd", "a\x00b", "..", ".hidden", "a\\b", ""])
def test_unsafe_names_are_refused(registry: ModelRegistry, tiny_gguf: Path, name: str) -> None:
    with pytest.raises(UserError):
        registry.import_file(tiny_gguf, name)
    assert models_folder_files(registry) == set()
    with pytest.raises(UserError):
        registry.get(name) if name else registry.get("\x00")


def test_not_a_gguf_is_refused(registry: ModelRegistry, tmp_path: Path) -> None:
    fake = tmp_path / "notes.gguf"
    fake.write_bytes(b"this is a text file, not a model" * 10)
    with pytest.raises(GGUFError, match="not a GGUF"):
        registry.import_file(fake)
    assert models_folder_files(registry) == set()


@pytest.mark.parametrize("keep_fraction", [0.01, 0.3, 0.9, 0.999])
def test_truncated_file_is_refused(
    registry: ModelRegistry, tiny_gguf: Path, tmp_path: Path, keep_fraction: float
) -> None:
    data = tiny_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * keep_fraction)])
    with pytest.raises(GGUFError, match="truncated|not a GGUF"):
        registry.import_file(cut)
    assert models_folder_files(registry) == set()


def test_hostile_counts_are_refused_without_allocating(tmp_path: Path) -> None:
    bad = tmp_path / "huge.gguf"
    bad.write_bytes(
        b"GGUF" + (3).to_bytes(4, "little") + (2**60).to_bytes(8, "little") + (1).to_bytes(8, "little") + b"\0" * 16
    )
    with pytest.raises(GGUFError, match="implausible"):
        read_header(bad)
    bad.write_bytes(b"GGUF" + (7).to_bytes(4, "little") + b"\0" * 32)
    with pytest.raises(GGUFError, match="version 7"):
        read_header(bad)


def test_missing_file_and_folder(registry: ModelRegistry, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        registry.import_file(tmp_path / "nope.gguf")
    with pytest.raises(UserError, match="folder"):
        registry.import_file(tmp_path)


def test_duplicate_name_and_duplicate_content(registry: ModelRegistry, tiny_gguf: Path) -> None:
    registry.import_file(tiny_gguf, "tiny")
    with pytest.raises(UserError, match="already exists"):
        registry.import_file(tiny_gguf, "tiny")
    with pytest.raises(UserError, match="already registered as 'tiny'"):
        registry.import_file(tiny_gguf, "again")
    assert models_folder_files(registry) == {"tiny.gguf"}


def test_expected_sha_mismatch_leaves_nothing(registry: ModelRegistry, tiny_gguf: Path) -> None:
    with pytest.raises(IntegrityError, match="SHA-256 mismatch"):
        registry.import_file(tiny_gguf, "tiny", expected_sha256="0" * 64)
    assert models_folder_files(registry) == set()


def test_disk_full_while_copying_leaves_nothing(
    registry: ModelRegistry, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.models.registry as registry_module

    real_open = registry_module.os.fdopen

    class FullDisk:
        def __init__(self, handle):  # type: ignore[no-untyped-def]
            self.handle = handle
            self.written = 0

        def write(self, data: bytes) -> int:
            if self.written > 1000:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return int(self.handle.write(data))

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.handle, name)

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

    monkeypatch.setattr(registry_module.os, "fdopen", lambda fd, mode: FullDisk(real_open(fd, mode)))
    monkeypatch.setattr(registry_module, "COPY_BLOCK", 512)
    with pytest.raises(UserError, match="disk full"):
        registry.import_file(tiny_gguf, "tiny")
    assert models_folder_files(registry) == set()


def test_not_enough_space_is_refused_before_copying(
    registry: ModelRegistry, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.models.registry as registry_module

    monkeypatch.setattr(registry_module.shutil, "disk_usage", lambda _: type("U", (), {"free": 10})())
    with pytest.raises(UserError, match="not enough disk space"):
        registry.import_file(tiny_gguf, "tiny")
    assert models_folder_files(registry) == set()


def test_cancelled_import_leaves_nothing(
    registry: ModelRegistry, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.models.registry as registry_module

    monkeypatch.setattr(registry_module, "COPY_BLOCK", 4096)
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > total // 2:
            cancel.set()

    with pytest.raises(ImportCancelled):
        registry.import_file(tiny_gguf, "tiny", progress=progress, cancel=cancel)
    assert models_folder_files(registry) == set()
    assert registry.list() == []


def test_settings_are_validated_and_persisted(registry: ModelRegistry, tiny_gguf: Path) -> None:
    registry.import_file(tiny_gguf, "tiny")
    registry.update_settings("tiny", context_size=256, gpu_layers="none", chat_template="chatml")
    assert registry.get("tiny").settings.context_size == 256
    with pytest.raises(UserError, match="gpu layers"):
        registry.update_settings("tiny", gpu_layers="lots")
    with pytest.raises(UserError, match="unknown model setting"):
        registry.update_settings("tiny", colour="red")
    manifest = json.loads(registry.manifest.read_text())
    assert manifest["models"]["tiny"]["settings"]["chat_template"] == "chatml"


def test_corrupt_manifest_is_an_integrity_error(registry: ModelRegistry, tiny_gguf: Path) -> None:
    registry.import_file(tiny_gguf, "tiny")
    registry.manifest.write_text("{not json")
    with pytest.raises(IntegrityError, match="corrupt"):
        registry.list()


def test_second_tiny_model_with_other_seed_differs(tmp_path: Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", seed=1)
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=2)
    assert a.read_bytes() != b.read_bytes()
    assert a.stat().st_size < 1_000_000
