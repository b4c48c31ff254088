"""The installer smoke tests run only when asked for: `make package-test` (pytest -m package).

They need the .deb that `make package` builds (minutes of PyInstaller, and a llama.cpp build the
first time), so the default `make test` skips them, whatever is in dist/.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `package`-marked tests unless `-m package` selected them or ENCLAVE_PACKAGE_TEST=1."""
    asked = "package" in (config.getoption("markexpr") or "") or os.environ.get("ENCLAVE_PACKAGE_TEST") == "1"
    if asked:
        return
    skip = pytest.mark.skip(reason="installer smoke test: run `make package-test` (or ENCLAVE_PACKAGE_TEST=1)")
    for item in items:
        if item.get_closest_marker("package"):
            item.add_marker(skip)
