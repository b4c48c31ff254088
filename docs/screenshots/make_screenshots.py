"""Build a demo ENCLAVE_HOME with real data and capture the README screenshots under Xvfb.

    .venv/bin/python docs/screenshots/make_screenshots.py [--lang en|zh_CN] [--home DIR] [--skip-data]

With --lang zh_CN the conversations are in Chinese, the app is set to Simplified Chinese (the vault's
language setting, as the Privacy view sets it) and the files are named zh_<view>.png.

Needs `xvfb-run` (Debian: apt-get install xvfb fonts-noto-cjk). The data is real: the bundled demo model
writes the replies, the API requests go through the real endpoint, the audit log is the vault's own.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
PASSPHRASE = "screenshots only"
VIEWS = ("chat", "models", "server", "privacy")
PROMPTS = {
    "en": (
        ("CSV row count", "```python\n# Count the rows of a CSV file\nimport csv\n"),
        ("Onboarding checklist", "A short checklist for a new employee's first day at the office:\n\n1."),
        ("Data retention, in plain words", "Why a company should not keep customer data longer than it needs to:"),
        ("Quarterly report intro", "Opening paragraph of our quarterly report to the board:"),
    ),
    "zh_CN": (
        ("统计 CSV 行数", "```python\n# 统计 CSV 文件的行数\nimport csv\n"),
        ("季度报告开头", "致董事会的季度报告开篇：\n\n各位董事：\n\n"),
        ("新员工入职清单", "新员工入职第一天的简短清单：\n\n1."),
        ("通俗讲讲数据保留", "为什么公司不应该把客户数据保存得比实际需要的更久："),
    ),
}
FOLLOW_UP = {"en": "Now one sentence for the staff newsletter:", "zh_CN": "用一句话概括给员工：\n\n"}
API_PROMPTS = {
    "en": ("Summarise: the meeting moved to Thursday.", "Translate to French: good morning"),
    "zh_CN": ("总结：会议改到周四了。", "翻译成英文：早上好"),
}


def build_data(home: Path, lang: str) -> None:
    """Demo model, a vault with conversations, two API keys and a few real API requests."""
    os.environ["ENCLAVE_HOME"] = str(home)
    os.environ.pop("ENCLAVE_NO_DEMO", None)
    sys.path.insert(0, str(REPO))
    import httpx

    from engine.api.server import ApiServer
    from engine.handle import COMMAND_LINE, Engine
    from engine.models import ModelRegistry
    from engine.models.demo import ensure_demo_model
    from engine.policy.keys import issue_key, revoke_key
    from engine.runtime import GenerationParams, Runtime
    from engine.vault import Vault

    registry = ModelRegistry()
    record = ensure_demo_model(registry) or registry.get("gemma-3-270m")
    vault, _recovery = Vault.init(home, PASSPHRASE)
    engine = Engine(Runtime(registry), vault, actor=COMMAND_LINE, home=home)
    try:
        chat = engine.chat
        params = GenerationParams(max_tokens=70, temperature=0.7, seed=7, repeat_penalty=1.1)
        if lang != "en":
            vault.settings.set("gui.language", lang)  # what Privacy → Language stores
        for title, prompt in PROMPTS[lang]:
            result = chat.send(prompt, params=params, model=record.name).finish()
            vault.conversations.rename(result.conversation_id, title)
            print(f"{title}: {result.text[:60]!r}…", flush=True)
        # A second turn, so the newest conversation shows a short exchange.
        result = chat.send(FOLLOW_UP[lang], conversation_id=result.conversation_id, params=params).finish()
        print(f"follow-up: {result.text[:60]!r}…", flush=True)
        _key, secret = issue_key(vault, "finance-reports", models=[record.name], rpm=60)
        issue_key(vault, "intranet-bot", tokens_per_day=200_000, store_content=False)
        issue_key(vault, "old-prototype")
        revoke_key(vault, "old-prototype")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = ApiServer(engine, port=port)
        server.start()
        try:
            headers = {"Authorization": f"Bearer {secret}"}
            httpx.get(f"{server.url}/v1/models", headers=headers, timeout=30)
            for text in API_PROMPTS[lang]:
                httpx.post(
                    f"{server.url}/v1/chat/completions", headers=headers, timeout=600,
                    json={"model": record.name, "messages": [{"role": "user", "content": text}], "max_tokens": 12},
                )
            httpx.get(f"{server.url}/v1/models", headers={"Authorization": "Bearer enc-wrong"}, timeout=30)
        finally:
            server.stop()
    finally:
        engine.close()


def capture(home: Path, lang: str) -> None:
    """Run the real app under Xvfb, once per view."""
    env = dict(os.environ, ENCLAVE_HOME=str(home), ENCLAVE_PASSPHRASE=PASSPHRASE, QT_QPA_PLATFORM="xcb")
    enclave = REPO / ".venv" / "bin" / "enclave"
    for view in VIEWS:
        target = OUT / (f"{view}.png" if lang == "en" else f"zh_{view}.png")
        subprocess.run(
            ["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", str(enclave), "gui",
             "--screenshot", str(target), "--view", view],
            env=env, check=True,
        )
        print(target)


def main() -> None:
    """Build the data (unless told not to) and capture the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lang", choices=sorted(PROMPTS), default="en")
    parser.add_argument("--home", type=Path, help="default: /tmp/enclave-screenshots[-LANG]")
    parser.add_argument("--skip-data", action="store_true", help="reuse the data already in --home")
    args = parser.parse_args()
    args.home = args.home or Path("/tmp/enclave-screenshots" + ("" if args.lang == "en" else f"-{args.lang}"))
    if not args.skip_data:
        if (args.home / "vault.db").exists():
            sys.exit(f"{args.home} already holds a vault; pass --skip-data or remove it")
        build_data(args.home, args.lang)
    capture(args.home, args.lang)


if __name__ == "__main__":
    main()
