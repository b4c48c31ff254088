"""OpenAI's Files and Vector Stores over document collections, through the official `openai` client
against a real server: upload a real DOCX and a text file, add them to a store, search (the right passage
first, with its page), list and delete; the key rules (`collections`, `collections_write`) give 403;
`file_search` in the Responses API answers with a file_search_call item and file_citation annotations."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.api.conftest import Api, start_api, stop_api
from tests.conftest import module_enclave_home
from tests.documents.files import write_docx, write_pdf

ALLOWANCE = "Remote staff receive a monthly internet allowance of forty euros."
PARKING = "Bicycles must be parked in the covered racks behind building D."


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> Iterator[tuple[Api, dict[str, str]]]:
    with module_enclave_home(tmp_path_factory, "stores-home") as home:
        api = start_api(home, tiny_gguf)
        try:
            keys = {}
            for name, rules in {
                "writer": {"collections_write": ["*"], "store_content": False},
                "reader": {"collections": ["policies"]},
                "outsider": {},
            }.items():
                _, keys[name] = api.vault.api_keys.create(name, **rules)  # type: ignore[arg-type]
            yield api, keys
        finally:
            stop_api(api)


@pytest.fixture(autouse=True)
def enclave_home(served: tuple[Api, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's home (the default embedding model's file lives there)."""
    home = served[0].engine.home
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    return home


def client(served: tuple[Api, dict[str, str]], who: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=served[0].base, api_key=served[1][who], max_retries=0)


