"""sqlite-utils, imported once for the whole engine without pandas.

sqlite-utils imports pandas whenever it is installed (only to store pandas timestamps as text, which
Enclave never does), and pandas takes 0.1-0.2 s to import: every `enclave` command, the app and the
server paid it on opening the vault. Every engine module imports `Database` and `Migrations` from here,
so the first import, whichever module makes it, is this one. pandas itself stays importable afterwards.
"""

from __future__ import annotations

import sys


def _import_without_pandas() -> None:
    if "sqlite_utils.db" in sys.modules or "pandas" in sys.modules:
        return  # already imported (pandas or not): nothing to save
    sys.modules["pandas"] = None  # type: ignore[assignment]  # `import pandas` now raises ImportError
    try:
        import sqlite_utils.db  # noqa: F401
    finally:
        del sys.modules["pandas"]


_import_without_pandas()

from sqlite_utils import Database  # noqa: E402
from sqlite_utils.migrations import Migrations  # noqa: E402

__all__ = ["Database", "Migrations"]
