"""Build a demo ENCLAVE_HOME with real data and capture the README screenshots under Xvfb.

    .venv/bin/python docs/screenshots/make_screenshots.py [--lang en|zh_CN] [--home DIR] [--skip-data]

With --lang zh_CN the conversations are in Chinese, the app is set to Simplified Chinese (the vault's
language setting, as the Privacy view sets it) and the files are named zh_<view>.png.

Needs `xvfb-run` (Debian: apt-get install xvfb fonts-noto-cjk). The data is real: the bundled demo model
writes the replies, the API requests go through the real endpoint, the audit log is the vault's own, and
the Training view shows a LoRA adapter really trained on the demo model from a small dataset (a minute or
two on a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
PASSPHRASE = "screenshots only"
# Privacy first: each capture unlocks the vault, and its audit log should not open on a column of unlocks.
VIEWS = ("privacy", "chat", "models", "server", "training")  # documents: make_documents_screenshots.py
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

# A small house-style dataset: how the helpdesk answers (JSONL in OpenAI's fine-tuning format).
HELPDESK = {
    "en": (
        ("How do I reset my password?",
         "Open id.example.internal, choose Forgot password and follow the email. — IT Helpdesk"),
        ("My laptop will not start.",
         "Hold the power button for 10 seconds, then plug in the charger. Still dark? Call 4400. — IT Helpdesk"),
        ("How do I get access to the finance share?",
         "Ask your manager to approve a request in the portal under Access. — IT Helpdesk"),
        ("Can I install my own software?",
         "Only from the Software Centre; anything else needs a ticket. — IT Helpdesk"),
        ("The printer on floor 3 is jammed.", "Open tray 2, remove the sheet and press Resume. — IT Helpdesk"),
        ("How do I connect to the VPN?", "Start Secure Connect and sign in with your badge PIN. — IT Helpdesk"),
        ("I lost my badge.", "Report it at reception today; a temporary badge is issued at once. — IT Helpdesk"),
        ("Where do I store customer files?", "In the team's encrypted drive, never on the desktop. — IT Helpdesk"),
        ("How do I book a meeting room?", "Use Rooms in the calendar and pick a free slot. — IT Helpdesk"),
        ("My screen is flickering.", "Reseat the display cable; if it continues, open a ticket. — IT Helpdesk"),
    ),
    "zh_CN": (
        ("怎么重置密码？", "打开 id.example.internal，选择“忘记密码”，按邮件提示操作。——IT 服务台"),
        ("笔记本电脑开不了机。", "长按电源键 10 秒，再接上充电器。仍无反应请拨 4400。——IT 服务台"),
        ("怎么申请财务共享盘权限？", "请经理在门户的“权限”中批准申请。——IT 服务台"),
        ("可以自己装软件吗？", "只能从软件中心安装，其他软件需提交工单。——IT 服务台"),
        ("三楼打印机卡纸了。", "打开 2 号纸盒，取出纸张，按“继续”。——IT 服务台"),
        ("怎么连接 VPN？", "启动安全连接，用工卡 PIN 登录。——IT 服务台"),
        ("工卡丢了。", "今天到前台挂失，当场发放临时工卡。——IT 服务台"),
        ("客户文件存在哪里？", "存到团队的加密盘，不要放在桌面。——IT 服务台"),
        ("怎么预订会议室？", "在日历的“会议室”中选择空闲时段。——IT 服务台"),
        ("屏幕一直闪。", "重新插好显示线；仍然闪烁请提交工单。——IT 服务台"),
    ),
}


def helpdesk_jsonl(lang: str) -> bytes:
    """The helpdesk dataset as JSONL."""
    rows = (
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in HELPDESK[lang]
    )
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def train_adapter(engine: object, model: str, lang: str) -> None:
    """Import the helpdesk dataset and train a LoRA adapter on the demo model, as the Training view does."""
    from engine.training.jobs import TrainRequest

    training = engine.training  # type: ignore[attr-defined]
    training.datasets.import_bytes(helpdesk_jsonl(lang), "helpdesk", source="helpdesk.jsonl")
    request = TrainRequest(model=model, dataset="helpdesk", name="helpdesk-gemma", epochs=3, rank=8,
                           legal_basis="Art. 6(1)(f) GDPR, internal support texts, no personal data")
    for progress in training.train(request):
        if progress.phase != "train" or progress.step in (1, progress.total):
            print(f"training: {progress.phase} {progress.step}/{progress.total} {progress.message}", flush=True)

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
        # Metadata only (the default) and an expiry; the second key keeps the texts, as asked explicitly.
        expires = datetime.now(UTC) + timedelta(days=90)
        _key, secret = issue_key(vault, "finance-reports", models=[record.name], rpm=60, expires_at=expires)
        issue_key(vault, "intranet-bot", tokens_per_day=200_000, store_content=True)
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
        train_adapter(engine, record.name, lang)
    finally:
        engine.close()


def capture(home: Path, lang: str) -> None:
    """Run the real app under Xvfb, once per view."""
    env = dict(os.environ, ENCLAVE_HOME=str(home), ENCLAVE_PASSPHRASE=PASSPHRASE, QT_QPA_PLATFORM="xcb")
    enclave = Path(sys.executable).parent / "enclave"  # the environment this script runs in
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
