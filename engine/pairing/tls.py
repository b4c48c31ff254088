"""The appliance's TLS certificate: made once (self-signed) or the admin's own, and its SHA-256 fingerprint.

A paired desktop does not trust a certificate authority for the appliance: it pins the fingerprint it
was given in the pairing code, so a self-signed certificate is as good as a bought one here, and far
easier to run on a hospital's or a firm's internal network. The key file is written 0600, whole or not
at all, and never rewritten: a new certificate would cut every paired desktop off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from engine.errors import UserError
from engine.fileio import write_atomic
from engine.paths import enclave_home

TLS_DIR = "tls"
CERT_NAME = "server.crt"
KEY_NAME = "server.key"
VALID_DAYS = 3650  # pinned, not CA-checked: expiry would only cut paired desktops off
MAX_PEM_BYTES = 256 * 1024


@dataclass(frozen=True)
class TlsFiles:
    """A certificate and its private key, both PEM files, as uvicorn loads them."""

    cert: Path
    key: Path

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate (DER), as colon-separated upper-case hex."""
        return fingerprint_of_pem(self.cert.read_bytes())


def format_fingerprint(digest: bytes) -> str:
    """`AB:CD:…` from the 32 raw bytes of a SHA-256."""
    return ":".join(f"{b:02X}" for b in digest)


def parse_fingerprint(text: str) -> bytes:
    """The 32 bytes of a SHA-256 fingerprint written with or without colons; UserError otherwise."""
    cleaned = text.strip().replace(":", "").replace(" ", "")
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise UserError("a certificate fingerprint is 32 bytes of SHA-256, written in hex")
    return raw


def fingerprint_of_der(der: bytes) -> str:
    """The fingerprint of a DER certificate."""
    return format_fingerprint(hashlib.sha256(der).digest())


def fingerprint_of_pem(pem: bytes) -> str:
    """The fingerprint of the first certificate in a PEM file (UserError if there is none)."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise UserError("the certificate file holds no PEM certificate") from None
    return fingerprint_of_der(cert.public_bytes(serialization.Encoding.DER))


def default_names(bind_host: str | None = None) -> list[str]:
    """The names a self-signed certificate carries: the bind host, localhost, 127.0.0.1, the hostname."""
    names = ["localhost", "127.0.0.1", socket.gethostname()]
    if bind_host and bind_host not in ("0.0.0.0", "::"):  # a wildcard bind is no name a client uses
        names.insert(0, bind_host.strip("[]"))
    return list(dict.fromkeys(n for n in names if n))


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def make_self_signed(names: list[str], common_name: str = "Enclave appliance") -> tuple[bytes, bytes]:
    """A new P-256 key and a self-signed certificate for `names`, both PEM: (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # a client clock a little behind still accepts it
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def auto_files(home: Path | None = None) -> TlsFiles:
    """Where `--tls auto` keeps its certificate and key (they may not exist yet)."""
    folder = (home or enclave_home()) / TLS_DIR
    return TlsFiles(folder / CERT_NAME, folder / KEY_NAME)


def ensure_auto(bind_host: str | None = None, home: Path | None = None) -> tuple[TlsFiles, bool]:
    """The `--tls auto` files, made on first use and kept after; (files, True when made just now)."""
    files = auto_files(home)
    if files.cert.exists() and files.key.exists():
        return check_files(files.cert, files.key), False
    files.cert.parent.mkdir(mode=0o700, exist_ok=True)
    cert_pem, key_pem = make_self_signed(default_names(bind_host))
    write_atomic(files.key, key_pem, mode=0o600)  # the key first: a certificate alone is useless
    write_atomic(files.cert, cert_pem, mode=0o644)
    return files, True


def _read(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_PEM_BYTES:
            raise UserError(f"the TLS {what} file {path.name!r} is too large to be a PEM file")
        return path.read_bytes()
    except OSError:
        raise UserError(f"cannot read the TLS {what} file {str(path)!r}") from None


def check_files(cert: Path, key: Path) -> TlsFiles:
    """`TlsFiles(cert, key)` if the two are readable PEM files that belong together; UserError otherwise."""
    fingerprint_of_pem(_read(cert, "certificate"))  # a clear message for a file that is no certificate
    _read(key, "key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError:
        raise UserError("the TLS key does not belong to the certificate (or is encrypted or malformed)") from None
    return TlsFiles(cert, key)
