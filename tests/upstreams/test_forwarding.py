"""Through the official openai client: Enclave lists, forwards and streams an upstream's model, under policy."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from engine.policy.keys import issue_key
from engine.policy.offline import is_local_host
from engine.upstreams import add_upstream, list_with_health, remove_upstream
from tests.api.conftest import Api
from tests.upstreams.conftest import LlamaServer, client, log_count, logged_after

# Random tiny-model weights: forbid the end-of-generation tokens (</s>, <|im_end|>) so a reply has tokens.
NO_EOS = {"2": -100, "4": -100}

MODEL = "cluster/tiny-up"
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module", autouse=True)
def registered(enclave: Api, upstream_a: LlamaServer) -> Iterator[None]:
    """Upstream `a` serves `tiny-up`, offered here as `cluster/tiny-up`."""
    add_upstream(enclave.vault, "a", upstream_a.url, api_key=upstream_a.api_key, models=["tiny-up"],
                 prefix="cluster/", actor="test")
    yield


def test_models_merge_local_and_upstream(enclave: Api) -> None:
    ids = {m.id for m in client(enclave).models.list().data}
    assert {"tiny", MODEL} <= ids
    assert "tiny-up" not in ids  # the upstream's own name stays behind the prefix
    assert client(enclave).models.retrieve(MODEL).id == MODEL


def test_a_key_only_sees_the_models_it_may_use(enclave: Api) -> None:
    _, local_only = issue_key(enclave.vault, "local-only", models=["tiny"], actor="test")
    ids = {m.id for m in client(enclave, local_only).models.list().data}
    assert ids == {"tiny"}


def test_plain_chat_is_forwarded_and_logged_with_its_upstream(enclave: Api) -> None:
    before = log_count(enclave)
    reply = client(enclave).chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=5, logit_bias=NO_EOS  # type: ignore[arg-type]
    )
    assert reply.model == MODEL
    assert isinstance(reply.choices[0].message.content, str)
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    entry = logged_after(enclave, before)
    assert (entry.upstream, entry.model, entry.status) == ("a", MODEL, 200)
    assert entry.prompt_tokens == reply.usage.prompt_tokens
    assert entry.completion_tokens == reply.usage.completion_tokens
    assert entry.request_text is not None and "Hello" in entry.request_text
    assert entry.response_text == reply.choices[0].message.content


def test_streamed_chat_passes_through_chunk_by_chunk(enclave: Api) -> None:
    before = log_count(enclave)
    stream = client(enclave).chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=6, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True}, logit_bias=NO_EOS,
    )
    chunks = list(stream)
    assert {c.model for c in chunks} == {MODEL}
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content is not None]
    assert len(deltas) >= 2  # several events, not one buffered blob
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0
    entry = logged_after(enclave, before)
    assert (entry.upstream, entry.status) == ("a", 200)
    assert entry.response_text == "".join(deltas)
    assert entry.completion_tokens == usage.completion_tokens


def test_completions_and_embeddings_are_forwarded(enclave: Api) -> None:
    api = client(enclave)
    before = log_count(enclave)
    completion = api.completions.create(model=MODEL, prompt="Once", max_tokens=3)
    assert completion.model == MODEL and isinstance(completion.choices[0].text, str)
    assert logged_after(enclave, before).upstream == "a"
    before += 1
    with httpx.Client(base_url=enclave.server.url, headers={"Authorization": f"Bearer {enclave.key}"}) as http:
        response = http.post("/v1/embeddings", json={"model": MODEL, "input": "hello"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == MODEL and response.json()["data"]
    assert logged_after(enclave, before).upstream == "a"


def test_local_models_are_still_served_locally(enclave: Api) -> None:
    before = log_count(enclave)
    reply = client(enclave).chat.completions.create(model="tiny", messages=HELLO, max_tokens=2)  # type: ignore[arg-type]
    assert reply.model == "tiny"
    assert logged_after(enclave, before).upstream is None


def test_a_key_not_allowed_the_model_gets_403_before_forwarding(enclave: Api) -> None:
    _, secret = issue_key(enclave.vault, "tiny-only", models=["tiny"], actor="test")
    before = log_count(enclave)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client(enclave, secret).chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.code == "model_not_allowed"
    entry = logged_after(enclave, before)
    assert (entry.status, entry.upstream) == (403, None)  # refused here: the upstream never saw it
    violations = [e for e in enclave.vault.audit.entries() if e.event == "policy_violation"]
    assert violations and violations[-1].details["model"] == MODEL


def test_requests_per_minute_apply_to_upstream_models(enclave: Api) -> None:
    _, secret = issue_key(enclave.vault, "one-rpm", rpm=1, actor="test")
    api = client(enclave, secret)
    api.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=1)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError):
        api.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=1)  # type: ignore[arg-type]


def test_tokens_per_day_are_charged_from_upstream_usage(enclave: Api) -> None:
    _, secret = issue_key(enclave.vault, "small-budget", tokens_per_day=10, actor="test")
    api = client(enclave, secret)
    first = api.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=50)  # type: ignore[arg-type]
    assert first.usage is not None and first.usage.completion_tokens <= 10  # capped to the budget left
    with pytest.raises(openai.RateLimitError) as caught:
        api.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=1)  # type: ignore[arg-type]
    assert caught.value.code == "tokens_per_day_exceeded"


def test_discovery_and_health_check_ask_the_upstream(enclave: Api, upstream_a: LlamaServer) -> None:
    found = add_upstream(enclave.vault, "disc", upstream_a.url, api_key=upstream_a.api_key, discover=True, prefix="d/")
    try:
        assert [r.id for r in found.models] == ["d/tiny-up"]
        statuses = {s.upstream.name: s for s in list_with_health(enclave.vault)}
        assert statuses["a"].health.ok and statuses["a"].missing_models == ()
    finally:
        remove_upstream(enclave.vault, "disc")


def test_only_a_forwarded_request_contacts_an_upstream(enclave: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # At the HTTP transport: the server runs on uvloop, whose lookups bypass the socket module.
    contacted: list[str] = []
    real = httpx.AsyncHTTPTransport.handle_async_request

    async def spy(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        if not is_local_host(request.url.host):
            contacted.append(request.url.host)
            raise httpx.ConnectError("no network in this test", request=request)
        return await real(self, request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", spy)
    add_upstream(enclave.vault, "far", "https://upstream.invalid", models=["far-model"])
    try:
        api = client(enclave)
        assert "far-model" in {m.id for m in api.models.list().data}
        assert api.models.retrieve("far-model").id == "far-model"
        api.chat.completions.create(model="tiny", messages=HELLO, max_tokens=1)  # type: ignore[arg-type]
        assert contacted == []  # listing, model cards and local chats stay on this machine
        with pytest.raises(openai.APIStatusError) as caught:
            api.chat.completions.create(model="far-model", messages=HELLO)  # type: ignore[arg-type]
        assert caught.value.status_code == 503 and "upstream.invalid" not in str(caught.value.body)
        assert set(contacted) == {"upstream.invalid"}  # the registered host, and nothing else
    finally:
        remove_upstream(enclave.vault, "far")


def test_an_upstreams_logprobs_reach_the_client(enclave: Api) -> None:
    reply = client(enclave).chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=3, logit_bias=NO_EOS, logprobs=True, top_logprobs=2  # type: ignore[arg-type]
    )
    items = reply.choices[0].logprobs.content if reply.choices[0].logprobs else None
    assert items and all(isinstance(i.logprob, float) for i in items)
    assert "".join(i.token for i in items) == reply.choices[0].message.content
