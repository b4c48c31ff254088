"""An assistant (issue 27) over an adapted model: `enclave assistants create NAME --model ADAPTED` on a LoRA
trained from a dataset, served by `enclave serve` and asked through the official `openai` client. The
adapter's code word in its answer shows the adapter is applied under the assistant's grounded prompt; the
same assistant over the base model does not say it.

The rows teach the code word under the prompt the assistant sends (its system prompt, the grounding
instructions and the handbook's passage), as an organisation would train a model for its assistant: the
tiny test model learns that one prompt in seconds, not the task in general.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from engine.documents.answer import grounded_system_prompt
from engine.documents.library import SearchResult
from tests.api.serving import free_port, wait_until_healthy
from tests.training.conftest import CLI, CODE_WORD, FAST, QUESTIONS, ROOT, enclave, env, write_jsonl

DRILL = "The quarterly drill starts at nine. Staff gather in the car park."
SYSTEM = "Be brief."


def grounded_rows() -> list[dict[str, object]]:
    """The code word as the answer to each question, under the assistant's grounded system prompt."""
    passage = SearchResult("", "drills.txt", "handbook", None, None, DRILL, 1.0)
    system = grounded_system_prompt([passage], SYSTEM)
    return [
        {"messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
            {"role": "assistant", "content": f"The code word is {CODE_WORD}."},
        ]}
        for question in QUESTIONS
    ]


@pytest.fixture(scope="module")
def served(train_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """'tiny-cw' trained, a handbook collection, assistants over it and over the base; the server's URL and a key."""
    tmp = tmp_path_factory.mktemp("adapted-assistant")
    source = write_jsonl(tmp / "codes.jsonl", grounded_rows())
    steps = [
        ("datasets", "import", str(source), "--name", "codes"),
        ("train", "--model", "tiny", "--dataset", "codes", "--name", "tiny-cw", *FAST),
    ]
    handbook = tmp / "handbook"
    handbook.mkdir()
    (handbook / "drills.txt").write_text(DRILL)
    steps += [
        ("docs", "add", str(handbook), "--collection", "handbook"),
        ("assistants", "create", "cw-helper", "--model", "tiny-cw", "--docs", "handbook", "--system", SYSTEM),
        ("assistants", "create", "plain-helper", "--model", "tiny", "--docs", "handbook", "--system", SYSTEM),
    ]
    for step in steps:
        done = enclave(train_home, *step, tmp=tmp)
        assert done.returncode == 0, f"{step}: {done.stdout}{done.stderr}"
    secret = enclave(train_home, "keys", "create", "--name", "assistant-api").stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [os.sys.executable, "-c", CLI, "serve", "--port", str(port)],
        env=env(train_home), stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        wait_until_healthy(server, port)
        yield f"http://127.0.0.1:{port}/v1", secret
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_an_assistant_over_an_adapted_model_answers_through_the_openai_client(served: tuple[str, str]) -> None:
    base_url, secret = served
    client = openai.OpenAI(base_url=base_url, api_key=secret, max_retries=0)
    listed = {m.id for m in client.models.list()}
    assert {"tiny-cw", "cw-helper", "plain-helper"} <= listed
    question = [{"role": "user", "content": QUESTIONS[0]}]
    reply = client.chat.completions.create(model="cw-helper", messages=question, temperature=0, max_tokens=32)
    assert CODE_WORD in (reply.choices[0].message.content or "")
    assert reply.model == "cw-helper"
    cited = (reply.model_extra or {})["enclave_citations"]
    assert cited and cited[0]["document"] == "drills.txt"
    streamed = client.chat.completions.create(
        model="cw-helper", messages=question, temperature=0, max_tokens=32, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert CODE_WORD in text
    # The same assistant over the base model: the code word came from the adapter.
    plain = client.chat.completions.create(model="plain-helper", messages=question, temperature=0, max_tokens=32)
    assert CODE_WORD not in (plain.choices[0].message.content or "")
