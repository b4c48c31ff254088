"""OpenAI's Files and fine-tuning jobs endpoints, driven by the official `openai` client against `enclave serve`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.api.serving import free_port, wait_until_healthy
from tests.training.conftest import CLI, CODE_WORD, QUESTIONS, ROOT, code_word_rows, enclave, env


@pytest.fixture(scope="module")
def server(train_home: Path) -> Iterator[tuple[str, str, str]]:
    """`enclave serve` on a free port; a key that may train and one that may not."""
    trainer = enclave(train_home, "keys", "create", "--name", "trainer", "--train").stdout.strip()
    reader = enclave(train_home, "keys", "create", "--name", "reader").stdout.strip()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", "--port", str(port)],
        env=env(train_home), stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        wait_until_healthy(process, port)
        yield f"http://127.0.0.1:{port}/v1", trainer, reader
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def jsonl(rows: list[object]) -> bytes:
    return ("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n").encode()


def test_only_keys_allowed_to_train_may_upload_or_train(server: tuple[str, str, str]) -> None:
    url, _, reader = server
    client = openai.OpenAI(base_url=url, api_key=reader)
    with pytest.raises(openai.PermissionDeniedError, match="may not train"):
        client.files.create(file=("codes.jsonl", jsonl(code_word_rows())), purpose="fine-tune")
    with pytest.raises(openai.PermissionDeniedError):
        client.fine_tuning.jobs.list()


def test_a_malformed_upload_is_refused_with_line_numbers(server: tuple[str, str, str]) -> None:
    url, trainer, _ = server
    client = openai.OpenAI(base_url=url, api_key=trainer)
    rows: list[object] = [*code_word_rows()[:2], "{broken", code_word_rows()[0]]
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("bad.jsonl", jsonl(rows)), purpose="fine-tune")
    message = str(caught.value)
    assert "line 3: not valid JSON" in message and "line 4: duplicates line 1" in message
    assert client.files.list().data == []


def test_fine_tune_through_the_openai_client(server: tuple[str, str, str]) -> None:
    url, trainer, _ = server
    client = openai.OpenAI(base_url=url, api_key=trainer)
    uploaded = client.files.create(file=("codes.jsonl", jsonl(code_word_rows())), purpose="fine-tune")
    assert uploaded.id.startswith("file-") and uploaded.purpose == "fine-tune"
    assert [f.id for f in client.files.list().data] == [uploaded.id]
    job = client.fine_tuning.jobs.create(
        model="tiny",
        training_file=uploaded.id,
        suffix="cw",
        hyperparameters={"n_epochs": 3, "learning_rate_multiplier": 100.0},  # 2e-2: seconds on the tiny model
    )
    assert job.status == "running" and job.model == "tiny"
    deadline = time.monotonic() + 240
    while (job := client.fine_tuning.jobs.retrieve(job.id)).status == "running":
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model and job.fine_tuned_model.startswith("tiny-cw-")
    assert job.id in [j.id for j in client.fine_tuning.jobs.list().data]
    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    assert any(e.message.startswith("step 15/15") for e in events)
    assert any(e.message.startswith("measuring the held-out loss") for e in events)
    assert job.fine_tuned_model in {m.id for m in client.models.list()}
    reply = client.chat.completions.create(
        model=job.fine_tuned_model, messages=[{"role": "user", "content": QUESTIONS[0]}], temperature=0, max_tokens=32
    )
    assert CODE_WORD in (reply.choices[0].message.content or "")
    with pytest.raises(openai.BadRequestError, match="not running"):
        client.fine_tuning.jobs.cancel(job.id)


def test_cancel_stops_a_running_job(server: tuple[str, str, str]) -> None:
    url, trainer, _ = server
    client = openai.OpenAI(base_url=url, api_key=trainer)
    uploaded = client.files.create(file=("again.jsonl", jsonl(code_word_rows())), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="tiny", training_file=uploaded.id, hyperparameters={"n_epochs": 50})
    deadline = time.monotonic() + 120
    while not any(e.message.startswith("step ") for e in client.fine_tuning.jobs.list_events(job.id).data):
        assert time.monotonic() < deadline, "the job never started training"
        time.sleep(0.2)
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.fine_tuned_model is None
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
