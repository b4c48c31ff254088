"""Against a scripted upstream: events pass through as they come, a client that leaves stops the upstream,
upstream errors are scrubbed, and TLS is checked against the admin's CA."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from engine.upstreams import add_upstream, list_with_health
from tests.api.conftest import Api
from tests.upstreams.conftest import client, log_count, logged_after
from tests.upstreams.fake import FakeUpstream, self_signed

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def fake(cert: tuple[Path, Path]) -> Iterator[FakeUpstream]:
    """The scripted upstream, over TLS with the self-signed certificate."""
    server = FakeUpstream(f"sk-fake-{secrets.token_hex(16)}", cert).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def registered(enclave: Api, fake: FakeUpstream, cert: tuple[Path, Path]) -> None:
    """`fake` trusted through its CA; `untrusted` is the same server without it."""
    ca = cert[0].read_text()
    add_upstream(enclave.vault, "fake", fake.url, api_key=fake.api_key, models=["fake=fake-model"], tls_ca=ca)
    add_upstream(enclave.vault, "untrusted", fake.url, api_key=fake.api_key, models=["untrusted=fake-model"])


def _reset(fake: FakeUpstream) -> None:
    fake.gate.clear()
    fake.finished.clear()
    fake.cancelled.clear()


def test_events_reach_the_client_before_the_upstream_has_finished(enclave: Api, fake: FakeUpstream) -> None:
    _reset(fake)
    before = log_count(enclave)
    stream = client(enclave).chat.completions.create(model="fake", messages=HELLO, stream=True)  # type: ignore[arg-type]
    texts = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            texts.append(chunk.choices[0].delta.content)
            if len(texts) == 1:
                # A buffering proxy could not have sent this yet: the upstream is still holding its stream.
                assert not fake.finished.is_set()
                fake.gate.set()
    assert texts == ["first", " second"]
    entry = logged_after(enclave, before)
    assert (entry.upstream, entry.model, entry.response_text) == ("fake", "fake", "first second")
    assert entry.completion_tokens == 2  # no usage from this upstream: one token per event


def test_a_client_that_leaves_stops_the_upstream_stream(enclave: Api, fake: FakeUpstream) -> None:
    _reset(fake)
    before = log_count(enclave)
    stream = client(enclave).chat.completions.create(model="fake", messages=HELLO, stream=True)  # type: ignore[arg-type]
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.close()
    assert fake.cancelled.wait(10), "Enclave kept the upstream stream open after its client left"
    assert not fake.finished.is_set()
    entry = logged_after(enclave, before)
    assert (entry.status, entry.upstream) == (499, "fake")


def test_upstream_refusals_are_passed_on_without_its_url_or_key(enclave: Api, fake: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(enclave).chat.completions.create(model="fake", messages=[{"role": "user", "content": "refuse"}])
    error = caught.value
    assert error.code == "context_length_exceeded"
    text = str(error.body) + error.message
    assert "context too long" in text  # the reason is kept
    for secret in (fake.api_key, fake.url, str(fake.port), "127.0.0.1", "fake-model"):
        assert secret not in text
    assert "model fake " in text  # the upstream's model id is replaced by the client's


def test_an_untrusted_certificate_is_refused(enclave: Api, fake: FakeUpstream) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(enclave).chat.completions.create(model="untrusted", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 503
    assert str(fake.port) not in str(caught.value.body)
    health = {s.upstream.name: s.health for s in list_with_health(enclave.vault)}
    assert health["fake"].ok and health["fake"].remote_models == ("fake-model",)
    assert not health["untrusted"].ok and "TLS" in (health["untrusted"].problem or "")


def test_an_upstream_failing_mid_stream_ends_the_stream_with_a_scrubbed_error(enclave: Api, fake: FakeUpstream) -> None:
    before = log_count(enclave)
    body = {"model": "fake", "messages": [{"role": "user", "content": "break"}], "stream": True}
    with enclave.client() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200  # the stream had begun
        events = [line[5:].strip() for line in response.iter_lines() if line.startswith("data:")]
    assert '"content":"first"' in events[1]
    assert "ran out of memory" in events[-1] and '"error"' in events[-1] and "[DONE]" not in events
    for secret in (fake.api_key, fake.url, str(fake.port)):
        assert secret not in "".join(events)
    entry = logged_after(enclave, before)
    assert (entry.upstream, entry.response_text) == ("fake", "first")


def test_an_upstreams_separate_thinking_reaches_the_client_as_reasoning_content(enclave: Api) -> None:
    think = [{"role": "user", "content": "think"}]
    stream = client(enclave).chat.completions.create(model="fake", messages=think, stream=True)  # type: ignore[arg-type]
    deltas = [c.choices[0].delta for c in stream if c.choices]
    thoughts = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    assert thoughts == "Let me see. Yes." and "".join(d.content or "" for d in deltas) == "It is so."
    whole = client(enclave).chat.completions.create(model="fake", messages=think)  # type: ignore[arg-type]
    message = whole.choices[0].message
    assert message.content == "It is so." and (message.model_extra or {})["reasoning_content"] == "Let me see. Yes."
