"""Smoke test of the built .deb: unpack it into a temporary root and drive the bundled binary.

`enclave --version`, the appliance passphrase helper (which runs `init`), `models list` (the demo
model assembled from the bundle), `keys create`, `serve` on a free port with the passphrase read
from a credential file as systemd hands it over, one chat completion with the demo model, and a
clean stop. Prints the bundle size, the start-up time and the CPU kernel variant llama.cpp chose.

Run by `make package-test` after `make package`; ENCLAVE_DEB picks another .deb.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "smoke test passphrase, not a secret"
DEMO = "gemma-3-270m"


@dataclass
class Unpacked:
    root: Path
    enclave: Path
    helper: Path


def find_deb() -> Path:
    """The .deb under test: $ENCLAVE_DEB, else the newest CPU package in dist/."""
    if os.environ.get("ENCLAVE_DEB"):
        return Path(os.environ["ENCLAVE_DEB"])
    debs = sorted((ROOT / "dist").glob("enclave_*.deb"), key=lambda p: p.stat().st_mtime)
    if not debs:
        pytest.fail("no dist/enclave_*.deb: run `make package` first")
    return debs[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user on the target machine: no venv, no test-suite switches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENCLAVE_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env["ENCLAVE_HOME"] = str(home)
    env.update(extra)
    return env


def run(cmd: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{cmd[1:]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    """The .deb extracted with dpkg-deb -x, as dpkg would lay it out (no maintainer scripts)."""
    if not shutil.which("dpkg-deb"):
        pytest.skip("dpkg-deb is not installed")
    deb = find_deb()
    root = tmp_path_factory.mktemp("debroot")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    size = subprocess.run(["du", "-sh", str(root / "opt/enclave")], capture_output=True, text=True).stdout.split()[0]
    print(f"\n{deb.name}: {deb.stat().st_size / 2**20:.0f} MiB package, bundle {size} installed")
    return Unpacked(root, root / "opt" / "enclave" / "enclave", root / "usr" / "sbin" / "enclave-passphrase")


def test_layout(unpacked: Unpacked) -> None:
    """Everything the issue lists is where dpkg will put it, licences included."""
    root = unpacked.root
    assert os.readlink(root / "usr/bin/enclave") == "/opt/enclave/enclave"
    for path in (
        "usr/lib/systemd/system/enclave.service",
        "usr/lib/sysusers.d/enclave.conf",
        "etc/default/enclave",
        "usr/share/applications/enclave.desktop",
        "usr/share/icons/hicolor/scalable/apps/enclave.svg",
        "opt/enclave/_internal/assets/icons/enclave.svg",
        "opt/enclave/_internal/licenses/llama.cpp/llama.cpp-LICENSE",
        "opt/enclave/_internal/licenses/qt/LGPL-3.0.txt",
        "opt/enclave/_internal/licenses/qt/Qt-PySide6-NOTICE.md",
        "opt/enclave/_internal/licenses/gemma-demo-model/GEMMA_TERMS.html",
    ):
        assert (root / path).is_file(), path
    assert os.access(unpacked.helper, os.X_OK)
    assert not list((root / "opt/enclave").rglob("tests/conftest.py")), "tests must not be bundled"
    # The sampler's C part (engine/runtime/_scan.c, optional at install): without it the bundle would sample
    # through numpy, slower, and say nothing.
    assert list((root / "opt/enclave/_internal/engine/runtime").glob("_scan*.so")), "no compiled sampler part"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_appliance_unit_exposure(unpacked: Unpacked) -> None:
    """systemd's own hardening score of the installed unit (0 = locked down, 10 = exposed)."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={unpacked.root}", "enclave.service"],
        capture_output=True, text=True,
    )
    found = re.search(r"Overall exposure level for enclave.service: ([0-9.]+)", result.stdout + result.stderr)
    assert found, result.stdout + result.stderr
    print(f"\nsystemd-analyze security enclave.service: exposure {found.group(1)}")
    assert float(found.group(1)) <= 2.0


