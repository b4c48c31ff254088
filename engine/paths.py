"""Where Enclave keeps its data: one folder, `ENCLAVE_HOME`, resolved each time it is asked for.

Never a module global: tests and the appliance point `ENCLAVE_HOME` elsewhere at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "enclave"


def enclave_home() -> Path:
    """The data folder: `$ENCLAVE_HOME`, else the platform's per-user data folder. Created 0700."""
    override = os.environ.get("ENCLAVE_HOME")
    home = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def models_dir() -> Path:
    """Folder that holds imported GGUF files."""
    path = enclave_home() / "models"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def logs_dir() -> Path:
    """Folder for diagnostic logs (never content, keys or passphrases)."""
    path = enclave_home() / "logs"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
