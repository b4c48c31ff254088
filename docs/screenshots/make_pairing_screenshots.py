"""Capture the pairing screenshots (connect dialog, a server's model in the picker) under Xvfb, with real data.

    .venv/bin/python docs/screenshots/make_pairing_screenshots.py [--lang en|zh_CN]

A real appliance (`enclave serve --tls auto`, its own data folder, the bundled demo model) runs on a
loopback port; a desktop data folder is paired with it through a real code, and one conversation with
the server's model is held through the desktop engine. The app then runs under `xvfb-run`: the chat
view with the model picker open (pairing_picker.png), and the connect dialog with a second, unused code
pasted (pairing_connect.png); zh_ in front for Chinese. Needs xvfb-run and fonts-noto-cjk.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
PASSPHRASE = "screenshots only"
SERVER_NAME = "hospital-gpu"
PROMPT = {
    # The demo model is a base model: it continues text, so the prompt is the start of the text wanted.
    "en": "Notice to all ward staff:\n\nFrom Monday, the night shift handover moves to 7 pm.",
    "zh_CN": "致全体病房员工的通知：夜班交接时间改为晚上七点。\n\n各位同事：\n\n",
}


def _cli(home: Path, *argv: str) -> str:
    """`enclave ARGV` in this process against `home`; its stdout."""
    from engine.cli import main

    os.environ["ENCLAVE_HOME"] = str(home)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    if code != 0:
        sys.exit(f"enclave {' '.join(argv[:2])} failed ({code})")
    return out.getvalue().strip()


def build(base: Path, lang: str) -> tuple[subprocess.Popen[bytes], Path, str]:
    """The appliance (running), the desktop folder (paired, one conversation), and a spare code."""
    sys.path.insert(0, str(REPO))
    from engine.handle import DESKTOP, Engine
    from engine.models import ModelRegistry
    from engine.models.demo import ensure_demo_model
    from engine.pairing.remotes import add_remote
    from engine.runtime import GenerationParams, Runtime
    from engine.vault import Vault

    shutil.rmtree(base, ignore_errors=True)
    appliance, desktop = base / "appliance", base / "desktop"
    os.environ["ENCLAVE_PASSPHRASE"] = PASSPHRASE
    os.environ.pop("ENCLAVE_NO_DEMO", None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    for home in (appliance, desktop):
        home.mkdir(parents=True)
        os.environ["ENCLAVE_HOME"] = str(home)
        Vault.init(home, PASSPHRASE)[0].close()
        ensure_demo_model(ModelRegistry())
    code = _cli(appliance, "pair", "create", "--name", "alice-laptop", "--url", url, "--no-qr")
    spare = _cli(appliance, "pair", "create", "--name", "bob-laptop", "--url", url, "--no-qr")
    env = dict(os.environ, ENCLAVE_HOME=str(appliance), PYTHONPATH=str(REPO))
    server = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--tls", "auto", "--port", str(port)],
                              env=env, cwd=REPO)
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            break
        if time.monotonic() > deadline or server.poll() is not None:
            sys.exit("the appliance did not start")
        time.sleep(0.2)
    os.environ["ENCLAVE_HOME"] = str(desktop)
    vault = Vault.unlock(desktop, PASSPHRASE)
    registry = ModelRegistry()
    engine = Engine(Runtime(registry), vault, actor=DESKTOP, home=desktop, owns=True)
    try:
        if lang != "en":
            vault.settings.set("gui.language", lang)
        remote = add_remote(vault, SERVER_NAME, code)
        model = remote.model_ids()[0]
        params = GenerationParams(max_tokens=60, temperature=0.7, seed=3, repeat_penalty=1.1)
        result = engine.chat.send(PROMPT[lang], model=model, params=params).finish()
        print(f"{model}: {result.text[:70]!r}…", flush=True)
    finally:
        engine.close()
    return server, desktop, spare


def capture(desktop: Path, spare: str, lang: str) -> None:
    """Inside Xvfb: the picker open over the chat, then the connect dialog with the spare code."""
    sys.path.insert(0, str(REPO))
    from PySide6.QtGui import QGuiApplication
    from shot_window import open_window, settle

    from app.dialogs.connect_server import ConnectServerDialog

    prefix = "" if lang == "en" else "zh_"
    session, window = open_window(desktop, PASSPHRASE, (1200, 760), "chat")
    settle(800)
    window.chat.model_picker.showPopup()
    settle(600)
    shot = QGuiApplication.primaryScreen().grabWindow(0, 0, 0, 1200, 760)
    shot.save(str(OUT / f"{prefix}pairing_picker.png"), "PNG")
    window.chat.model_picker.hidePopup()
    window.show_view("models")
    dialog = ConnectServerDialog(session, window)
    dialog.code_edit.setPlainText(spare)
    dialog.name.setText(SERVER_NAME + "-2")
    dialog.show()
    settle(600)
    dialog.grab().save(str(OUT / f"{prefix}pairing_connect.png"), "PNG")
    dialog.close()
    window.close()
    session.close()
    print(OUT / f"{prefix}pairing_picker.png", OUT / f"{prefix}pairing_connect.png")


def main() -> None:
    """Build the data, then run the capture under Xvfb."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lang", choices=["en", "zh_CN"], default="en")
    parser.add_argument("--capture", nargs=2, metavar=("DESKTOP", "CODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.capture:
        capture(Path(args.capture[0]), args.capture[1], args.lang)
        return
    base = Path("/tmp/enclave-pairing-shots" + ("" if args.lang == "en" else f"-{args.lang}"))
    server, desktop, spare = build(base, args.lang)
    try:
        env = dict(os.environ, ENCLAVE_HOME=str(desktop), QT_QPA_PLATFORM="xcb", PYTHONPATH=str(REPO))
        subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", sys.executable, __file__,
                        "--lang", args.lang, "--capture", str(desktop), spare], env=env, check=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


if __name__ == "__main__":
    main()
