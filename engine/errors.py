"""The error classes every front-end maps to a message and an exit code.

A user error carries one clear sentence meant for a person; front-ends print `str(error)` and never a
traceback. The exit codes are the CLI contract in ARCHITECTURE.md.
"""

from __future__ import annotations


class EnclaveError(Exception):
    """Base of all errors that are shown to a person as one line."""

    exit_code = 1


class UserError(EnclaveError):
    """Bad input from the person or the client: a wrong name, a bad file, a wrong passphrase."""

    exit_code = 1


class NotFoundError(UserError):
    """A named thing (model, conversation, key) does not exist."""


class PermissionDenied(UserError):
    """The actor (an API key) may not do this: its rules do not grant it."""


class IntegrityError(EnclaveError):
    """Tampering or corruption was detected (a hash, MAC or AEAD tag did not match)."""

    exit_code = 2


class VaultLockedError(EnclaveError):
    """The vault is locked, or in use by another process."""

    exit_code = 3
