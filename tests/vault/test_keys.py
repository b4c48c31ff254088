"""Key hierarchy: init, unlock, wrong passphrase, KDF floor, recovery, passphrase change, lock."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.errors import IntegrityError, NotFoundError, UserError, VaultLockedError
from engine.vault import FLOOR, KdfParams, Vault
from engine.vault.errors import VaultExists, VaultInUse, VaultMissing, WrongPassphrase, WrongRecoveryKey
from engine.vault.schema import sealed_columns
from tests.vault.conftest import PASSPHRASE, ROOT, file_hashes, raw_db, sub_env


def test_init_then_unlock_round_trip(home: Path) -> None:
    vault, recovery = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    conv = vault.conversations.create("first")
    vault.close()
    assert Vault.exists(home)
    # A person can write it down: 8 groups of 5 base32 characters.
    groups = recovery.split("-")
    assert len(groups) == 8 and all(len(g) == 5 and g.isalnum() and g.isupper() for g in groups)
    with Vault.unlock(home, PASSPHRASE) as again:
        assert [c.id for c in again.conversations.list()] == [conv.id]


def test_init_refuses_existing_vault_and_missing_vault_is_named(home: Path) -> None:
    with pytest.raises(VaultMissing, match="run `enclave init` first"):
        Vault.unlock(home, PASSPHRASE)
    Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
    with pytest.raises(VaultExists):
        Vault.init(home, "other", kdf=FLOOR)


def test_wrong_passphrase_changes_no_byte_of_any_file(vault: Vault, home: Path) -> None:
    vault.conversations.add_message(vault.conversations.create("t").id, "user", "hello")
    vault.close()
    before = file_hashes(home)
    with pytest.raises(WrongPassphrase, match="^wrong passphrase$") as info:
        Vault.unlock(home, "not the passphrase")
    assert info.value.exit_code == 1
    assert file_hashes(home) == before  # same files (no -wal/-shm appeared), same bytes
    with Vault.unlock(home, PASSPHRASE):
        pass


def test_failed_unlock_without_lock_file_leaves_none(vault: Vault, home: Path) -> None:
    vault.close()
    (home / "vault.lock").unlink()
    before = file_hashes(home)
    with pytest.raises(WrongPassphrase):
        Vault.unlock(home, "nope")
    assert file_hashes(home) == before


def test_kdf_floor_is_enforced_at_init_and_in_the_header(home: Path) -> None:
    with pytest.raises(UserError, match="too weak"):
        Vault.init(home, PASSPHRASE, kdf=KdfParams(memory_kib=8 * 1024, iterations=2, lanes=1))
    with pytest.raises(UserError, match="too weak"):
        Vault.init(home, PASSPHRASE, kdf=KdfParams(memory_kib=19 * 1024, iterations=1, lanes=1))
    assert not Vault.exists(home)
    Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
    # An attacker lowering the stored cost (to speed up guessing) gets a refusal, not a weak unlock.
    with raw_db(home) as conn:
        conn.execute("UPDATE header SET kdf_memory_kib = 1024")
    with pytest.raises(IntegrityError, match="below the floor"):
        Vault.unlock(home, PASSPHRASE)


def test_default_kdf_is_stronger_than_the_floor() -> None:
    default = KdfParams()
    assert default.memory_kib >= 64 * 1024 and default.iterations >= 3 and not default.below_floor()
    assert KdfParams(19 * 1024, 2, 1) == FLOOR


def _sealed_cells(home: Path) -> dict[tuple[str, str, str], bytes]:
    cells = {}
    with raw_db(home) as conn:
        for table, column in sealed_columns():
            if table == "header":
                continue
            for row_id, blob in conn.execute(f"SELECT id, {column} FROM {table}"):
                cells[(table, column, row_id)] = blob
    return cells


def test_passphrase_change_rewraps_only(vault: Vault, home: Path) -> None:
    conv = vault.conversations.create("secret plans")
    vault.conversations.add_message(conv.id, "user", "the content")
    vault.settings.set("theme", "dark")
    vault.close()
    before = _sealed_cells(home)
    with raw_db(home) as conn:
        old_wrap = conn.execute("SELECT pass_wrap, recovery_wrap FROM header").fetchone()
    with Vault.unlock(home, PASSPHRASE) as v:
        with pytest.raises(WrongPassphrase):
            v.change_passphrase("wrong old", "new passphrase")
        v.change_passphrase(PASSPHRASE, "new passphrase")
    after = _sealed_cells(home)
    # Every data ciphertext is byte-identical; only audit rows were added (unlock, passwd).
    assert {k: v for k, v in after.items() if k in before} == before
    assert {k[0] for k in after.keys() - before.keys()} == {"audit"}
    with raw_db(home) as conn:
        new_wrap = conn.execute("SELECT pass_wrap, recovery_wrap FROM header").fetchone()
    assert new_wrap[0] != old_wrap[0] and new_wrap[1] == old_wrap[1]
    with pytest.raises(WrongPassphrase):
        Vault.unlock(home, PASSPHRASE)
    with Vault.unlock(home, "new passphrase") as v:
        assert v.conversations.messages(conv.id)[0].content == "the content"


def test_passphrase_change_is_one_transaction(vault: Vault, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Fail after the new wrap is written but before the transaction commits.
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("crash mid-change")

    monkeypatch.setattr(vault.audit, "append_in", boom)
    with pytest.raises(RuntimeError):
        vault.change_passphrase(PASSPHRASE, "new passphrase")
    vault.close()
    with pytest.raises(WrongPassphrase):
        Vault.unlock(home, "new passphrase")
    Vault.unlock(home, PASSPHRASE).close()


def test_recovery_key_recovers_and_only_it(made: tuple[Vault, str], home: Path) -> None:
    vault, recovery = made
    conv = vault.conversations.create("kept")
    vault.close()
    with pytest.raises(WrongRecoveryKey, match="wrong recovery key"):
        Vault.unlock_with_recovery(home, "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA", "x")
    with pytest.raises(UserError, match="not a recovery key"):
        Vault.unlock_with_recovery(home, "hunter2", "x")
    # Typed in lower case with spaces instead of dashes still works.
    sloppy = recovery.lower().replace("-", " ")
    with Vault.unlock_with_recovery(home, sloppy, "brand new") as v:
        assert v.conversations.get(conv.id).title == "kept"
        assert [e.event for e in v.audit.entries()][-1] == "recover"
    with pytest.raises(WrongPassphrase):
        Vault.unlock(home, PASSPHRASE)
    Vault.unlock(home, "brand new").close()


def test_swapped_header_kcv_is_an_integrity_error(vault: Vault, home: Path) -> None:
    vault.close()
    with raw_db(home) as conn:
        conn.execute("UPDATE header SET kcv = ?", [b"\x00" * 16])
    with pytest.raises(IntegrityError, match="key-check"):
        Vault.unlock(home, PASSPHRASE)


def test_second_open_in_same_process_is_refused(vault: Vault, home: Path) -> None:
    import os

    with pytest.raises(VaultInUse, match=f"vault is in use by PID {os.getpid()}") as info:
        Vault.unlock(home, PASSPHRASE)
    assert info.value.exit_code == 3


def test_second_process_gets_vault_in_use(vault: Vault, home: Path) -> None:
    vault.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD],
        env=sub_env(home),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "READY"
        with pytest.raises(VaultInUse, match=f"^vault is in use by PID {holder.pid}$"):
            Vault.unlock(home, PASSPHRASE)
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    Vault.unlock(home, PASSPHRASE).close()  # released when the holder exited


_HOLD = f"""
import sys
from pathlib import Path
from engine.vault import Vault
import os
v = Vault.unlock(Path(os.environ["ENCLAVE_HOME"]), {PASSPHRASE!r})
print("READY", flush=True)
sys.stdin.readline()
v.close()
"""


def test_lock_drops_keys_and_resume_restores(vault: Vault) -> None:
    conv = vault.conversations.create("t")
    vault.conversations.search("t")
    used = vault.last_used
    vault.lock()
    assert vault.is_locked
    with pytest.raises(VaultLockedError, match="vault is locked") as info:
        vault.conversations.list()
    assert info.value.exit_code == 3
    with pytest.raises(VaultLockedError):
        vault.settings.get("x")
    with pytest.raises(WrongPassphrase):
        vault.resume("wrong")
    vault.resume(PASSPHRASE)
    assert not vault.is_locked
    assert vault.conversations.get(conv.id).title == "t"
    assert vault.last_used >= used


def test_lock_zeroes_the_master_key_buffer(vault: Vault) -> None:
    master = vault._store.master  # the bytearray itself
    assert any(master)
    vault.lock()
    assert not any(master)


def test_vault_is_callable_from_many_threads(vault: Vault) -> None:
    conv = vault.conversations.create("threads")
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                vault.conversations.add_message(conv.id, "user", f"{n}-{i}")
                vault.settings.set(f"k{n}", i)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    messages = vault.conversations.messages(conv.id)
    assert len(messages) == 60 and [m.seq for m in messages] == list(range(1, 61))


def test_schedule_runs_on_the_vault_thread_where_vault_calls_need_no_second_hand_over(vault: Vault) -> None:
    ran_on: list[int] = []

    def checks() -> object:
        ran_on.append(threading.get_ident())
        vault.settings.set("checked", 1)  # queued behind `checks` itself, this would never run
        return vault.settings.get("checked")

    assert vault.schedule(checks).result(timeout=10) == 1
    assert ran_on == [vault._store._thread_id] and ran_on[0] != threading.get_ident()


def test_schedule_reports_errors_and_a_locked_or_closed_vault(vault: Vault) -> None:
    with pytest.raises(NotFoundError):
        vault.schedule(lambda: vault.api_keys.get("nobody")).result(timeout=10)
    vault.lock()
    with pytest.raises(VaultLockedError):
        vault.schedule(lambda: vault.settings.get("anything")).result(timeout=10)
    vault.close()
    with pytest.raises(VaultLockedError):
        vault.schedule(lambda: None)


def test_keys_and_passphrases_never_reach_a_log(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    vault, recovery = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    vault.change_passphrase(PASSPHRASE, "second secret phrase")
    master_hex = bytes(vault._store.master).hex()
    vault.close()
    Vault.unlock_with_recovery(home, recovery, "third secret phrase").close()
    with pytest.raises(WrongPassphrase):
        Vault.unlock(home, "fourth secret phrase")
    Vault.unlock(home, "third secret phrase").close()
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records, "the vault logs something, so this test can see a leak"
    for secret in (PASSPHRASE, "second secret", "third secret", "fourth secret", recovery, master_hex):
        assert secret not in text


def test_disable_core_dumps_in_a_child_process() -> None:
    code = "from engine.vault.hardening import disable_core_dumps; import resource; "
    code += "print(disable_core_dumps(), resource.getrlimit(resource.RLIMIT_CORE))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True (0, 0)"
