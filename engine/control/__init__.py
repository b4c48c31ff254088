"""The admin control channel: the CLI reaches a running `enclave serve` of the same data folder.

The vault has one writer, and a headless appliance's writer is its server; `enclave pair create /
list / revoke` and `enclave keys create / list / revoke` would otherwise need the service stopped.
The server listens on a Unix domain socket in the data folder (`admin.sock`, mode 0600, never a TCP
port); a command that finds the vault in use sends its operation there instead, with the vault
passphrase, and the server runs it on its own engine (on the vault's thread), audited as `cli` with
the peer's uid and pid. `wire` frames messages (bounded sizes and timeouts), `ops` are the operations
(the same code runs in-process when no server holds the vault), `server` and `client` the two ends.
Where AF_UNIX or peer credentials are missing (Windows), there is no channel: the command says the
vault is in use, as before.
"""

from __future__ import annotations

from pathlib import Path

SOCKET_NAME = "admin.sock"


def socket_path(home: Path) -> Path:
    """Where the server of data folder `home` listens."""
    return home / SOCKET_NAME
