"""Dialogs: first-run wizard, unlock and recovery, passphrase change, confirmations, settings."""
