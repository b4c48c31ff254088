"""Document fixtures: a vault with a library over the real default embedding model, shared per module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.documents.library import DocumentLibrary
from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault
from tests.conftest import module_enclave_home

PASSPHRASE = "correct horse battery staple"


@dataclass
class Library:
    """An open vault, its library and its home."""

    home: Path
    vault: Vault
    library: DocumentLibrary


@pytest.fixture(scope="module")
def shared_library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """One vault and library for a whole module (the embedding model loads once)."""
    with module_enclave_home(tmp_path_factory, "docs-home") as home:
        vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
        library = DocumentLibrary(vault, ModelRegistry(home / "models"))
        library.embedder(None)  # build, register and load the default model now, inside this home
        try:
            yield Library(home, vault, library)
        finally:
            library.close()
            vault.close()
