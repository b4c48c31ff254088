"""`enclave chat --model SERVER/MODEL` against a real appliance: streamed, stored encrypted on the desktop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.vault import Vault
from tests.pairing.conftest import PASSPHRASE, ROOT, SERVE, Appliance, cli


def test_cli_chat_with_a_paired_server(appliance: Appliance, desktop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = appliance.pair("frank-laptop", capsys)
    assert cli(desktop, "remote", "add", "hospital-gpu", code, capsys=capsys)[0] == 0
    env = {**os.environ, "ENCLAVE_HOME": str(desktop), "ENCLAVE_PASSPHRASE": PASSPHRASE, "ENCLAVE_NO_DEMO": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "chat", "--model", "hospital-gpu/tiny", "--max-tokens", "24", "--seed", "1",
         "canary-cli-91c2 hello"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    assert process.stdout is not None
    pieces = []
    while piece := process.stdout.read1(4096):  # what the terminal sees, as it arrives
        pieces.append(piece)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    printed = b"".join(pieces).decode().rstrip("\n")
    with Vault.unlock(desktop, PASSPHRASE) as vault:
        conversation = vault.conversations.list()[0]
        stored = vault.conversations.messages(conversation.id)
    assert stored[0].content == "canary-cli-91c2 hello" and stored[1].content == printed
    assert stored[1].metadata["served_by"] == "remote" and conversation.model == "hospital-gpu/tiny"
    on_disk = b"".join(p.read_bytes() for p in desktop.rglob("vault*") if p.is_file())
    assert b"canary-cli-91c2" not in on_disk

    appliance.stop()
    try:
        status, _, err = cli(desktop, "chat", "--model", "hospital-gpu/tiny", "still there?", capsys=capsys)
        assert status == 1 and "cannot be reached" in err and "Traceback" not in err
    finally:
        appliance.start()


def test_stop_ends_a_remote_reply_at_once(
    appliance: Appliance, desktop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.backends import ChatRequest, RemoteBackend
    from engine.runtime import GenerationParams

    code = appliance.pair("grace-laptop", capsys)
    assert cli(desktop, "remote", "add", "hospital-gpu", code, capsys=capsys)[0] == 0
    with Vault.unlock(desktop, PASSPHRASE) as vault:
        backend = RemoteBackend(vault)
        assert [m.name for m in backend.models()] == ["hospital-gpu/tiny"]
        ref = backend.find("hospital-gpu/tiny")
        assert ref is not None and ref.origin == "hospital-gpu" and backend.find("elsewhere/tiny") is None
        # The tiny model's end-of-generation tokens are banned: left alone, the reply would run to max_tokens.
        never_ends = GenerationParams(max_tokens=400, logit_bias=((2, -100.0), (4, -100.0)))
        request = ChatRequest([{"role": "user", "content": "tell me a long story"}], never_ends)
        stream = backend.chat(ref, request)
        chunks = iter(stream)
        first = next(chunks)
        assert first.text and stream.served_by == "hospital-gpu"
        stream.cancel()
        rest = list(chunks)
    # Left alone, this reply ends with "length"; cancelled, it ends marked so (after what was already received).
    assert stream.final is not None and stream.final.finish_reason == "cancelled"
    assert rest[-1] is stream.final
