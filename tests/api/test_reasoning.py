"""A reasoning model's thinking reaches OpenAI clients as `reasoning_content`, apart from the answer."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from engine.models import ModelRegistry
from tests.api.conftest import Api
from tests.tiny_gguf import write_tiny_gguf

# Like DeepSeek-R1's: the template opens the thinking block, so the reply starts inside it. The tiny
# random model never writes </think>, so all it writes is thinking.
THINKER_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
)
ASK = [{"role": "user", "content": "Why is the sky blue?"}]
NO_EOS = {"2": -100, "4": -100}


@pytest.fixture(scope="module")
def client(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    path = write_tiny_gguf(tmp_path_factory.mktemp("models") / "thinker.gguf", chat_template=THINKER_TEMPLATE)
    ModelRegistry().import_file(path, "tiny-thinker")
    yield openai.OpenAI(base_url=api.base, api_key=api.key, max_retries=0, timeout=60)


def test_thinking_is_reasoning_content_not_the_answer(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="tiny-thinker", messages=ASK, max_tokens=12, seed=1, logit_bias=NO_EOS)
    message = reply.choices[0].message
    thinking = (message.model_extra or {}).get("reasoning_content")
    assert thinking and message.content == ""
    # The same request to a model whose template opens nothing: the same text is the answer.
    plain = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=12, seed=1, logit_bias=NO_EOS)
    assert plain.choices[0].message.content and not (plain.choices[0].message.model_extra or {}).get(
        "reasoning_content"
    )


def test_thinking_streams_as_reasoning_content(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny-thinker", messages=ASK, max_tokens=12, seed=1, logit_bias=NO_EOS, stream=True
    )
    deltas = [c.choices[0].delta for c in stream if c.choices]
    thoughts = [(d.model_extra or {}).get("reasoning_content") for d in deltas]
    assert len([t for t in thoughts if t]) > 1  # streamed, piece by piece
    assert not "".join(d.content or "" for d in deltas)
    whole = client.chat.completions.create(model="tiny-thinker", messages=ASK, max_tokens=12, seed=1, logit_bias=NO_EOS)
    assert "".join(t or "" for t in thoughts) == (whole.choices[0].message.model_extra or {})["reasoning_content"]


def test_under_a_grammar_there_is_no_thinking(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny-thinker", messages=ASK, max_tokens=60, seed=1, response_format={"type": "json_object"}
    )
    message = reply.choices[0].message
    assert message.content and message.content.lstrip().startswith("{")
    assert not (message.model_extra or {}).get("reasoning_content")


def test_logprobs_are_the_answers_only(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny-thinker", messages=ASK, max_tokens=6, seed=1, logit_bias=NO_EOS, logprobs=True
    )
    assert reply.choices[0].message.content == "" and not (reply.choices[0].logprobs.content or [])
    plain = client.chat.completions.create(
        model="tiny", messages=ASK, max_tokens=6, seed=1, logit_bias=NO_EOS, logprobs=True
    )
    assert len(plain.choices[0].logprobs.content or []) == 6
    stream = client.chat.completions.create(
        model="tiny-thinker", messages=ASK, max_tokens=6, seed=1, logit_bias=NO_EOS, logprobs=True, stream=True
    )
    assert not [c for c in stream if c.choices and c.choices[0].logprobs and c.choices[0].logprobs.content]
