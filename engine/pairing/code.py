"""Pairing codes: the appliance's URL, certificate fingerprint and a one-time token, as one line of text.

`EP2-` then base32 (upper-case letters and digits, which a QR code stores in its compact alphanumeric
mode) of: a version byte, the 32-byte SHA-256 fingerprint, four length-prefixed UTF-8 strings (URL,
secret, the appliance's name, the device's name), and the first 4 bytes of a SHA-256 over all of that.
The checksum catches a code cut short or mistyped before anything is contacted.

Version 2 (`EP2-`): the secret is a one-time pairing token, redeemed once over the pinned TLS
connection for the device's API key (`POST /v1/pair/redeem`), so a code seen later is worth nothing.
Version 1 (`EP1-`, made by appliances before the redeem endpoint) carried the API key itself; such
codes are still read: refusing them would only strand a desktop paired with an older appliance, and
whether an old code is reusable is decided by the appliance that made it, not by the reader.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field

import httpx

from engine.errors import UserError
from engine.pairing.tls import format_fingerprint, parse_fingerprint

PREFIX = "EP2-"
VERSION = 2
VERSIONS = {1: "EP1-", 2: "EP2-"}  # the versions this Enclave reads, and each one's prefix
CHECKSUM_BYTES = 4
MAX_CODE_CHARS = 2048  # what a person pastes is bounded before it is decoded
_JUNK = re.compile(r"[\s-]+")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
INCOMPLETE = "the pairing code is incomplete or mistyped (its checksum does not match); copy it again"


@dataclass(frozen=True)
class PairingCode:
    """What a pairing code carries; `secret` stays out of reprs (and so out of logs)."""

    url: str  # https://host:port, the appliance's base URL (without /v1)
    fingerprint: str  # AB:CD:… (SHA-256 of the certificate)
    secret: str = field(repr=False)  # version 2: the one-time pairing token; version 1: the API key
    server: str  # the appliance's own name for itself, as a suggestion for the desktop's name
    device: str  # the name the appliance gave this pairing (its API key's name)
    version: int = VERSION

    @property
    def one_time(self) -> bool:
        """True when the secret is a pairing token to redeem (version 2), not the key itself."""
        return self.version >= 2

    def encode(self) -> str:
        """The code as text."""
        body = bytes([self.version]) + parse_fingerprint(self.fingerprint)
        for text in (self.url, self.secret, self.server, self.device):
            raw = text.encode()
            if len(raw) > 255:
                raise UserError("a pairing code field is longer than 255 bytes")
            body += bytes([len(raw)]) + raw
        body += hashlib.sha256(body).digest()[:CHECKSUM_BYTES]
        return VERSIONS[self.version] + base64.b32encode(body).decode().rstrip("=")


def _strings(data: bytes, count: int) -> list[str]:
    out, at = [], 0
    for _ in range(count):
        if at >= len(data) or at + 1 + data[at] > len(data):
            raise ValueError("truncated")
        size = data[at]
        out.append(data[at + 1 : at + 1 + size].decode())
        at += 1 + size
    if at != len(data):
        raise ValueError("trailing bytes")
    return out


def decode(text: str) -> PairingCode:
    """Read a pairing code (spaces, line breaks and dashes inside it are ignored); UserError if it is bad."""
    if len(text) > MAX_CODE_CHARS:
        raise UserError("that is not a pairing code: it is far too long")
    cleaned = text.strip().upper()
    prefix = next((p for p in VERSIONS.values() if cleaned.startswith(p.rstrip("-"))), None)
    if prefix is None:
        if re.match(r"EP\d+", cleaned):
            raise UserError("this pairing code was made by a newer Enclave than this one: update Enclave")
        raise UserError(f"that is not an Enclave pairing code (it should start with {PREFIX})")
    letters = _JUNK.sub("", cleaned[len(prefix) - 1 :])
    try:
        raw = base64.b32decode(letters + "=" * (-len(letters) % 8))
    except ValueError:
        if set(letters) <= set(_ALPHABET):  # only the length is wrong: a code cut short
            raise UserError(INCOMPLETE) from None
        raise UserError("the pairing code is damaged: it holds characters a code never has") from None
    body, checksum = raw[:-CHECKSUM_BYTES], raw[-CHECKSUM_BYTES:]
    if len(body) < 34 or hashlib.sha256(body).digest()[:CHECKSUM_BYTES] != checksum:
        raise UserError(INCOMPLETE)
    if VERSIONS.get(body[0]) != prefix:
        raise UserError(f"this pairing code has version {body[0]}; this Enclave reads versions 1 and 2: update it")
    try:
        url, secret, server, device = _strings(body[33:], 4)
    except (ValueError, UnicodeDecodeError):
        raise UserError("the pairing code is damaged (its fields do not add up)") from None
    code = PairingCode(check_url(url), format_fingerprint(body[1:33]), secret, server, device, body[0])
    if not secret or any(c.isspace() for c in secret):
        raise UserError("the pairing code holds no usable key")
    return code


def check_url(url: str) -> str:
    """`url` as a paired server's base URL: https, a host, no credentials, query or path past /v1."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise UserError(f"invalid server URL {url!r}") from None
    if parsed.scheme != "https" or not parsed.host:
        raise UserError("a paired server's URL must look like https://host:port (pairing always uses TLS)")
    if parsed.userinfo or parsed.query or parsed.fragment:
        raise UserError("a paired server's URL takes no credentials, query string or fragment")
    path = parsed.path.rstrip("/")
    if path not in ("", "/v1"):
        raise UserError("a paired server's URL is only https://host:port")
    return str(parsed.copy_with(path="/")).rstrip("/")
