"""Unlock as a person runs it (`enclave vault check`): a damaged header is exit 2, not "wrong passphrase",
and a wrong passphrase after a crash changes no byte of the vault's files (the -shm included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.policy.audit_queue import PENDING
from engine.vault import FLOOR, Vault
from engine.vault.header import KdfParams, pass_sum
from tests.vault.conftest import CLI, PASSPHRASE, ROOT, file_hashes, raw_db, sub_env

CRASHING_WRITER = """
import os, signal, sys
from pathlib import Path
from engine.vault import Vault
vault = Vault.unlock(Path(sys.argv[1]), sys.argv[2])
conv = vault.conversations.create("before the crash")
for i in range(20):
    vault.conversations.add_message(conv.id, "user", f"message {i} " + "x" * 2000)
print(conv.id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # killed while the vault is open: the WAL and -shm stay behind
"""


def check(home: Path, passphrase: str) -> subprocess.CompletedProcess[str]:
    """`enclave vault check` in its own process."""
    return subprocess.run([*CLI, "vault", "check"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=sub_env(home, ENCLAVE_PASSPHRASE=passphrase))


@pytest.fixture()
def closed(home: Path) -> Path:
    """A closed vault (floor KDF) in ENCLAVE_HOME."""
    Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
    return home


def header_fields(home: Path) -> tuple[KdfParams, bytes, bytes, bytes]:
    with raw_db(home) as conn:
        row = conn.execute(
            "SELECT kdf_memory_kib, kdf_iterations, kdf_lanes, kdf_salt, pass_wrap, pass_check FROM header"
        ).fetchone()
    return KdfParams(row[0], row[1], row[2]), row[3], row[4], row[5]


def set_wrap(home: Path, wrap: bytes, *, fix_sum: bool) -> None:
    """Damage the passphrase wrap; with `fix_sum`, the checksum too, so only the check value can tell."""
    kdf, salt, _, check_value = header_fields(home)
    with raw_db(home) as conn:
        conn.execute("UPDATE header SET pass_wrap = ?", [wrap])
        if fix_sum:
            conn.execute("UPDATE header SET pass_sum = ?", [pass_sum(kdf, salt, wrap, check_value)])


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_intact_header_right_and_wrong(closed: Path) -> None:
    assert check(closed, PASSPHRASE).returncode == 0
    wrong = check(closed, "wrong")
    assert (wrong.returncode, wrong.stderr) == (1, "enclave: wrong passphrase\n")


@pytest.mark.parametrize("where", [-1, 20, 40], ids=["tag", "nonce", "ciphertext"])
def test_a_flipped_byte_in_the_wrap_is_damage_not_a_wrong_passphrase(closed: Path, where: int) -> None:
    wrap = header_fields(closed)[2]
    set_wrap(closed, flipped(wrap, where % len(wrap)), fix_sum=False)
    for passphrase in (PASSPHRASE, "wrong"):  # the checksum says so before any passphrase is tried
        result = check(closed, passphrase)
        assert result.returncode == 2 and "vault header is damaged" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_damage_behind_a_matching_checksum_is_found_by_the_check_value(closed: Path) -> None:
    wrap = header_fields(closed)[2]
    set_wrap(closed, flipped(wrap, len(wrap) - 1), fix_sum=True)
    right = check(closed, PASSPHRASE)
    assert right.returncode == 2 and "passphrase wrap does not open" in right.stderr
    assert check(closed, "wrong").returncode == 1  # still just a wrong passphrase


def test_a_structurally_broken_wrap_is_damage(closed: Path) -> None:
    set_wrap(closed, b"\x07short", fix_sum=True)
    result = check(closed, PASSPHRASE)
    assert result.returncode == 2 and "not an envelope" in result.stderr


def test_a_vault_from_before_check_values_gets_them_at_unlock(closed: Path) -> None:
    with raw_db(closed) as conn:
        conn.execute("UPDATE header SET pass_check = NULL, pass_sum = NULL")
    assert check(closed, "wrong").returncode == 1
    assert check(closed, PASSPHRASE).returncode == 0
    with raw_db(closed) as conn:
        assert conn.execute("SELECT pass_check IS NOT NULL AND pass_sum IS NOT NULL FROM header").fetchone()[0]
    wrap = header_fields(closed)[2]
    set_wrap(closed, flipped(wrap, 40), fix_sum=False)
    assert check(closed, PASSPHRASE).returncode == 2


def test_a_wrong_passphrase_after_a_crash_changes_no_byte(closed: Path) -> None:
    writer = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(closed), PASSPHRASE], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, env=sub_env(closed))
    assert writer.returncode == -signal.SIGKILL, writer.stderr
    conversation = writer.stdout.strip()
    assert (closed / "vault.db-wal").stat().st_size > 0 and (closed / "vault.db-shm").exists()
    before = file_hashes(closed)
    for _ in range(2):
        wrong = check(closed, "wrong")
        assert (wrong.returncode, wrong.stderr) == (1, "enclave: wrong passphrase\n")
    after = file_hashes(closed)
    after.pop(PENDING)  # the failed unlocks, queued for the audit chain (by design: see audit_queue)
    assert after == before
    # The right passphrase still finds everything committed before the crash.
    assert check(closed, PASSPHRASE).returncode == 0
    with Vault.unlock(closed, PASSPHRASE) as vault:
        assert len(vault.conversations.messages(conversation)) == 20
        assert [e.event for e in vault.audit.entries()].count("unlock_failed") == 2


def test_the_right_passphrase_after_a_crash_reads_the_newest_header(closed: Path) -> None:
    # passwd, then a crash before any checkpoint: the new wrap lives only in the WAL.
    changer = (
        "import os, signal, sys; from pathlib import Path; from engine.vault import Vault; "
        "v = Vault.unlock(Path(sys.argv[1]), sys.argv[2]); v.change_passphrase(sys.argv[2], 'new passphrase'); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", changer, str(closed), PASSPHRASE], cwd=ROOT, timeout=120,
                   env=sub_env(closed), check=False)
    assert (closed / "vault.db-wal").stat().st_size > 0
    assert check(closed, PASSPHRASE).returncode == 1  # the old one is no longer valid
    assert check(closed, "new passphrase").returncode == 0
    assert os.environ.get("ENCLAVE_PASSPHRASE") is None