@pytest.fixture(scope="module")
def store(served: tuple[Api, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """A store `policies` holding a DOCX and a two-page PDF, filled through the API by the writer."""
    writer = client(served, "writer")
    folder = tmp_path_factory.mktemp("upload")
    docx = write_docx(folder / "policy.docx", "Allowances", ["Staff handbook, section four.", ALLOWANCE])
    pdf = write_pdf(folder / "site.pdf", ["Visitors sign in at reception.", PARKING])
    assert writer.files.list().data == []  # may upload, has not yet
    created = writer.vector_stores.create(name="policies")
    ids = []
    for path in (docx, pdf):
        with path.open("rb") as handle:
            uploaded = writer.files.create(file=(path.name, handle), purpose="assistants")
        assert uploaded.purpose == "assistants" and uploaded.bytes == path.stat().st_size
        added = writer.vector_stores.files.create(vector_store_id=created.id, file_id=uploaded.id)
        assert added.status == "completed" and added.id == uploaded.id
        ids.append(uploaded.id)
    return created.id, ids[0], ids[1]


def test_a_store_is_filled_and_searched_through_the_sdk(
    served: tuple[Api, dict[str, str]], store: tuple[str, str, str]
) -> None:
    store_id, docx_id, pdf_id = store
    writer = client(served, "writer")
    assert writer.vector_stores.retrieve(store_id).file_counts.completed == 2
    assert [s.name for s in writer.vector_stores.list()] == ["policies"]
    assert {f.id for f in writer.vector_stores.files.list(vector_store_id=store_id)} == {docx_id, pdf_id}
    assert writer.files.retrieve(docx_id).filename == "policy.docx"
    assert [f.id for f in writer.files.list()] == [docx_id, pdf_id]

    hits = list(writer.vector_stores.search(store_id, query="how much money do home workers get for internet"))
    assert hits[0].file_id == docx_id and hits[0].filename == "policy.docx"
    assert "forty euros" in hits[0].content[0].text and hits[0].content[0].type == "text"
    bike = list(writer.vector_stores.search(store_id, query="where do I leave my bicycle", max_num_results=1))
    assert len(bike) == 1 and bike[0].file_id == pdf_id and (bike[0].attributes or {})["page"] == 2

    # The writer logs no texts: the search is audited without its query.
    events = [e for e in served[0].vault.audit.entries() if e.event == "documents_search"]
    assert events and all("query" not in (e.details or {}) for e in events)
    assert "internet" not in json.dumps([e.details for e in events])


def test_keys_reach_only_their_collections(served: tuple[Api, dict[str, str]], store: tuple[str, str, str]) -> None:
    store_id, docx_id, _ = store
    reader, outsider = client(served, "reader"), client(served, "outsider")
    assert list(reader.vector_stores.search(store_id, query="internet allowance"))[0].file_id == docx_id
    with pytest.raises(openai.PermissionDeniedError):
        reader.vector_stores.create(name="reader-made")
    with pytest.raises(openai.PermissionDeniedError):
        reader.vector_stores.delete(store_id)
    with pytest.raises(openai.PermissionDeniedError):
        reader.files.create(file=("a.txt", io.BytesIO(b"hello")), purpose="assistants")
    assert outsider.vector_stores.list().data == []
    with pytest.raises(openai.PermissionDeniedError):
        outsider.vector_stores.search(store_id, query="internet allowance")
    with pytest.raises(openai.PermissionDeniedError):
        outsider.vector_stores.files.list(vector_store_id=store_id)
    with pytest.raises(openai.NotFoundError):  # another key's upload is not there for it
        outsider.files.retrieve(docx_id)
    with pytest.raises(openai.NotFoundError):
        reader.vector_stores.search("vs_" + "0" * 32, query="x")


def test_file_search_answers_with_citations(served: tuple[Api, dict[str, str]], store: tuple[str, str, str]) -> None:
    store_id, docx_id, _ = store
    reader = client(served, "reader")
    tools = [{"type": "file_search", "vector_store_ids": [store_id], "max_num_results": 2}]
    response = reader.responses.create(
        model="tiny",
        input="How much is the internet allowance?",
        tools=tools,  # type: ignore[arg-type]
        max_output_tokens=4,
        include=["file_search_call.results"],
    )
    call = response.output[0]
    assert call.type == "file_search_call" and call.queries == ["How much is the internet allowance?"]
    assert call.results and call.results[0].file_id == docx_id
    message = next(item for item in response.output if item.type == "message")
    citations = message.content[0].annotations  # type: ignore[union-attr]
    assert citations and citations[0].type == "file_citation" and citations[0].file_id == docx_id

    events = list(
        reader.responses.create(
            model="tiny",
            input="internet allowance?",
            tools=tools,  # type: ignore[arg-type]
            max_output_tokens=4,
            stream=True,
        )
    )
    kinds = [e.type for e in events]
    assert kinds.index("response.file_search_call.completed") < kinds.index("response.output_text.annotation.added")
    done = events[-1]
    assert done.type in ("response.completed", "response.incomplete")  # max_output_tokens cuts the tiny model
    assert done.response.output[0].type == "file_search_call"

    outsider = client(served, "outsider")
    with pytest.raises(openai.PermissionDeniedError):
        outsider.responses.create(model="tiny", input="allowance?", tools=tools, max_output_tokens=2)  # type: ignore[arg-type]


def test_deleting_files_and_stores(served: tuple[Api, dict[str, str]], tmp_path: Path) -> None:
    writer = client(served, "writer")
    scratch = writer.vector_stores.create(name="scratch")
    uploaded = writer.files.create(
        file=("note.txt", io.BytesIO(b"The spare key hangs in the red cabinet.")), purpose="assistants"
    )
    writer.vector_stores.files.create(vector_store_id=scratch.id, file_id=uploaded.id)
    assert list(writer.vector_stores.search(scratch.id, query="spare key"))[0].file_id == uploaded.id
    home = served[0].engine.home
    leaks = [p for p in home.rglob("*") if p.is_file() and b"red cabinet" in p.read_bytes()]
    assert leaks == []  # the upload, its text, chunks and vectors are only ciphertext on disk
    assert writer.vector_stores.files.delete(file_id=uploaded.id, vector_store_id=scratch.id).deleted
    assert list(writer.vector_stores.search(scratch.id, query="spare key")) == []
    assert writer.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        writer.files.retrieve(uploaded.id)
    assert writer.vector_stores.delete(scratch.id).deleted
    with pytest.raises(openai.NotFoundError):
        writer.vector_stores.retrieve(scratch.id)
    assert "scratch" not in [c.name for c in served[0].engine.documents.collections()]
