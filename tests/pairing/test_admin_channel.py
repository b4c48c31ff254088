"""The admin channel: `enclave pair …` / `enclave keys …` run while `enclave serve` holds the vault."""

from __future__ import annotations

import os
import socket
import stat
import struct
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from engine.control import socket_path
from engine.pairing.client import pinned_context
from engine.pairing.tls import auto_files
from engine.vault import Vault
from tests.pairing.conftest import PASSPHRASE, ROOT, SERVE, Appliance, cli


def enclave(home: Path, *argv: str, passphrase: str = PASSPHRASE) -> subprocess.CompletedProcess[str]:
    """`enclave ARGV` as its own process (as an admin would run it on the appliance)."""
    env = {**os.environ, "ENCLAVE_HOME": str(home), "ENCLAVE_PASSPHRASE": passphrase, "ENCLAVE_NO_DEMO": "1"}
    return subprocess.run([sys.executable, "-c", SERVE, *argv], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)


def verify(appliance: Appliance) -> object:
    """The TLS context trusting the appliance's certificate."""
    return pinned_context(auto_files(appliance.home).cert.read_text())


def models_status(appliance: Appliance, key: str) -> int:
    """GET /v1/models with `key`."""
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{appliance.url}/v1/models", headers=headers, verify=verify(appliance), timeout=10).status_code


def test_pair_create_and_revoke_while_serving(appliance: Appliance, desktop: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # `pair create` while serving prints a working code.
    made = enclave(appliance.home, "pair", "create", "--name", "ivan-laptop", "--url", appliance.url, "--no-qr")
    assert made.returncode == 0, made.stderr
    status, _, err = cli(desktop, "remote", "add", "hospital-gpu", made.stdout.strip(), capsys=capsys)
    assert status == 0, err
    with Vault.unlock(desktop, PASSPHRASE) as vault:
        from engine.pairing.remotes import list_remotes

        key = list_remotes(vault)[0].api_key
    assert models_status(appliance, key) == 200  # the paired key in use
    revoked = enclave(appliance.home, "pair", "revoke", "ivan-laptop")
    assert revoked.returncode == 0, revoked.stderr
    assert models_status(appliance, key) == 401  # the very next request
    # Keys too: created, used and revoked while serving.
    created = enclave(appliance.home, "keys", "create", "--name", "script", "--no-store")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert models_status(appliance, secret) == 200
    listed = enclave(appliance.home, "keys", "list", "--json")
    assert listed.returncode == 0 and '"script"' in listed.stdout and secret not in listed.stdout
    assert enclave(appliance.home, "keys", "revoke", "script").returncode == 0
    assert models_status(appliance, secret) == 401
    # The audit log names the channel, the operation and the peer.
    appliance.stop()
    try:
        with Vault.unlock(appliance.home, PASSPHRASE) as vault:
            entries = vault.audit.entries()
    finally:
        appliance.start()
    channel = [e for e in entries if e.event == "admin_channel"]
    assert {e.details["op"] for e in channel} >= {"pair.create", "pair.revoke", "keys.create", "keys.revoke"}
    assert all(e.actor == "cli" and e.details["uid"] == os.getuid() and e.details["pid"] > 0 for e in channel)
    assert any(e.event == "pair_revoke" and e.actor == "cli" and e.details["name"] == "ivan-laptop" for e in entries)
    assert any(e.event == "pair_redeem" and e.details["name"] == "ivan-laptop" for e in entries)


def test_a_wrong_passphrase_is_refused_and_audited(appliance: Appliance) -> None:
    done = enclave(appliance.home, "keys", "create", "--name", "sneaky", passphrase="not the passphrase")
    assert done.returncode == 1 and "wrong passphrase" in done.stderr and "Traceback" not in done.stderr
    listed = enclave(appliance.home, "keys", "list", "--json")
    assert listed.returncode == 0 and "sneaky" not in listed.stdout


def test_the_socket_is_owner_only_and_a_malformed_message_gets_a_clear_error(appliance: Appliance) -> None:
    path = socket_path(appliance.home)
    assert stat.S_ISSOCK(path.stat().st_mode) and stat.S_IMODE(path.stat().st_mode) == 0o600

    def exchange(raw: bytes) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(15)
            sock.connect(str(path))
            sock.sendall(raw)
            size = struct.unpack(">I", sock.recv(4))[0]
            return sock.recv(size).decode()

    assert "larger than" in exchange(struct.pack(">I", 10**9))  # refused before anything is read
    assert "not JSON" in exchange(struct.pack(">I", 5) + b"hello")
    assert "not a JSON object" in exchange(struct.pack(">I", 2) + b"[]")
    assert "needs op" in exchange(struct.pack(">I", 8) + b'{"v": 1}')
    assert "did not arrive in time" in exchange(struct.pack(">I", 100) + b"{")  # the rest never comes
    # The server keeps serving after all of that.
    assert enclave(appliance.home, "pair", "list").returncode == 0


def test_without_a_server_the_commands_open_the_vault_themselves(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from tests.pairing.conftest import make_home

    home = make_home(tmp_path / "idle", None)
    status, out, err = cli(home, "keys", "create", "--name", "local", capsys=capsys)
    assert status == 0 and out.strip(), err
    assert not socket_path(home).exists()


def test_a_socket_deep_in_the_file_system_is_still_reachable(tmp_path: Path) -> None:
    from engine.control import wire

    folder = tmp_path / ("d" * 60) / ("e" * 60)
    folder.mkdir(parents=True)
    path = folder / "admin.sock"
    assert len(str(path)) > 108  # longer than sockaddr_un holds
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        name, fd = wire.address(path)
        server.bind(name)
        os.close(fd)  # type: ignore[arg-type]
        server.listen(1)
        assert stat.S_ISSOCK(path.stat().st_mode)
        name, fd = wire.address(path)
        client.connect(name)
        os.close(fd)  # type: ignore[arg-type]
        conn, _ = server.accept()
        with conn:
            assert wire.peer(conn)[0] == os.getpid()
