"""An assistant answers through the official `openai` client with its citations, appears in /v1/models,
and a key whose model rule leaves it out gets 403."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from engine.documents import assistants
from tests.api.conftest import Api, start_api, stop_api
from tests.conftest import module_enclave_home


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> Iterator[Api]:
    with module_enclave_home(tmp_path_factory, "assistant-home") as home:
        api = start_api(home, tiny_gguf)
        try:
            folder = tmp_path_factory.mktemp("hr")
            (folder / "leave.txt").write_text("New employees receive twenty-eight days of paid annual leave.")
            (folder / "travel.txt").write_text("Train tickets are booked through the travel desk in building C.")
            report = api.engine.documents.add([folder], "HR", actor="cli")
            assert report.count("added") == 2
            assistants.create(
                api.vault,
                "hr-helper",
                model="tiny",
                collections=["HR"],
                known_models={"tiny"},
                system="You help staff with HR questions.",
                actor="cli",
            )
            yield api
        finally:
            stop_api(api)


@pytest.fixture(autouse=True)
def enclave_home(served: Api, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's home for every test here (the embedding model's file lives there)."""
    home = served.engine.home
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    return home


def test_assistant_is_a_model_and_answers_with_citations(served: Api) -> None:
    client = openai.OpenAI(base_url=served.base, api_key=served.key, max_retries=0)
    assert "hr-helper" in [m.id for m in client.models.list()]
    reply = client.chat.completions.create(
        model="hr-helper",
        messages=[{"role": "user", "content": "How many vacation days do new staff get?"}],
        max_tokens=8,
    )
    cited = (reply.model_extra or {})["enclave_citations"]
    assert cited[0]["document"] == "leave.txt" and "twenty-eight days" in cited[0]["quote"]
    assert {"index", "document", "page", "quote", "collection"} <= set(cited[0])
    chunks = list(
        client.chat.completions.create(
            model="hr-helper",
            messages=[{"role": "user", "content": "Where do I book train tickets?"}],
            max_tokens=8,
            stream=True,
        )
    )
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert final and (final[-1].model_extra or {})["enclave_citations"][0]["document"] == "travel.txt"


def test_a_key_without_the_assistant_gets_403(served: Api) -> None:
    _, secret = served.vault.api_keys.create("tiny-only", models=["tiny"])
    client = openai.OpenAI(base_url=served.base, api_key=secret, max_retries=0)
    assert "hr-helper" not in [m.id for m in client.models.list()]
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="hr-helper", messages=[{"role": "user", "content": "leave?"}])
