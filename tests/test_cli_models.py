"""`enclave models …`, `enclave chat` and `--version` as a user runs them: output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import __version__
from engine.cli import main


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `enclave` in a real subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"enclave {__version__}"


def test_import_list_info_verify_default_remove(tiny_gguf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "import", str(tiny_gguf), "--name", "tiny"]) == 0
    assert "Imported tiny" in capsys.readouterr().out
    assert main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in listed] == ["tiny"] and listed[0]["default"] is True
    assert main(["models", "info", "tiny", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for key in (
        "architecture",
        "size_label",
        "quantization",
        "context_length",
        "embedding_length",
        "layer_count",
        "vocab_size",
        "license",
        "has_chat_template",
        "parameter_count",
        "kv_bytes_per_token",
    ):
        assert key in info["facts"]
    assert info["file_size"] == tiny_gguf.stat().st_size and len(info["sha256"]) == 64
    memory = info["memory_when_loaded"]
    assert memory["kv_cache_tokens"] == 4 * 512  # 4 parallel requests × the tiny model's context
    assert memory["kv_cache_bytes"] == 4 * 512 * info["facts"]["kv_bytes_per_token"]
    assert main(["models", "set", "tiny", "--parallel", "2"]) == 0
    capsys.readouterr()
    assert main(["models", "info", "tiny"]) == 0
    assert f"KV cache of {2 * 512 * info['facts']['kv_bytes_per_token'] / 1e6:,.0f} MB for 1,024 tokens" in (
        capsys.readouterr().out
    )
    assert main(["models", "verify", "tiny"]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    assert "* tiny" in capsys.readouterr().out
    assert main(["models", "remove", "tiny"]) == 0
    assert main(["models", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1]) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "import", "/nonexistent/x.gguf"], "no such file"),
        (["models", "info", "nope"], "unknown model 'nope'"),
        (["models", "import", "{tiny}", "--name", "../x"], "invalid model name"),
        (["models", "default", "nope"], "unknown model"),
    ],
)
def test_user_errors_are_one_line_with_exit_1(args: list[str], message: str, tiny_gguf: Path) -> None:
    result = run_cli(*[a.replace("{tiny}", str(tiny_gguf)) for a in args])
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_not_a_gguf_from_the_cli(tmp_path: Path) -> None:
    bogus = tmp_path / "photo.gguf"
    bogus.write_bytes(b"\x89PNG\r\n" + b"\0" * 100)
    result = run_cli("models", "import", str(bogus))
    assert result.returncode == 1 and "not a GGUF model file" in result.stderr
    assert "Traceback" not in result.stderr


def test_tampered_model_verify_exits_2(tiny_gguf: Path) -> None:
    assert run_cli("models", "import", str(tiny_gguf), "--name", "tiny").returncode == 0
    path = Path(os.environ["ENCLAVE_HOME"]) / "models" / "tiny.gguf"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    result = run_cli("models", "verify", "tiny")
    assert result.returncode == 2 and "failed verification" in result.stderr


def test_chat_streams_to_stdout(tiny_gguf: Path) -> None:
    assert run_cli("models", "import", str(tiny_gguf), "--name", "tiny").returncode == 0
    result = run_cli("chat", "--max-tokens", "8", "--seed", "1", "Hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "Traceback" not in result.stderr


def test_chat_without_any_model_is_a_clear_error() -> None:
    result = run_cli("chat", "Hello")
    assert result.returncode == 1 and "no default model" in result.stderr


def test_models_set_changes_settings(tiny_gguf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["models", "import", str(tiny_gguf), "--name", "tiny"])
    assert (
        main(
            [
                "models",
                "set",
                "tiny",
                "--context",
                "256",
                "--gpu-layers",
                "none",
                "--chat-template",
                "gemma",
                "--parallel",
                "2",
            ]
        )
        == 0
    )
    settings = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert settings == {**settings, "context_size": 256, "gpu_layers": "none", "chat_template": "gemma", "parallel": 2}


def test_chat_turns_are_stored_in_the_vault_and_continue(tiny_gguf: Path, enclave_home: Path) -> None:
    from engine.vault import Vault

    env = {"ENCLAVE_PASSPHRASE": "correct horse battery staple"}
    init = run_cli("init", "--kdf-memory-mib", "19", "--kdf-iterations", "2", "--kdf-lanes", "1", env=env)
    assert init.returncode == 0, init.stderr
    assert run_cli("models", "import", str(tiny_gguf), "--name", "tiny").returncode == 0
    first = run_cli("chat", "--max-tokens", "5", "First question", env=env)
    assert first.returncode == 0, first.stderr
    conversation = first.stderr.split("[conversation ")[1].split("]")[0]
    second = run_cli("chat", "--conversation", conversation, "--max-tokens", "5", "Second question", env=env)
    assert second.returncode == 0, second.stderr
    with Vault.unlock(enclave_home, env["ENCLAVE_PASSPHRASE"]) as vault:
        messages = vault.conversations.messages(conversation)
        assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
        assert messages[0].content == "First question" and messages[2].content == "Second question"
        label = messages[1].metadata
        assert label["ai_generated"] is True and label["model"] == "tiny" and len(label["model_sha256"]) == 64
    wrong = run_cli("chat", "hi", env={"ENCLAVE_PASSPHRASE": "wrong"})
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr


def test_chat_refuses_an_unapproved_model_when_the_allowlist_is_on(tiny_gguf: Path, enclave_home: Path) -> None:
    from engine.errors import UserError
    from engine.handle import COMMAND_LINE, Engine
    from engine.models import ModelRegistry
    from engine.policy import allowlist
    from engine.runtime import Runtime
    from engine.vault import FLOOR, Vault

    ModelRegistry().import_file(tiny_gguf, "tiny")
    vault, _ = Vault.init(enclave_home, "pw-for-allowlist-test", kdf=FLOOR)
    runtime = Runtime()
    try:
        allowlist.set_required(vault, True, actor="admin")
        with pytest.raises(UserError, match="not approved|allowlist"):
            Engine(runtime, vault, actor=COMMAND_LINE, owns=False).chat.send("hi")
        assert vault.conversations.list() == []  # refused before anything was stored
        allowlist.approve(vault, "tiny", actor="admin")
        chat = Engine(runtime, vault, actor=COMMAND_LINE, owns=False).chat
        assert chat.send("hi", params=None).finish().final is not None
    finally:
        runtime.close()
        vault.close()
