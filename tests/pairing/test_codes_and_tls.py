"""Pairing codes and the appliance's certificate, without a server."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest
from cryptography import x509

from engine.cli import main
from engine.errors import UserError
from engine.pairing import tls
from engine.pairing.code import PairingCode, decode

FINGERPRINT = ":".join(["AB"] * 32)
CODE = PairingCode("https://gpu.example.org:8765", FINGERPRINT, "enc-abc-" + "k" * 43, "gpu", "alice-laptop")


def test_a_code_round_trips_and_survives_line_breaks_and_case() -> None:
    text = CODE.encode()
    assert text.startswith("EP2-") and text.replace("-", "").isalnum()  # QR alphanumeric mode
    wrapped = "  " + "\n".join(text[i : i + 40] for i in range(0, len(text), 40)).lower() + "\n"
    assert decode(text) == decode(wrapped) == CODE
    assert decode(text).secret == CODE.secret and decode(text).one_time
    assert CODE.secret not in repr(decode(text))


def test_a_version_1_code_is_still_read_and_a_newer_one_is_refused_clearly() -> None:
    old = PairingCode(CODE.url, FINGERPRINT, CODE.secret, "gpu", "alice-laptop", version=1)
    text = old.encode()
    assert text.startswith("EP1-") and decode(text) == old and not decode(text).one_time
    with pytest.raises(UserError, match="newer Enclave"):
        decode("EP3-" + text[4:])
    # A version byte that does not match the prefix is a damaged code, not a silent downgrade.
    with pytest.raises(UserError, match="version 1"):
        decode("EP2-" + text[4:])


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda t: t[:-5], "incomplete or mistyped"),
        (lambda t: t[:30] + ("A" if t[30] != "A" else "B") + t[31:], "incomplete or mistyped"),
        (lambda t: t.replace("EP2-", "XX2-"), "not an Enclave pairing code"),
        (lambda t: t + "!", "characters a code never has"),
        (lambda t: t * 20, "far too long"),
    ],
)
def test_a_damaged_code_gets_one_clear_message(mangle, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserError, match=message):
        decode(mangle(CODE.encode()))


def test_a_code_for_plain_http_is_refused() -> None:
    with pytest.raises(UserError, match="always uses TLS"):
        decode(PairingCode("http://gpu:8765", FINGERPRINT, "k", "gpu", "a").encode())


def test_auto_certificate_is_made_once_with_the_right_names(tmp_path: Path) -> None:
    files, made = tls.ensure_auto("10.1.2.3", tmp_path)
    again, made_again = tls.ensure_auto("10.1.2.3", tmp_path)
    assert made and not made_again and again.fingerprint == files.fingerprint
    assert files.key.stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", socket.gethostname()} <= set(san.get_values_for_type(x509.DNSName))
    ips = set(san.get_values_for_type(x509.IPAddress))
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.1.2.3")} <= ips
    assert files.fingerprint.count(":") == 31


def test_serve_refuses_a_key_that_is_not_the_certificates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert_a, _ = tls.make_self_signed(["localhost"])
    _, key_b = tls.make_self_signed(["localhost"])
    (tmp_path / "a.crt").write_bytes(cert_a)
    (tmp_path / "b.key").write_bytes(key_b)
    code = main(["serve", "--tls-cert", str(tmp_path / "a.crt"), "--tls-key", str(tmp_path / "b.key")])
    assert code == 1
    assert "does not belong to the certificate" in capsys.readouterr().err
    assert main(["serve", "--tls", "auto", "--tls-cert", str(tmp_path / "a.crt")]) == 1
    assert "not both" in capsys.readouterr().err
