"""`POST /v1/pair/redeem`: a pairing code's token is spent once, expires, and tries are rate-limited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from engine.pairing import appliance as pairing
from engine.pairing.code import decode
from engine.pairing.tls import auto_files
from engine.vault import FLOOR, Vault
from tests.pairing.conftest import PASSPHRASE, Appliance, cli

FINGERPRINT = ":".join(["AB"] * 32)


def post(server: Appliance, token: str) -> httpx.Response:
    """Redeem `token` at the appliance, as the desktop does (no API key)."""
    from engine.pairing.client import pinned_context

    verify = pinned_context(auto_files(server.home).cert.read_text())
    return httpx.post(f"{server.url}/v1/pair/redeem", json={"token": token}, verify=verify, timeout=10)


def test_the_desktop_says_a_used_code_was_used(appliance: Appliance, desktop: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from engine.pairing.client import PairingCodeRefused
    from engine.pairing.remotes import add_remote

    code = appliance.pair("carol-laptop", capsys)
    with Vault.unlock(desktop, PASSPHRASE) as vault:
        add_remote(vault, "gpu", code)
        with pytest.raises(PairingCodeRefused, match="this pairing code was already used") as refused:
            add_remote(vault, "gpu2", code)
    assert refused.value.reason == "used"


def test_a_code_is_redeemed_once(appliance: Appliance, capsys: pytest.CaptureFixture[str]) -> None:
    token = decode(appliance.pair("alice-laptop", capsys)).secret
    first = post(appliance, token)
    assert first.status_code == 200 and first.json()["device"] == "alice-laptop"
    again = post(appliance, token)
    assert again.status_code == 410 and again.json()["error"]["code"] == "pairing_code_used"
    assert "already used" in again.json()["error"]["message"] and first.json()["api_key"] not in again.text
    unknown = post(appliance, "x" * 43)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "pairing_code_unknown"
    # A code revoked before it was used cannot be redeemed either.
    token = decode(appliance.pair("bob-laptop", capsys)).secret
    assert cli(appliance.home, "pair", "revoke", "bob-laptop", capsys=capsys)[0] == 0
    revoked = post(appliance, token)
    assert revoked.status_code == 410 and revoked.json()["error"]["code"] == "pairing_code_revoked"
    # Malformed bodies get the API's usual 400.
    assert post(appliance, "").status_code == 400
    # Tries per client address are bounded (10 a minute): the last ones are refused before any lookup.
    codes = [post(appliance, "y" * 43).status_code for _ in range(8)]
    assert codes == sorted(codes) and codes[0] == 404 and codes[-2:] == [429, 429]


def test_an_unused_code_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = Vault.init(tmp_path, PASSPHRASE, kdf=FLOOR)[0]
    try:
        made, text = pairing.create_pairing(vault, "carol", url="https://gpu:8765", fingerprint=FINGERPRINT,
                                            expires_s=3600)
        assert made.state == "pending" and made.key is None
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        monkeypatch.setattr(pairing, "_now", lambda: later)
        with pytest.raises(pairing.RedeemRefused, match="expired") as refused:
            pairing.redeem_pairing(vault, decode(text).secret)
        assert refused.value.status == 410
        assert pairing.list_pairings(vault)[0].state == "expired"
        # The token is stored only as its hash.
        stored = vault.settings.get(pairing.SETTINGS_KEY)
        assert decode(text).secret not in str(stored) and pairing.token_hash(decode(text).secret) in str(stored)
        events = [e.event for e in vault.audit.entries()]
        assert "pair_create" in events and "pair_redeem_refused" in events
        with pytest.raises(Exception, match="between 1 minute and 30 days"):
            pairing.create_pairing(vault, "dan", url="https://gpu:8765", fingerprint=FINGERPRINT, expires_s=5)
    finally:
        vault.close()
