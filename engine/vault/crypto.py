"""Primitives of the key hierarchy and the AEAD envelope every stored value is sealed in.

Envelope (version 1): 1 byte version | 16 bytes key id | 12 bytes nonce | AES-256-GCM ciphertext + tag.
Associated data binds `table|column|row_id|key_id`, so a ciphertext moved to another row, column or
table, or re-labelled with another key id, fails authentication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.vault.errors import RecordTampered

ENVELOPE_VERSION = 1
KEY_LEN = 32
NONCE_LEN = 12
KEY_ID_LEN = 16
HEADER_LEN = 1 + KEY_ID_LEN + NONCE_LEN
TAG_LEN = 16
# Fixed ids for the keys above the data keys; data keys get random ids.
PASSPHRASE_KEY_ID = "00000000000000000000000000000001"
RECOVERY_KEY_ID = "00000000000000000000000000000002"
MASTER_KEY_ID = "00000000000000000000000000000003"
RECOVERY_KEY_BYTES = 25  # 200 bits -> 40 base32 characters -> 8 groups of 5


class Tampered(Exception):
    """Internal: authentication failed; callers turn it into a RecordTampered naming the row."""


def new_id() -> str:
    """A random row or key id (128 bits, hex)."""
    return secrets.token_hex(16)


def new_key() -> bytearray:
    """A fresh random 256-bit key, in a bytearray so it can be zeroed later."""
    return bytearray(secrets.token_bytes(KEY_LEN))


def zero(buffer: bytearray) -> None:
    """Overwrite key material in place (best effort: Python may hold other copies)."""
    for i in range(len(buffer)):
        buffer[i] = 0


def associated_data(table: str, column: str, row_id: str, key_id: str) -> bytes:
    """The associated data that binds a ciphertext to its place."""
    return f"{table}|{column}|{row_id}|{key_id}".encode()


def seal(aead: AESGCM, key_id: str, ad: bytes, plaintext: bytes) -> bytes:
    """Encrypt `plaintext` into a version-1 envelope under a fresh random nonce."""
    nonce = secrets.token_bytes(NONCE_LEN)
    return bytes([ENVELOPE_VERSION]) + bytes.fromhex(key_id) + nonce + aead.encrypt(nonce, plaintext, ad)


def envelope_key_id(blob: object) -> str:
    """The key id an envelope names; Tampered if it is not an envelope at all."""
    if not isinstance(blob, bytes) or len(blob) < HEADER_LEN + TAG_LEN or blob[0] != ENVELOPE_VERSION:
        raise Tampered
    return blob[1 : 1 + KEY_ID_LEN].hex()


def unseal(aead: AESGCM, blob: bytes, ad: bytes) -> bytes:
    """Decrypt an envelope; Tampered on any failure (the caller names the record)."""
    envelope_key_id(blob)
    nonce = blob[1 + KEY_ID_LEN : HEADER_LEN]
    try:
        return aead.decrypt(nonce, blob[HEADER_LEN:], ad)
    except InvalidTag:
        raise Tampered from None


def unseal_record(aead: AESGCM, blob: bytes, ad: bytes, table: str, row_id: str) -> bytes:
    """Decrypt an envelope or raise RecordTampered for this table and row."""
    try:
        return unseal(aead, blob, ad)
    except Tampered:
        raise RecordTampered(table, row_id) from None


def hkdf(master: bytes | bytearray, info: str, salt: bytes | None = None) -> bytes:
    """A sub-key of `master` for one purpose (domain separation through `info`)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=salt, info=info.encode()).derive(bytes(master))


def key_check_value(master: bytes | bytearray) -> bytes:
    """A value that proves which master key a header belongs to without revealing it."""
    return hmac.new(bytes(master), b"enclave key check v1", hashlib.sha256).digest()[:16]


def new_recovery_key() -> tuple[bytes, str]:
    """Random recovery key bytes and their human-writable form (8 groups of 5 base32 characters)."""
    raw = secrets.token_bytes(RECOVERY_KEY_BYTES)
    text = base64.b32encode(raw).decode()
    return raw, "-".join(text[i : i + 5] for i in range(0, len(text), 5))


def parse_recovery_key(text: str) -> bytes | None:
    """Bytes of a recovery key as a person typed it (dashes, spaces and case ignored); None if malformed."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    try:
        raw = base64.b32decode(cleaned)
    except ValueError:  # binascii.Error is a ValueError
        return None
    return raw if len(raw) == RECOVERY_KEY_BYTES else None
