"""Datasets built from conversations: one row per conversation (system prompt, user and assistant turns),
validated like an import with errors naming the conversation, stored only encrypted, subjects from the
conversations' labels so erasing a subject removes the rows and withdraws adapters trained on them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.models import ModelRegistry
from engine.training.jobs import Training, TrainRequest
from engine.vault import Vault
from tests.policy.conftest import raw
from tests.training.conftest import CANARY, CODE_WORD, PASSPHRASE, QUESTIONS, enclave
from tests.training.test_datasets import vault_files
from tests.training.test_training import files_holding


@pytest.fixture(autouse=True)
def in_train_home(train_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process calls (registry, vault) look at the module's home, as the subprocesses do."""
    monkeypatch.setenv("ENCLAVE_HOME", str(train_home))


def make_conversation(vault: Vault, title: str, question: str, *, subject: str | None = None) -> str:
    """A conversation as chat leaves it: a system prompt, a tool round trip, a regenerated reply, and a
    question at the end that was never answered."""
    conversations = vault.conversations
    conv = conversations.create(title, system_prompt=f"Reference {CANARY}.", subject=subject)
    conversations.add_message(conv.id, "user", question)
    conversations.add_message(conv.id, "assistant", "", metadata={"tool_calls": [{"id": "c1"}]})
    conversations.add_message(conv.id, "tool", "tool output that is no training text")
    reply = conversations.add_message(conv.id, "assistant", "I am not sure.")
    conversations.add_alternative(conv.id, reply.id, f"The code word is {CODE_WORD}.")  # the chosen version
    conversations.add_message(conv.id, "user", "Thanks!")  # never answered
    return conv.id


def expected_messages(question: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"Reference {CANARY}."},
        {"role": "user", "content": question},
        {"role": "assistant", "content": f"The code word is {CODE_WORD}."},
    ]


def audit_details(vault: Vault, event: str) -> list[dict[str, object]]:
    return [e.details for e in vault.audit.entries() if e.event == event]


def test_rows_match_the_conversations_and_carry_their_subjects(train_home: Path) -> None:
    with Vault.unlock(train_home, PASSPHRASE) as vault:
        ids = [
            make_conversation(vault, "Ask A", QUESTIONS[0], subject="dana"),
            make_conversation(vault, "Ask B", QUESTIONS[1]),
            make_conversation(vault, "Ask C", QUESTIONS[2], subject="erin"),
        ]
        training = Training(vault, ModelRegistry(), actor="test")
        info = training.dataset_from_conversations([*ids, ids[0]], "chats", subject="frank", model="tiny")
        rows = training.datasets.rows(info)
        imports = audit_details(vault, "dataset_import")
    assert (info.rows, info.held_out, info.source) == (3, 1, "conversations")
    assert [r.messages for r in rows] == [tuple(expected_messages(q)) for q in QUESTIONS[:3]]
    assert [r.subject for r in rows] == ["dana", "frank", "erin"]  # the label, else --subject
    assert info.subjects == ("dana", "erin", "frank")
    assert imports[-1] == {
        "dataset": "chats", "sha256": info.sha256, "rows": 3, "subjects": 3,
        "source": "conversations", "conversations": 3,
    }
    assert CANARY not in json.dumps(imports)
    assert raw(train_home, "SELECT count(*) FROM dataset_rows") == [(3,)]
    assert CANARY.encode() not in vault_files(train_home)  # the rows exist only as ciphertext


def test_unfit_conversations_are_named_and_nothing_is_stored(train_home: Path) -> None:
    with Vault.unlock(train_home, PASSPHRASE) as vault:
        good = make_conversation(vault, "Fine", QUESTIONS[3])
        twin = make_conversation(vault, "Same again", QUESTIONS[3])
        silent = vault.conversations.create("No answer yet")
        vault.conversations.add_message(silent.id, "user", "Hello?")
        training = Training(vault, ModelRegistry(), actor="test")
        before = [d.name for d in training.datasets.list()]
        with pytest.raises(Exception, match=rf"conversation 'No answer yet' \({silent.id}\): has no reply") as bad:
            training.dataset_from_conversations([good, silent.id], "unfit")
        assert "nothing was stored" in str(bad.value)
        with pytest.raises(Exception, match=rf"'Same again' \({twin}\): has the same messages as conversation 'Fine'"):
            training.dataset_from_conversations([good, twin], "twins")
        long = make_conversation(vault, "Rambling", "word " * 700)
        with pytest.raises(Exception, match=rf"conversation 'Rambling' \({long}\): \d+ tokens"):
            training.dataset_from_conversations([good, long], "long", model="tiny")  # past the 512-token context
        assert [d.name for d in training.datasets.list()] == before


def test_subject_erase_removes_the_rows_and_withdraws_the_adapter(train_home: Path) -> None:
    with Vault.unlock(train_home, PASSPHRASE) as vault:
        ids = [make_conversation(vault, f"Q{i}", q, subject="gina" if i < 2 else None)
               for i, q in enumerate(QUESTIONS)]
        training = Training(vault, ModelRegistry(), actor="test")
        training.dataset_from_conversations(ids, "gina-chats")
        request = TrainRequest("tiny", "gina-chats", "tiny-chats", 1, 2, 2e-2, "consent of the people asking")
        for _ in training.train(request):
            pass
        assert training.info("tiny-chats")["subjects"] == ["gina"]
        done = training.erase_subject("gina", actor="test")
        after = training.datasets.find("gina-chats")
        info = training.info("tiny-chats")
    assert done["rows"] == 2 and "tiny-chats" in done["adapters"]
    assert after.rows == 4 and after.subjects == ()
    assert info["withdrawn"]["reason"] == "data subject erased"
    assert "tiny-chats" not in {m.name for m in ModelRegistry().list()}  # no longer served
    assert not [p for p in files_holding(train_home, CANARY.encode())]


def test_cli_builds_a_dataset_and_refuses_unknown_ids_and_taken_names(train_home: Path) -> None:
    with Vault.unlock(train_home, PASSPHRASE) as vault:
        ids = [make_conversation(vault, f"CLI {i}", f"{q} (cli)", subject="hana") for i, q in enumerate(QUESTIONS[:2])]
    done = enclave(train_home, "datasets", "from-conversations", "--name", "cli-chats", *ids, "--subject", "ivan")
    assert done.returncode == 0, done.stderr
    assert "Built cli-chats from 2 conversations (1 held out)" in done.stdout and "subjects: hana" in done.stdout
    with Vault.unlock(train_home, PASSPHRASE) as vault:
        info = Training(vault, ModelRegistry(), actor="test").datasets.find("cli-chats")
    assert (info.rows, info.source, info.subjects) == (2, "conversations", ("hana",))
    taken = enclave(train_home, "datasets", "from-conversations", "--name", "cli-chats", *ids)
    assert taken.returncode == 1 and taken.stderr.strip().count("\n") == 0 and "already exists" in taken.stderr
    unknown = enclave(train_home, "datasets", "from-conversations", "--name", "other", ids[0], "deadbeef")
    assert unknown.returncode == 1 and unknown.stderr.strip().count("\n") == 0
    assert "no conversation deadbeef" in unknown.stderr and "Traceback" not in unknown.stderr
    assert "other" not in {d["name"] for d in json.loads(enclave(train_home, "datasets", "list", "--json").stdout)}
