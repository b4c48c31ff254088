"""Helper process for test_kill9: imports the vault once, then forks one writer per line on stdin.

Each writer unlocks the vault and appends messages forever, printing `ACK <id>` after each commit
returns; the test kills it with SIGKILL. Forking from an imported parent keeps each loop cheap.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlite_utils import Database

from engine.vault import Vault


def writer(home: Path, passphrase: str, conv_id: str, out: int) -> None:
    """Append messages until killed."""
    vault = Vault.unlock(home, passphrase)
    i = 0
    while True:
        message = vault.conversations.add_message(
            conv_id, "user", f"pid {os.getpid()} message {i} " + "z" * (i % 7) * 300
        )
        os.write(out, f"ACK {message.id}\n".encode())
        i += 1


def main() -> None:
    """Fork a writer per request; report its PID and its death."""
    home, passphrase, conv_id = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    out = sys.stdout.fileno()
    # Load sqlite-utils' plugins once here, so each forked writer starts writing sooner.
    Database(memory=True).close()
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                writer(home, passphrase, conv_id, out)
            except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
                os.write(out, f"ERR {exc!r}\n".encode())
            finally:
                os._exit(1)
        os.write(out, f"CHILD {pid}\n".encode())
        os.waitpid(pid, 0)
        os.write(out, b"DEAD\n")


if __name__ == "__main__":
    main()
