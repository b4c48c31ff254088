"""Registering upstreams: transport rules, model routes, encrypted storage, audit, and the CLI."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.errors import UserError
from engine.upstreams import add_upstream, list_upstreams, remove_upstream
from engine.upstreams.config import ModelRoute, model_routes, normalise_url
from engine.vault import FLOOR, Vault
from tests.upstreams.conftest import free_port

PASSPHRASE = "upstream test passphrase"
CANARY_KEY = "sk-canary-0c1d2e3f4a5b6c7d8e9f"


@pytest.fixture()
def vault(tmp_path: Path) -> Iterator[Any]:
    """A fresh vault of its own (these tests need no server)."""
    opened, _ = Vault.init(tmp_path / "home", PASSPHRASE, kdf=FLOOR)
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://vllm.corp:8000", "https://vllm.corp:8000/v1"),
        ("https://gw.corp/openai/v1/", "https://gw.corp/openai/v1"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("http://localhost:11434", "http://localhost:11434/v1"),
    ],
)
def test_urls_are_normalised_to_an_openai_base(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_plain_http_off_this_machine_needs_the_admins_explicit_consent() -> None:
    with pytest.raises(UserError, match="--allow-plain-http"):
        normalise_url("http://10.0.0.5:8000/v1")
    assert normalise_url("http://10.0.0.5:8000/v1", allow_plain_http=True) == "http://10.0.0.5:8000/v1"


@pytest.mark.parametrize("url", ["https://user:pw@vllm.corp/v1", "ftp://vllm.corp", "https:///v1", "https://h/v1?x=1"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(UserError):
        normalise_url(url)


def test_a_ca_needs_https() -> None:
    with pytest.raises(UserError, match="https"):
        normalise_url("http://127.0.0.1:1/v1", tls_ca="pem")


def test_model_ids_are_prefixed_or_mapped() -> None:
    routes = model_routes(["llama-3-70b", "fast=qwen2.5-7b"], prefix="cluster/")
    assert routes == (ModelRoute("cluster/llama-3-70b", "llama-3-70b"), ModelRoute("fast", "qwen2.5-7b"))
    with pytest.raises(UserError, match="twice"):
        model_routes(["a", "a"])
    with pytest.raises(UserError):
        model_routes(["has space"])
    with pytest.raises(UserError):
        model_routes([])


def test_a_definition_is_stored_encrypted_and_its_registration_audited(vault: Any) -> None:
    add_upstream(vault, "corp", "https://vllm.corp:8000", api_key=CANARY_KEY, models=["m"], actor="cli")
    [stored] = list_upstreams(vault)
    assert (stored.url, stored.api_key) == ("https://vllm.corp:8000/v1", CANARY_KEY)
    assert stored.models == (ModelRoute("m", "m"),)
    assert CANARY_KEY not in repr(stored)
    audit = [e for e in vault.audit.entries() if e.event == "upstream_add"]
    assert audit and audit[-1].actor == "cli" and audit[-1].details["api_key"] is True
    assert CANARY_KEY not in str(audit[-1].details)
    vault.close()
    home = vault.home
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert CANARY_KEY.encode() not in data and b"vllm.corp" not in data, path.name


def test_names_are_unique_and_removal_is_audited(vault: Any) -> None:
    add_upstream(vault, "corp", "https://vllm.corp", models=["m"])
    with pytest.raises(UserError, match="exists"):
        add_upstream(vault, "corp", "https://other.corp", models=["m"])
    with pytest.raises(UserError, match="invalid upstream name"):
        add_upstream(vault, "Bad Name", "https://other.corp", models=["m"])
    with pytest.raises(UserError, match="either"):
        add_upstream(vault, "both", "https://other.corp", models=["m"], discover=True)
    remove_upstream(vault, "corp")
    assert list_upstreams(vault) == []
    assert [e.event for e in vault.audit.entries()][-1] == "upstream_remove"


def test_registering_with_listed_models_contacts_nothing(vault: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    add_upstream(vault, "corp", "https://vllm.corp", api_key="k", models=["a", "b"])
    list_upstreams(vault)
    assert attempts == []


def test_cli_add_list_check_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "cli-home"
    Vault.init(home, PASSPHRASE, kdf=FLOOR)[0].close()
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", PASSPHRASE)
    key_file = tmp_path / "key"
    key_file.write_text(CANARY_KEY + "\n")
    dead = f"http://127.0.0.1:{free_port()}"
    assert main(["upstreams", "add", "down", "--url", dead, "--api-key-file", str(key_file),
                 "--models", "tiny,fast=big-model", "--prefix", "c/"]) == 0
    assert main(["upstreams", "list"]) == 0
    out = capsys.readouterr().out
    assert "down" in out and "c/tiny=tiny,fast=big-model" in out and CANARY_KEY not in out
    assert main(["upstreams", "check"]) == 1  # nothing listens there
    out, err = capsys.readouterr()
    assert "connection refused" in out and CANARY_KEY not in out + err
    assert main(["upstreams", "add", "far", "--url", "http://10.1.2.3:8000", "--models", "m"]) == 1
    assert "--allow-plain-http" in capsys.readouterr().err
    assert main(["upstreams", "remove", "down"]) == 0
    assert main(["upstreams", "list", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
