"""SIGKILL at random moments while writing never loses an acknowledged message or breaks the vault."""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from engine.vault import FLOOR, Vault
from engine.vault.header import read_header, unwrap_with_passphrase
from engine.vault.lockfile import VaultLock
from tests.vault.conftest import PASSPHRASE, ROOT, sub_env

LOOPS = int(os.environ.get("ENCLAVE_KILL9_LOOPS", "200"))


def _reopen(home: Path, master: bytearray, *, full: bool) -> Vault:
    # A full unlock runs Argon2 (60 ms); most loops reopen with the known master key instead, which still
    # takes the lock, recovers the WAL, runs migrations and checks the key-check value.
    if full:
        return Vault.unlock(home, PASSPHRASE)
    return Vault._open(home, VaultLock.acquire(home), bytearray(master))


@pytest.mark.slow
def test_kill_dash_nine_never_loses_an_acknowledged_commit(home: Path) -> None:
    vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
    conv_id = vault.conversations.create("crash test").id
    vault.close()

    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("kill9_child.py")), str(home), PASSPHRASE, conv_id],
        cwd=ROOT,
        env=sub_env(home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stdout = child.stdout
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in stdout], daemon=True).start()

    master = unwrap_with_passphrase(read_header(home / "vault.db"), PASSPHRASE)
    rng = random.Random(int(os.environ.get("ENCLAVE_KILL9_SEED", "9")))
    acked: set[str] = set()
    loops_with_acks = 0
    try:
        for loop in range(LOOPS):
            child.stdin.write("go\n")
            child.stdin.flush()
            first = lines.get(timeout=30)
            assert first.startswith("CHILD "), first
            pid = int(first.split()[1])
            new = 0
            if rng.random() < 0.25:
                # During unlock: Argon2, opening, the audit append.
                time.sleep(rng.uniform(0.0, 0.12))
            else:
                # In a run of writes: after a few acknowledgements, at a random point of the next commit.
                for _ in range(rng.randint(1, 6)):
                    line = lines.get(timeout=30)
                    assert line.startswith("ACK "), f"loop {loop}: writer failed: {line}"
                    acked.add(line.split()[1])
                    new += 1
                time.sleep(rng.uniform(0.0, 0.006))
            os.kill(pid, signal.SIGKILL)
            while (line := lines.get(timeout=30)) != "DEAD":
                assert line.startswith("ACK "), f"loop {loop}: writer failed: {line}"
                acked.add(line.split()[1])
                new += 1
            loops_with_acks += new > 0

            with _reopen(home, master, full=loop % 20 == 0) as v:
                assert v.run_raw(lambda db: db.execute("PRAGMA integrity_check").fetchall()) == [("ok",)]
                stored = {m.id for m in v.conversations.messages(conv_id)}  # every one decrypts
                missing = acked - stored
                assert not missing, f"loop {loop}: acknowledged messages lost: {sorted(missing)[:3]}"
    finally:
        child.stdin.close()
        child.wait(timeout=30)

    with Vault.unlock(home, PASSPHRASE) as v:
        assert v.check() == []
        v.audit.verify()
    assert loops_with_acks >= LOOPS // 2, "most kills landed before any write; the test proved little"
    assert len(acked) > LOOPS
    db = Database(home / "vault.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
