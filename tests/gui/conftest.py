"""GUI fixtures: a fast-KDF vault, a session over the tiny model, and the main window."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True, scope="session")
def _collect_on_the_gui_thread(qapp):  # type: ignore[no-untyped-def]
    """As in the app: cyclic garbage holding Qt objects must never be collected on a worker thread."""
    from app import gc_guard, theme

    gc_guard.install(qapp)
    # As in the app: the style is set before any widget exists (replacing it later crashes widgets
    # that cached the old one, such as a QWizard never shown).
    theme.apply(qapp)


@pytest.fixture()
def fast_kdf():  # type: ignore[no-untyped-def]
    """The weakest KDF the vault accepts: tests unlock in milliseconds."""
    from engine.vault import FLOOR

    return FLOOR


@pytest.fixture()
def vault(enclave_home: Path, fast_kdf) -> Iterator:  # type: ignore[no-untyped-def]
    """A new vault in the test's ENCLAVE_HOME, closed after the test."""
    from engine.vault import Vault

    opened, _recovery = Vault.init(enclave_home, PASSPHRASE, kdf=fast_kdf)
    yield opened
    with contextlib.suppress(Exception):  # the test may have closed it already
        opened.close()


@pytest.fixture()
def session(enclave_home: Path, registry, runtime, tiny_model, vault, fast_kdf) -> Iterator:  # type: ignore[no-untyped-def]
    """A desktop session over the tiny model; the runtime fixture closes the runtime."""
    from app.session import Session

    yield Session(enclave_home, registry, runtime, vault, kdf=fast_kdf)


@pytest.fixture()
def window(qtbot, session) -> Iterator:  # type: ignore[no-untyped-def]
    """The main window, shown offscreen."""
    from app import theme, workers
    from app.main import application
    from app.window import MainWindow

    theme.apply(application())
    main = MainWindow(session, start_background=False)
    qtbot.addWidget(main)
    main.show()
    yield main
    if main.chat.stream is not None:
        main.chat.stream.stop()
    workers.wait_for_all(10_000)
    qtbot.wait(20)  # deliver the last queued results while the vault is still open


@pytest.fixture(scope="session")
def big_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~17 MB model: several copy blocks, so an import can be cancelled half-way."""
    from tests.tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(
        tmp_path_factory.mktemp("models") / "big-test.gguf", seed=2, n_embd=256, n_ff=1024, n_layers=4, name="big"
    )


@pytest.fixture()
def no_keyring() -> Iterator:  # type: ignore[type-arg]
    """A system without any OS keyring (the fail backend)."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)
