"""`enclave chat --docs` takes the desktop's path (engine.documents.answer.ask): the sources serve each turn
as grounding (also when continuing a conversation, where a system prompt would be ignored), their citations
are stored encrypted with each reply and come back in the export, the collections with the conversation,
and the conversation's own system prompt stays empty."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from engine.documents.answer import INSTRUCTIONS
from tests.documents.conftest import PASSPHRASE
from tests.documents.files import write_pdf
from tests.documents.test_protection import _run
from tests.tiny_gguf import write_tiny_gguf

FACT = "The warranty on every gizmo lasts seven years from delivery."


def test_cli_document_chat_grounds_every_turn_and_stores_its_sources(enclave_home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "incoming"
    docs.mkdir()
    write_pdf(docs / "contract.pdf", ["Preamble and definitions.", FACT, "Annex."])
    env = {
        **os.environ,
        "ENCLAVE_HOME": str(enclave_home),
        "ENCLAVE_PASSPHRASE": PASSPHRASE,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]),
    }
    _run(["init"], env)
    # The grounded prompt is longer than the 512 tokens of the suite's tiny model (one token a character).
    long = write_tiny_gguf(tmp_path / "long.gguf", context_length=4096)
    _run(["models", "import", str(long), "--name", "tiny-long"], env)
    _run(["docs", "add", str(docs), "--collection", "Legal"], env)
    ask = ["chat", "--docs", "Legal", "--model", "tiny-long", "--max-tokens", "4", "--temperature", "0"]
    first = _run([*ask, "How long is a gizmo covered?"], env)
    assert "[1] contract.pdf, page 2: “" in first.stdout
    conversation = re.search(r"\[conversation (\w+)\]", first.stderr)
    assert conversation is not None, first.stderr
    second = _run([*ask, "--conversation", conversation.group(1), "And what does the warranty cover?"], env)
    assert "Sources:" in second.stdout and "contract.pdf, page 2" in second.stdout
    # Continued without --docs: the collections saved with the conversation answer again, as on the desktop;
    # --no-docs asks without them.
    plain = ["chat", "--model", "tiny-long", "--max-tokens", "4", "--temperature", "0"]
    third = _run([*plain, "--conversation", conversation.group(1), "Is delivery included?"], env)
    assert "saved with this conversation" in third.stderr and "contract.pdf, page 2" in third.stdout
    fourth = _run([*plain, "--no-docs", "--conversation", conversation.group(1), "Thanks."], env)
    assert "Sources:" not in fourth.stdout and "saved with this conversation" not in fourth.stderr

    out = tmp_path / "export.json"
    _run(["export", "--conversation", conversation.group(1), "--out", str(out)], env)
    exported = json.loads(out.read_text())["conversations"][0]
    assert exported["collections"] == ["Legal"]
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"] * 4  # no system
    replies = [d for d in exported["message_metadata"] if "label" in d]
    assert len(replies) == 4 and "sources" not in replies[3]
    for reply in replies[:3]:
        sources = reply["sources"]
        assert sources[0]["document"] == "contract.pdf" and sources[0]["page"] == 2 and "seven years" in sources[0][
            "quote"]
        assert sources == reply["metadata"]["sources"]
        # Each turn, the continued one too, was given the instructions and the sources (one token a character).
        assert reply["metadata"]["usage"]["prompt_tokens"] > len(INSTRUCTIONS) + len(FACT)
