"""Pairing end to end on the command line: a real appliance (`enclave serve --tls auto`) and a desktop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.pairing.client import CertificateChanged, KeyRefused, RemoteUnreachable
from engine.pairing.code import decode
from engine.pairing.remotes import list_remotes
from engine.runtime.types import CancelToken, GenerationParams
from engine.vault import Vault
from tests.pairing.conftest import PASSPHRASE, Appliance, cli


def list_remotes_of(desktop: Path):  # type: ignore[no-untyped-def]
    """Every paired server the desktop keeps."""
    with Vault.unlock(desktop, PASSPHRASE) as vault:
        return list_remotes(vault)


def remote_of(desktop: Path, name: str = "hospital-gpu"):  # type: ignore[no-untyped-def]
    """The stored definition of a paired server (read from the desktop's vault)."""
    with Vault.unlock(desktop, PASSPHRASE) as vault:
        return next(r for r in list_remotes(vault) if r.name == name)


def test_pair_and_add_stores_the_pin_and_key_encrypted(
    appliance: Appliance, desktop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = appliance.pair("alice-laptop", capsys)
    status, _, err = cli(desktop, "remote", "add", "hospital-gpu", code, capsys=capsys)
    assert status == 0, err
    assert "pinned" in err and "hospital-gpu/tiny" in err
    status, out, _ = cli(desktop, "remote", "list", "--json", "--check", capsys=capsys)
    listed = json.loads(out)
    assert status == 0 and listed[0]["models"] == ["hospital-gpu/tiny"] and listed[0]["device"] == "alice-laptop"
    remote = remote_of(desktop)
    assert remote.url == appliance.url and remote.fingerprint == _fingerprint_line(appliance)
    # The key, the certificate and the URL are nowhere on the desktop's disk in clear.
    on_disk = b"".join(p.read_bytes() for p in desktop.rglob("*") if p.is_file())
    assert remote.api_key.encode() not in on_disk and appliance.url.encode() not in on_disk
    # The code carried a one-time token, not the key the desktop now holds.
    assert decode(code).secret != remote.api_key and decode(code).one_time
    # While the server runs, `pair list` asks it over its admin channel.
    status, out, _ = cli(appliance.home, "pair", "list", "--json", capsys=capsys)
    assert status == 0
    pairing = next(p for p in json.loads(out) if p["name"] == "alice-laptop")
    assert pairing["state"] == "active" and pairing["active"] and pairing["log_content"] is False
    assert pairing["redeemed_at"]
    appliance.stop()
    appliance.start()
    # `serve --tls auto` printed the fingerprint the desktop pinned.
    assert f"TLS certificate SHA-256 fingerprint: {remote.fingerprint}" in appliance.log


def _fingerprint_line(appliance: Appliance) -> str:
    from engine.pairing.tls import auto_files

    return auto_files(appliance.home).fingerprint


def test_a_second_add_with_the_same_name_or_a_bad_code_is_refused(
    appliance: Appliance, desktop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = appliance.pair("bob-laptop", capsys)
    assert cli(desktop, "remote", "add", "gpu", code[:-4], capsys=capsys)[0] == 1
    assert cli(desktop, "remote", "add", "gpu", code, capsys=capsys)[0] == 0
    status, _, err = cli(desktop, "remote", "add", "gpu", code, capsys=capsys)
    assert status == 1 and "already added" in err and "Traceback" not in err
    # One-time: the same code, used again under another name (or on another desktop), is refused.
    status, _, err = cli(desktop, "remote", "add", "gpu-again", code, capsys=capsys)
    assert status == 1 and "this pairing code was already used" in err and "Traceback" not in err
    assert [r.name for r in list_remotes_of(desktop)] == ["gpu"]


def test_a_swapped_certificate_is_refused_naming_both_fingerprints(
    appliance: Appliance, desktop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = appliance.pair("carol-laptop", capsys)
    assert cli(desktop, "remote", "add", "hospital-gpu", code, capsys=capsys)[0] == 0
    pinned = remote_of(desktop)
    appliance.stop()
    appliance.swap_certificate()
    try:
        appliance.start()  # --tls auto makes a new certificate: not the pinned one
        presented = _fingerprint_line(appliance)
        assert presented != pinned.fingerprint
        with pinned.client() as client, pytest.raises(CertificateChanged) as refused:
            client.models()
        assert pinned.fingerprint in str(refused.value) and presented in str(refused.value)
        # A code naming the old certificate does not pair with the new one either.
        status, _, err = cli(desktop, "remote", "add", "other", code, capsys=capsys)
        assert status == 2 and presented in err and pinned.fingerprint in err
        status, out, _ = cli(desktop, "remote", "list", "--check", capsys=capsys)
        assert status == 2 and "refused" in out
    finally:
        appliance.stop()
        appliance.restore_certificate()
        appliance.start()
    with pinned.client() as client:
        assert client.models() == ["tiny"]


def test_a_revoked_pairing_ends_access_with_a_clear_message(
    appliance: Appliance, desktop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = appliance.pair("dave-laptop", capsys)
    assert cli(desktop, "remote", "add", "hospital-gpu", code, capsys=capsys)[0] == 0
    remote = remote_of(desktop)
    with remote.client() as client:
        assert client.models() == ["tiny"]  # the key is in use
    # Revoked while the server runs (over its admin channel): the very next request is refused.
    status, _, err = cli(appliance.home, "pair", "revoke", "dave-laptop", capsys=capsys)
    assert status == 0, err
    with remote.client() as client, pytest.raises(KeyRefused, match="revoked"):
        list(client.chat([{"role": "user", "content": "hi"}], GenerationParams(max_tokens=2), "tiny", CancelToken()))
    status, _, err = cli(appliance.home, "pair", "revoke", "nobody", capsys=capsys)
    assert status == 1 and "no paired device named 'nobody'" in err and "Traceback" not in err
    status, _, err = cli(appliance.home, "pair", "revoke", "dave-laptop", capsys=capsys)
    assert status == 1 and "already revoked" in err


def test_the_appliance_down_is_a_clear_message(
    appliance: Appliance, desktop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = appliance.pair("erin-laptop", capsys)
    assert cli(desktop, "remote", "add", "hospital-gpu", code, capsys=capsys)[0] == 0
    remote = remote_of(desktop)
    appliance.stop()
    try:
        with remote.client() as client, pytest.raises(RemoteUnreachable, match="cannot be reached.*refused"):
            client.models()
        status, _, err = cli(desktop, "remote", "add", "again", code, capsys=capsys)
        assert status == 1 and "cannot reach" in err
    finally:
        appliance.start()
    with remote.client() as client:
        assert client.models() == ["tiny"]  # back up: the same pairing works again


def test_the_server_answers_to_the_name_its_codes_give(
    appliance: Appliance, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx

    from engine.pairing.client import pinned_context
    from engine.pairing.tls import auto_files

    # Created while serving: the running server learns the new name at once.
    code = decode(appliance.pair("henry-laptop", capsys, "--url", f"https://gpu.example.org:{appliance.port}"))
    assert code.url == f"https://gpu.example.org:{appliance.port}"
    verify = pinned_context(auto_files(appliance.home).cert.read_text())

    def redeem(host: str) -> httpx.Response:
        return httpx.post(f"{appliance.url}/v1/pair/redeem", json={"token": code.secret},
                          headers={"Host": f"{host}:{appliance.port}"}, verify=verify, timeout=10)

    assert redeem("rebind.attacker.example").status_code == 403  # any other name is still refused
    answer = redeem("gpu.example.org")  # the name in the code: added to the allowed Host names
    assert answer.status_code == 200 and answer.json()["device"] == "henry-laptop"
    headers = {"Host": f"gpu.example.org:{appliance.port}", "Authorization": f"Bearer {answer.json()['api_key']}"}
    assert httpx.get(f"{appliance.url}/v1/models", headers=headers, verify=verify, timeout=10).status_code == 200
