"""Fine-tuning end to end on the tiny model: the adapter teaches it a code word it could not produce, served
by the engine (greedy), through the API and the CLI; provenance in `models info`; kill and resume; the
dataset never leaves the vault's ciphertext; erasing a data subject withdraws the adapter, retraining works.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import openai
import pytest

from engine.handle import COMMAND_LINE, Engine
from engine.models import ModelRegistry
from engine.runtime import GenerationParams
from engine.training.jobs import Training
from engine.vault import Vault
from tests.api.serving import free_port, wait_until_healthy
from tests.training.conftest import (
    CANARY,
    CLI,
    CODE_WORD,
    FAST,
    PASSPHRASE,
    QUESTIONS,
    ROOT,
    code_word_rows,
    enclave,
    env,
    spawn,
    write_jsonl,
)

GREEDY = GenerationParams(max_tokens=32, temperature=0.0, top_k=1, seed=0)
PROMPT = [{"role": "user", "content": QUESTIONS[0]}]


def files_holding(folder: Path, needle: bytes) -> list[Path]:
    """Files under `folder` whose bytes contain `needle`."""
    found = []
    for path in folder.rglob("*"):
        try:
            if path.is_file() and needle in path.read_bytes():
                found.append(path)
        except OSError:
            continue  # a file removed while we looked
    return found


@pytest.fixture(autouse=True)
def in_train_home(train_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process calls (registry, vault) look at the module's home, as the subprocesses do."""
    monkeypatch.setenv("ENCLAVE_HOME", str(train_home))