def test_version_and_start_up_time(unpacked: Unpacked, tmp_path: Path) -> None:
    """`enclave --version`, also through a symlink as /usr/bin/enclave is."""
    link = tmp_path / "enclave"
    link.symlink_to(unpacked.enclave)
    env = clean_env(tmp_path / "home")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        out = run([str(link), "--version"], env).stdout
        times.append(time.perf_counter() - start)
    assert out.strip().startswith("enclave ")
    print(f"\nstart-up time (enclave --version, bundled): {min(times):.2f} s best of 3")


@pytest.fixture(scope="module")
def appliance(unpacked: Unpacked, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A vault created the appliance way: enclave-passphrase stores the credential and runs init."""
    base = tmp_path_factory.mktemp("appliance")
    home, credential = base / "var-lib-enclave", base / "credstore" / "enclave.passphrase"
    paths = {"home": home, "credential": credential}
    if os.geteuid() == 0 and shutil.which("setpriv"):
        env = clean_env(
            home,
            ENCLAVE_APPLIANCE_HOME=str(home),
            ENCLAVE_CREDENTIAL=str(credential),
            ENCLAVE_BIN=str(unpacked.enclave),
            ENCLAVE_USER="root",  # the helper's user switch, to ourselves: no system user needed here
        )
        out = run([str(unpacked.helper)], env, input=PASSPHRASE + "\n").stdout
        assert "Recovery key" in out
        assert credential.read_text() == PASSPHRASE + "\n"
        assert credential.stat().st_mode & 0o777 == 0o600
        # A wrong passphrase for an existing vault is refused and the stored one kept.
        wrong = subprocess.run([str(unpacked.helper)], env=env, input="wrong\n", capture_output=True, text=True)
        assert wrong.returncode == 1 and credential.read_text() == PASSPHRASE + "\n"
        # Admin commands run as the service user with the stored passphrase.
        run([str(unpacked.helper), "--check"], env)
        created = run([str(unpacked.helper), "--run", "keys", "create", "--name", "admin-probe"], env)
        assert created.stdout.startswith("enc-") and "admin-probe" in created.stderr
    else:  # not root: the same vault through the CLI directly
        credential.parent.mkdir(parents=True)
        credential.write_text(PASSPHRASE + "\n")
        out = run([str(unpacked.enclave), "init"], clean_env(home, ENCLAVE_PASSPHRASE=PASSPHRASE)).stdout
        assert "Recovery key" in out
    yield paths


def test_models_list_has_the_demo_model(unpacked: Unpacked, appliance: dict[str, Path]) -> None:
    """The demo model's chunks travel in the bundle and are assembled into ENCLAVE_HOME on first use."""
    env = clean_env(appliance["home"])
    start = time.perf_counter()
    out = run([str(unpacked.enclave), "--passphrase-file", str(appliance["credential"]), "models", "list"], env).stdout
    print(f"\nmodels list (assembles the 253 MB demo model the first time): {time.perf_counter() - start:.1f} s")
    assert DEMO in out
    assert any(p.suffix == ".gguf" for p in (appliance["home"] / "models").rglob("*"))


def test_desktop_app_renders(unpacked: Unpacked, appliance: dict[str, Path], tmp_path: Path) -> None:
    """The bundled Qt (plugins, SVG icons from assets/) draws the app: `gui --screenshot`, offscreen."""
    shot = tmp_path / "models.png"
    env = clean_env(appliance["home"], QT_QPA_PLATFORM="offscreen")
    run([str(unpacked.enclave), "--passphrase-file", str(appliance["credential"]), "gui", "--screenshot", str(shot),
         "--view", "models"], env)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_cpu_variant_can_be_pinned(unpacked: Unpacked, appliance: dict[str, Path]) -> None:
    """ENCLAVE_GGML_CPU: the way out when a CPU advertises a feature it faults on (see the runtime hook)."""
    env = clean_env(appliance["home"], ENCLAVE_GGML_CPU="no-such-cpu")
    refused = subprocess.run([str(unpacked.enclave), "--version"], env=env, capture_output=True, text=True)
    assert refused.returncode == 1 and "haswell" in refused.stderr
    env = clean_env(appliance["home"], ENCLAVE_GGML_CPU="haswell")
    out = run([str(unpacked.enclave), "--passphrase-file", str(appliance["credential"]), "chat", "--new",
               "The capital of France is"], env).stdout
    assert out.strip()


@pytest.fixture()
def planted_cwd(tmp_path: Path) -> Path:
    """A working directory holding a libggml-cpu-*.so that leaves a mark if anything dlopens it."""
    cwd = tmp_path / "untrusted-cwd"
    cwd.mkdir()
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler:
        source = tmp_path / "planted.c"
        source.write_text(
            '#include <stdio.h>\n__attribute__((constructor)) static void mark(void) {'
            f' FILE *f = fopen("{cwd / "PLANTED-LIBRARY-WAS-LOADED"}", "w"); if (f) fclose(f); }}\n'
        )
        subprocess.run([compiler, "-shared", "-fPIC", "-o", str(cwd / "libggml-cpu-zzz.so"), str(source)], check=True)
    return cwd


def test_serve_and_one_chat_completion(unpacked: Unpacked, appliance: dict[str, Path], planted_cwd: Path) -> None:
    """`enclave serve` as the systemd unit runs it, one completion with the demo model, SIGTERM stop."""
    env = clean_env(appliance["home"])
    key_out = run(
        [str(unpacked.enclave), "--passphrase-file", str(appliance["credential"]), "keys", "create", "--name", "smoke"],
        env,
    ).stdout
    key = next(word for word in key_out.split() if word.startswith("enc-"))
    port = free_port()
    start = time.perf_counter()
    server = subprocess.Popen(
        [str(unpacked.enclave), "serve", "--passphrase-file", str(appliance["credential"]), "--port", str(port)],
        env=env, cwd=planted_cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(base, server)
        ready = time.perf_counter() - start
        body = {"model": DEMO, "messages": [{"role": "user", "content": "The capital of France is"}],
                "max_tokens": 8, "temperature": 0}
        request = urllib.request.Request(
            f"{base}/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=240) as response:
            reply = json.load(response)
        answer_time = time.perf_counter() - start
        assert reply["object"] == "chat.completion"
        assert isinstance(reply["choices"][0]["message"]["content"], str)
        assert reply["usage"]["completion_tokens"] > 0
        variant = loaded_cpu_variant(server.pid, unpacked.root)
        print(f"\nserve: ready in {ready:.1f} s; first completion (loads the model) {answer_time:.1f} s; "
              f"llama.cpp CPU variant: {variant}; reply {reply['choices'][0]['message']['content']!r}")
        unauthenticated = urllib.request.Request(f"{base}/v1/models")
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(unauthenticated, timeout=10)
        assert denied.value.code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert server.returncode == 0, output
    assert not (planted_cwd / "PLANTED-LIBRARY-WAS-LOADED").exists(), "ggml loaded a library from the cwd"


def wait_for_health(base: str, server: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"serve exited {server.returncode}:\n{server.stdout.read() if server.stdout else ''}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail("serve did not answer /health in time")


def loaded_cpu_variant(pid: int, root: Path) -> str:
    """Which libggml-cpu-* the server mapped, checking every ggml library came from the bundle."""
    if not sys.platform.startswith("linux"):
        return "unknown"
    maps = Path(f"/proc/{pid}/maps").read_text()
    ggml = {line.split()[-1] for line in maps.splitlines() if "libggml" in line}
    outside = [path for path in ggml if not path.startswith(str(root))]
    assert not outside, f"ggml libraries loaded from outside the bundle: {outside}"
    variants = sorted(Path(p).name for p in ggml if "libggml-cpu" in p)
    return ", ".join(variants) or "built in"
