"""Fast checks of the packaging sources (no build): they run in `make test`.

The installers are built and driven in test_deb_smoke.py (`make package-test`); these catch the
mistakes that do not need a build: a script that does not parse, a hardening line dropped from the
unit, a workflow step that names a script that is not there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
LINUX = PACKAGING / "linux"


@pytest.mark.parametrize(
    "script",
    ["build_llama_wheel.sh", "build_bundle.sh", "linux/build_deb.sh", "linux/package.sh", "linux/enclave-passphrase",
     "macos/build_app.sh"],
)
def test_bash_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(PACKAGING / script)], check=True)


@pytest.mark.parametrize("script", ["postinst", "prerm", "postrm"])
def test_maintainer_scripts_are_posix_sh(script: str) -> None:
    subprocess.run(["sh", "-n", str(LINUX / script)], check=True)


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (LINUX / "enclave.service").read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_appliance_unit_hardening() -> None:
    """What the issue asks of appliance mode, and SECURITY.md's no-core-dump rule."""
    unit = unit_settings()
    expected = {
        "User": "enclave", "StateDirectory": "enclave", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
        "PrivateTmp": "yes", "IPAddressDeny": "any", "IPAddressAllow": "localhost", "LimitCORE": "0",
        "Environment": "ENCLAVE_HOME=/var/lib/enclave",
    }
    for key, value in expected.items():
        assert value in unit.get(key, []), f"{key}={value}"
    assert unit["LoadCredential"] == ["passphrase:/etc/credstore/enclave.passphrase"]
    (exec_start,) = unit["ExecStart"]
    assert "--passphrase-file %d/passphrase" in exec_start and exec_start.startswith("/opt/enclave/enclave serve")
    # HTTPS by default (issue 26): the unit passes $ENCLAVE_TLS, which is `--tls auto` unless changed.
    assert "$ENCLAVE_TLS" in exec_start and "\"ENCLAVE_TLS=--tls auto\"" in unit["Environment"]
    assert 'ENCLAVE_TLS="--tls auto"' in (LINUX / "default").read_text()
    assert "ENCLAVE_PASSPHRASE" not in (LINUX / "enclave.service").read_text().replace("# ", "")


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_unit_has_no_unknown_or_invalid_settings() -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(LINUX / "enclave.service")], capture_output=True, text=True
    )
    # The binary is not installed here; anything else systemd complains about is a real mistake.
    problems = [line for line in result.stderr.splitlines() if "is not executable" not in line and line.strip()]
    assert not problems, problems


def test_helper_never_puts_the_passphrase_on_a_command_line() -> None:
    """The passphrase reaches `enclave` through that process's environment, not argv (visible in ps)."""
    helper = (LINUX / "enclave-passphrase").read_text()
    assert 'ENCLAVE_PASSPHRASE="$passphrase"' in helper
    assert not re.search(r"(echo|printf)[^\n|]*\$passphrase[^\n]*\|", helper), "no passphrase through a pipe"
    assert "setpriv --reuid" in helper


def test_desktop_entry() -> None:
    entry = (LINUX / "enclave.desktop").read_text()
    for line in ("Type=Application", "Name=Enclave", "Exec=/opt/enclave/enclave gui", "Icon=enclave"):
        assert line in entry.splitlines()
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(LINUX / "enclave.desktop")], check=True)


def test_llama_build_uses_runtime_dispatch() -> None:
    """The distribution build never tunes for the build machine."""
    script = (PACKAGING / "build_llama_wheel.sh").read_text()
    for flag in ("-DGGML_NATIVE=OFF", "-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON"):
        assert flag in script
    for variant in ("cuda", "vulkan", "metal"):
        assert f"{variant})" in script
    code = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if "march=native" in line or "GGML_NATIVE=ON" in line]


def test_inno_setup_script() -> None:
    """Per-user install, Start-menu entry, an uninstaller that asks about the vault and keeps it by default."""
    iss = (PACKAGING / "windows" / "enclave.iss").read_text()
    assert "PrivilegesRequired=lowest" in iss
    assert re.search(r'^Name: "\{autoprograms\}\\Enclave"', iss, re.M)
    assert "usPostUninstall" in iss and "MB_DEFBUTTON1, IDYES" in iss and "DelTree(Dir" in iss
    assert "{localappdata}\\enclave" in iss  # platformdirs.user_data_dir("enclave", appauthor=False)
    assert (PACKAGING / "windows" / "NOTICE.txt").is_file()


def test_release_workflow_runs_the_scripts_that_exist() -> None:
    """Every packaging path the workflow names exists; the matrix covers three OSes, CPU and GPU."""
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    for path in set(re.findall(r"packaging/[\w/.-]+\.(?:sh|py|iss)", workflow)):
        assert (ROOT / path).is_file(), path
    for runner in ("ubuntu-", "windows-", "macos-"):
        assert runner in workflow
    for variant in ("cpu", "cuda", "vulkan", "metal"):
        assert f"variant: {variant}" in workflow


def test_spec_names_files_that_exist() -> None:
    spec = (PACKAGING / "enclave.spec").read_text()
    for name in re.findall(r'PACKAGING / "([\w.]+)"', spec):
        assert (PACKAGING / name).exists(), name
    for licence in ("LGPL-3.0.txt", "GPL-3.0.txt", "Qt-PySide6-NOTICE.md"):
        assert (PACKAGING / "licenses" / licence).is_file()


def test_checksums_file_verifies_with_sha256sum(tmp_path: Path) -> None:
    (tmp_path / "a.deb").write_bytes(b"package")
    (tmp_path / "a.cdx.json").write_text("{}")
    subprocess.run(
        [sys.executable, str(PACKAGING / "checksums.py"), str(tmp_path / "SHA256SUMS"),
         *map(str, tmp_path.glob("a.*"))],
        check=True, capture_output=True,
    )
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, check=True, capture_output=True)


def test_deb_depends_on_what_the_gui_checks_for() -> None:
    """The .deb pulls in every library `enclave gui` checks for (app/system_check.py) and recommends a CJK font."""
    from app import system_check

    control = (LINUX / "build_deb.sh").read_text()
    depends = next(line for line in control.splitlines() if line.startswith("Depends:"))
    recommends = next(line for line in control.splitlines() if line.startswith("Recommends:"))
    for requirement in system_check.XCB_LIBRARIES:
        assert requirement.debian in depends, requirement
    assert system_check.CJK_FONT.debian in recommends