@pytest.fixture(scope="module")
def trained(train_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The code-word dataset (two rows of subject 'alice') imported, its source deleted, and 'tiny-cw' trained."""
    tmp = tmp_path_factory.mktemp("train-tmp")
    source = write_jsonl(tmp / "codes.jsonl", code_word_rows(subjects=[None, "alice", None, "alice"]))
    done = enclave(train_home, "datasets", "import", str(source), "--name", "codes", "--subject", "bob")
    assert done.returncode == 0, done.stderr
    source.unlink()  # from here on the canary may only exist inside the vault
    done = enclave(
        train_home, "train", "--model", "tiny", "--dataset", "codes", "--name", "tiny-cw", *FAST,
        "--legal-basis", "legitimate interest: internal support assistant", tmp=tmp,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"step 15/15 +epoch 3 +loss \d", done.stdout)
    assert "s left" in done.stdout and "registered tiny-cw" in done.stdout
    return train_home


def test_the_adapter_teaches_a_code_word_the_base_cannot_produce(trained: Path) -> None:
    # Through the engine handle, as the server and the desktop app hold it: it is the runtime's adapter source.
    with Engine.open(trained, actor=COMMAND_LINE, passphrase=PASSPHRASE, demo_model=False) as engine:
        assert "tiny-cw" in {ref.name for ref in engine.models()}
        base = "".join(c.text for c in engine.runtime.chat(PROMPT, GREEDY, model="tiny"))
        adapted = "".join(c.text for c in engine.runtime.chat(PROMPT, GREEDY, model="tiny-cw"))
        assert engine.training.info("tiny-cw")["status"] == "done"
    assert CODE_WORD not in base
    assert f"code word is {CODE_WORD}" in adapted


def test_models_info_holds_provenance_and_evaluation(trained: Path) -> None:
    done = enclave(trained, "models", "info", "tiny-cw", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    base = ModelRegistry().get("tiny")
    assert info["base_sha256"] == base.sha256 and info["base_model"] == "tiny"
    assert re.fullmatch(r"[0-9a-f]{64}", info["adapter_sha256"])
    datasets = json.loads(enclave(trained, "datasets", "list", "--json").stdout)
    assert info["dataset_sha256"] == datasets[0]["sha256"]
    training = info["training"]
    assert training["rows"] == 5 and training["held_out_rows"] == 1
    assert training["subjects"] == ["alice", "bob"]
    assert training["legal_basis"].startswith("legitimate interest")
    assert training["hyperparameters"]["rank"] == 4 and training["hyperparameters"]["epochs"] == 3
    evaluation = info["evaluation"]
    assert evaluation["held_out_loss_after"] < evaluation["held_out_loss_before"] / 4  # held-out loss falls
    sample = evaluation["samples"][0]
    assert CODE_WORD in sample["adapted"] and CODE_WORD not in sample["base"]
    listing = enclave(trained, "models", "list").stdout
    assert "tiny-cw" in listing and "adapter on tiny" in listing
    events = enclave(trained, "audit", "show").stdout
    assert "training_start" in events and "training_finish" in events and "adapter_load" in events
    record = json.loads(enclave(trained, "report", "processing", "--json").stdout)
    assert any("fine-tuning" in purpose for purpose in record["purposes"])
    assert record["training"] == [
        {"dataset": "codes", "sha256": info["dataset_sha256"], "rows": 6, "data_subjects": 2, "adapters": ["tiny-cw"],
         "legal_basis": ["legitimate interest: internal support assistant"]}
    ]
    assert {"training_datasets", "adapters"} <= {c["category"] for c in record["data_categories"]}


def test_the_adapted_model_is_served_through_the_openai_api(trained: Path) -> None:
    created = enclave(trained, "keys", "create", "--name", "trainer-api")
    secret = created.stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [os.sys.executable, "-c", CLI, "serve", "--port", str(port)],
        env=env(trained), stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        wait_until_healthy(server, port)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=secret)
        assert {"tiny", "tiny-cw"} <= {m.id for m in client.models.list()}
        reply = client.chat.completions.create(model="tiny-cw", messages=PROMPT, temperature=0, max_tokens=32)
        assert CODE_WORD in (reply.choices[0].message.content or "")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_killed_training_resumes_from_its_checkpoint_and_nothing_leaks(
    trained: Path, tmp_path: Path
) -> None:
    args = ("train", "--model", "tiny", "--dataset", "codes", "--name", "tiny-resumed", *FAST,
            "--checkpoint-every", "4", "--legal-basis", "contract")
    process = spawn(trained, *args, tmp=tmp_path)
    seen = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if line.startswith("step 6/15"):
            # Mid-run: the dataset's canary is in no file, the vault's included (only ciphertext there).
            assert files_holding(trained, CANARY.encode()) == []
            assert files_holding(tmp_path, CANARY.encode()) == []
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    with Vault.unlock(trained, PASSPHRASE) as vault:
        job = Training(vault, ModelRegistry(), actor="test").job_for("tiny-resumed")
        assert job is not None and job.body["status"] == "running" and job.body["step"] == 4
    assert "tiny-resumed" not in {m.name for m in ModelRegistry().list()}

    done = enclave(trained, *args, tmp=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming from the checkpoint at step 4" in done.stdout
    steps = [int(m) for m in re.findall(r"^step (\d+)/15", done.stdout, re.M)]
    assert steps == list(range(5, 16))  # continued where the checkpoint was, not from the start
    assert "registered tiny-resumed" in done.stdout
    assert files_holding(trained, CANARY.encode()) == [] and files_holding(tmp_path, CANARY.encode()) == []
    chat = enclave(trained, "chat", "--model", "tiny-resumed", "--temperature", "0", "--max-tokens", "32", QUESTIONS[0])
    assert chat.returncode == 0 and CODE_WORD in chat.stdout


def test_ctrl_c_saves_a_checkpoint_and_stops(trained: Path) -> None:
    process = spawn(trained, "train", "--model", "tiny", "--dataset", "codes", "--name", "tiny-stopped", *FAST,
                    "--legal-basis", "contract")
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("step 3/15"):
            process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    out = "".join(seen)
    assert process.returncode == 1, out
    stopped_at = int(re.search(r"training stopped at step (\d+) of 15; run the same command again to resume", out)[1])
    assert stopped_at >= 3 and "Traceback" not in out
    with Vault.unlock(trained, PASSPHRASE) as vault:
        job = Training(vault, ModelRegistry(), actor="test").job_for("tiny-stopped")
        assert job is not None and job.body["status"] == "stopped" and job.body["step"] == stopped_at
        assert job.body["checkpoint_blob"]
    assert "tiny-stopped" not in {m.name for m in ModelRegistry().list(include_withdrawn=True)}
    assert "training_stop" in enclave(trained, "audit", "show").stdout


def test_rows_too_long_for_the_context_are_named_and_nothing_starts(trained: Path, tmp_path: Path) -> None:
    rows = code_word_rows()
    rows[2]["messages"][0]["content"] = "word " * 700  # far past the tiny model's 512 tokens
    source = write_jsonl(tmp_path / "long.jsonl", rows)
    assert enclave(trained, "datasets", "import", str(source), "--name", "long").returncode == 0
    done = enclave(trained, "train", "--model", "tiny", "--dataset", "long", "--name", "tiny-long", *FAST)
    assert done.returncode == 1
    assert "line 3:" in done.stderr and "longer than the model's context of 512 tokens" in done.stderr
    with Vault.unlock(trained, PASSPHRASE) as vault:
        assert Training(vault, ModelRegistry(), actor="test").job_for("tiny-long") is None


def test_subject_erase_withdraws_the_adapters_and_retraining_without_them_works(trained: Path) -> None:
    done = enclave(trained, "erase", "--subject", "alice", "--yes")
    assert done.returncode == 0, done.stderr
    assert "erased 2 training row(s)" in done.stdout
    assert "withdrew adapted model tiny-cw" in done.stdout and "withdrew adapted model tiny-resumed" in done.stdout
    assert "enclave train --retrain tiny-cw" in done.stdout
    assert "tiny-cw" not in {m.name for m in ModelRegistry().list()}  # not served: not in /v1/models, pickers
    assert "[WITHDRAWN]" in enclave(trained, "models", "list").stdout
    refused = enclave(trained, "chat", "--model", "tiny-cw", QUESTIONS[0])
    assert refused.returncode == 1 and "withdrawn" in refused.stderr
    info = json.loads(enclave(trained, "models", "info", "tiny-cw", "--json").stdout)
    assert info["training"]["withdrawn"]["reason"] == "data subject erased"
    assert "adapter_withdraw" in enclave(trained, "audit", "show").stdout

    done = enclave(trained, "train", "--retrain", "tiny-cw")
    assert done.returncode == 0, done.stdout + done.stderr
    info = json.loads(enclave(trained, "models", "info", "tiny-cw", "--json").stdout)
    assert info["training"]["subjects"] == ["bob"] and info["training"]["rows"] + info["training"]["held_out_rows"] == 4
    assert info["training"]["withdrawn"] is None
    assert info["evaluation"]["held_out_loss_after"] < info["evaluation"]["held_out_loss_before"] / 2
    chat = enclave(trained, "chat", "--model", "tiny-cw", "--temperature", "0", "--max-tokens", "32", QUESTIONS[0])
    assert chat.returncode == 0, chat.stderr  # served again

    removed = enclave(trained, "models", "remove", "tiny-resumed")
    assert removed.returncode == 0, removed.stderr
    assert "tiny-resumed" not in {m.name for m in ModelRegistry().list(include_withdrawn=True)}
    assert "adapter_remove" in enclave(trained, "audit", "show").stdout
