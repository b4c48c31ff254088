"""Work ahead: while a finished conversation waits for its next turn, the model evaluates what that turn
will start with (the reply's last token, the chat template's change of turn, or the framing a raw
transcript's own turns began with)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.models import ModelRegistry
from engine.models.registry import ModelRecord
from engine.models.templates import BUILTIN_TEMPLATES, ChatTemplate, render_chat, resolve_template, turn_change
from engine.runtime import CancelToken, Chunk, GenerationParams, Runtime
from engine.runtime.batch import BatchedModel

CUT = GenerationParams(max_tokens=5, temperature=0.0, ignore_eos=True)


def _reply(model: BatchedModel, prompt: list[int], params: GenerationParams, **admit: Any) -> list[Any]:
    """Admit one request and step until it is done; everything it emitted."""
    out: list[Any] = []
    model.admit(prompt, params, CancelToken(), out.append, 0.0, **admit)
    while model.active:
        model.step()
    return out


def _greedy_answer(model: BatchedModel, prompt: list[int]) -> tuple[str, list[float]]:
    """The greedy reply to `prompt` and the log-probability of each of its tokens."""
    params = GenerationParams(max_tokens=6, temperature=0.0, ignore_eos=True, logprobs=0)
    chunks = [c for c in _reply(model, prompt, params) if isinstance(c, Chunk)]
    return "".join(c.text for c in chunks), [lp.logprob for c in chunks for lp in c.logprobs]


def test_a_cut_reply_leaves_its_last_token_and_the_turn_change_to_evaluate(tiny_model: ModelRecord) -> None:
    model = BatchedModel(tiny_model)
    try:
        prompt = model.tokenize("Tell me about the sea")
        change = tuple(model.tokenize("\nUser:", add_bos=False))
        _reply(model, prompt, CUT, turn_change=change)
        slot = next(s for s in model.slots if s.tokens)
        # The prompt and four of the five reply tokens are in the cache; the fifth was only sampled.
        assert len(slot.tokens) == len(prompt) + 4
        assert len(slot.ahead) == 1 + len(change) and tuple(slot.ahead[1:]) == change
        last = slot.ahead[0]
        assert model.has_work_ahead
        model.step()  # nothing else to do: the step evaluates the expected continuation
        assert not model.has_work_ahead and slot.ahead == []
        assert slot.tokens[-1 - len(change) :] == [last, *change]
    finally:
        model.close()


def test_a_returning_turn_evaluates_only_its_new_tokens_and_answers_as_if_cold(tiny_model: ModelRecord) -> None:
    warm, cold = BatchedModel(tiny_model), BatchedModel(tiny_model)
    try:
        first = warm.tokenize("Once upon a time")
        change = tuple(warm.tokenize(" and then", add_bos=False))
        _reply(warm, first, CUT, turn_change=change)
        slot = next(s for s in warm.slots if s.tokens)
        reply = slot.tokens[len(first) :] + slot.ahead[:1]
        warm.step()  # work ahead
        second = first + reply + list(change) + warm.tokenize(" the end", add_bos=False)
        final = [c for c in _reply(warm, second, CUT) if isinstance(c, Chunk) and c.usage][0]
        assert final.usage is not None
        assert final.usage.evaluated_prompt_tokens == len(warm.tokenize(" the end", add_bos=False))
        # The cache built ahead holds what evaluating the whole prompt would: same answer, same logits.
        warm_text, warm_logprobs = _greedy_answer(warm, second)
        cold_text, cold_logprobs = _greedy_answer(cold, second)
        assert warm_text == cold_text
        assert warm_logprobs == pytest.approx(cold_logprobs, rel=1e-2, abs=1e-3)
    finally:
        warm.close()
        cold.close()


def test_after_end_of_turn_only_the_turn_change_is_ahead(tiny_model: ModelRecord) -> None:
    model = BatchedModel(tiny_model)
    try:
        eos = model.model.token_eos()
        change = tuple(model.tokenize("\nUser:", add_bos=False))
        end_now = GenerationParams(max_tokens=5, temperature=0.0, logit_bias=((eos, 100.0),))
        out = _reply(model, model.tokenize("Hello"), end_now, turn_change=change)
        assert [c.finish_reason for c in out if isinstance(c, Chunk)] == ["stop"]
        slot = next(s for s in model.slots if s.tokens)
        assert tuple(slot.ahead) == change  # the end-of-turn token itself is the template's to write
        model.step()
        # A plain completion (no template) that ends has nothing to expect.
        _reply(model, model.tokenize("Goodbye"), end_now)
        assert not model.has_work_ahead
    finally:
        model.close()


def _sent_back(model: BatchedModel, prompt: list[int]) -> list[int]:
    """`prompt` and the reply the model has just given to it, as a client keeping a transcript sends it
    back (token for token: the tiny model's random replies rarely survive a round trip through text)."""
    slot = next(s for s in model.slots if s.tokens[: len(prompt)] == prompt)
    reply = slot.tokens[len(prompt) :]
    last = slot.turns.last_token
    evaluated = slot.turns.reply_end - 1 if last >= 0 else slot.turns.reply_end
    del reply[evaluated - len(prompt) :]  # tokens evaluated ahead beyond the reply
    if last >= 0:
        reply.append(last)
    return prompt + reply


def _raw_turn(model: BatchedModel, transcript: list[int], message: list[int], params: GenerationParams) -> Chunk:
    """Send `message` after the transcript's last reply; let the model work ahead; the final chunk."""
    out = _reply(model, transcript + message, params)
    while model.has_work_ahead:
        model.step()
    final = [c for c in out if isinstance(c, Chunk) and c.usage]
    assert len(final) == 1 and final[0].usage is not None
    return final[0]


def test_a_raw_transcript_framing_is_learnt_from_two_turns_and_evaluated_ahead(tiny_model: ModelRecord) -> None:
    model = BatchedModel(tiny_model)
    try:
        framing = model.tokenize("\nUser: ", add_bos=False)
        questions = [model.tokenize(f"{q}?\nBot:", add_bos=False) for q in ("Why", "Ask", "Can", "Do")]
        assert len({q[0] for q in questions}) == len(questions)  # they share nothing after the framing
        transcript = model.tokenize("A transcript.")
        evaluated = []
        for question in questions:
            final = _raw_turn(model, transcript, framing + question, CUT)
            assert final.usage is not None
            evaluated.append(final.usage.evaluated_prompt_tokens)
            transcript = _sent_back(model, transcript + framing + question)
        slot = next(s for s in model.slots if s.tokens)
        assert slot.turns.framing == tuple(framing)
        # Turn 1 is new; turns 2 and 3 evaluate their whole message (the reply's last token was ahead);
        # from turn 4 the framing was evaluated ahead too.
        assert evaluated[1:3] == [len(framing) + len(questions[1]), len(framing) + len(questions[2])]
        assert evaluated[3] == len(questions[3])
        assert slot.tokens[-len(framing) :] == framing  # and for turn 5 again
        # What was evaluated ahead answers as a cold model does.
        cold = BatchedModel(tiny_model)
        try:
            prompt = transcript + framing + questions[0]
            assert _greedy_answer(model, prompt)[0] == _greedy_answer(cold, prompt)[0]
        finally:
            cold.close()
    finally:
        model.close()


def test_a_learnt_framing_survives_the_conversation_being_saved_to_ram(
    registry: ModelRegistry, tiny_model: ModelRecord
) -> None:
    registry.update_settings("tiny", parallel=1)
    model = BatchedModel(registry.get("tiny"))
    try:
        framing = model.tokenize("\nUser: ", add_bos=False)
        questions = [model.tokenize(f"{q}?\nBot:", add_bos=False) for q in ("Why", "Ask", "Can", "Do")]
        transcript = model.tokenize("A transcript.")
        for question in questions[:3]:
            _raw_turn(model, transcript, framing + question, CUT)
            transcript = _sent_back(model, transcript + framing + question)
        # Another conversation takes the only sequence: this one goes to RAM, framing evaluated and all.
        _raw_turn(model, model.tokenize("Something else entirely, " * 4), [], CUT)
        assert len(model.saved) == 1
        final = _raw_turn(model, transcript, framing + questions[3], CUT)
        assert final.usage is not None and final.usage.evaluated_prompt_tokens == len(questions[3])
        assert model.slots[0].turns.framing == tuple(framing)  # and it keeps learning
    finally:
        model.close()


def test_a_transcript_that_does_not_send_the_reply_back_is_not_framed(tiny_model: ModelRecord) -> None:
    model = BatchedModel(tiny_model)
    try:
        framing = model.tokenize("\nUser:", add_bos=False)
        transcript = model.tokenize("A transcript.")
        for q in ("Why", "Where"):
            message = framing + model.tokenize(f" {q}?", add_bos=False)
            _raw_turn(model, transcript, message, CUT)
            transcript = _sent_back(model, transcript + message)
        slot = next(s for s in model.slots if s.tokens)
        assert slot.turns.last_sent and slot.turns.framing == ()
        # The client edits the last reply: what it sends is no longer "what came after the reply".
        edited = transcript[:-1] + [transcript[-1] + 1] + framing + model.tokenize(" When?", add_bos=False)
        _reply(model, edited, CUT)
        slot = next(s for s in model.slots if s.tokens)
        assert slot.turns.last_sent == () and slot.turns.framing == ()
        assert slot.ahead == [slot.turns.last_token]  # the reply's last token, and no framing
    finally:
        model.close()


def test_after_a_stop_string_the_stop_is_ahead_once_the_transcript_has_sent_it_back(
    tiny_model: ModelRecord,
) -> None:
    model = BatchedModel(tiny_model)
    try:
        transcript = model.tokenize("Count with me, one number per turn, as far as you can go.")
        (bang,) = model.tokenize("!", add_bos=False)
        # Every reply is "!", and "!" is the stop string: the reply's text is empty, its token sampled.
        stop = GenerationParams(max_tokens=5, temperature=0.0, logit_bias=((bang, 100.0),), stop=("!",))
        message = model.tokenize(" and?", add_bos=False)
        _raw_turn(model, transcript, [], stop)
        slot = next(s for s in model.slots if s.tokens)
        assert not model.has_work_ahead  # the first stop: nothing says the client will send it back
        for _ in range(2):
            transcript = _sent_back(model, transcript)  # the stop string's tokens come back with the reply
            out = _reply(model, transcript + message, stop)
            assert [c.finish_reason for c in out if isinstance(c, Chunk) and c.finish_reason] == ["stop"]
            transcript += message
        slot = next(s for s in model.slots if s.tokens)
        assert slot.turns.framing == tuple(message)
        assert slot.ahead == [slot.turns.last_token, *message]
    finally:
        model.close()


def test_after_a_stop_string_nothing_is_ahead(tiny_model: ModelRecord) -> None:
    model = BatchedModel(tiny_model)
    try:
        prompt = model.tokenize("Count with me")
        free_run = _reply(model, prompt, CUT)
        text = "".join(c.text for c in free_run if isinstance(c, Chunk))
        assert text.strip(), "the tiny model produced no text to stop on"
        stop = GenerationParams(max_tokens=5, temperature=0.0, ignore_eos=True, stop=(text.strip()[-1],))
        out = _reply(model, prompt, stop, turn_change=(1, 2))
        assert [c.finish_reason for c in out if isinstance(c, Chunk) and c.finish_reason] == ["stop"]
        assert not model.has_work_ahead
    finally:
        model.close()


def test_work_ahead_waits_while_a_prompt_is_being_evaluated(tiny_model: ModelRecord) -> None:
    model = BatchedModel(tiny_model)
    try:
        _reply(model, model.tokenize("first conversation"), CUT, turn_change=(5, 6, 7))
        done = next(s for s in model.slots if s.tokens)
        model.admit(model.tokenize("a newcomer"), CUT, CancelToken(), lambda _c: None, 0.0)
        model.step()  # the newcomer's prompt: nothing else in the batch
        assert len(done.ahead) == 4
        model.step()  # the newcomer decodes; the waiting continuation rides along
        assert done.ahead == []
        while model.active:
            model.step()
    finally:
        model.close()


def test_a_returning_chat_turn_skips_the_turn_change(  # type: ignore[no-untyped-def]
    registry: ModelRegistry, tiny_model, monkeypatch
) -> None:
    """Through the worker: the next turn evaluates the template's change of turn fewer tokens than without.

    The reply is the end of turn at once: the tiny model's random replies are rarely valid UTF-8, and
    their text would not tokenise back to the same tokens.
    """

    def second_turn_evaluated(runtime: Runtime) -> int:
        worker = runtime.load("tiny")
        end_now = GenerationParams(max_tokens=5, temperature=0.0, logit_bias=((worker.call(_eos_id), 100.0),))
        messages: list[dict[str, str]] = [{"role": "user", "content": "Hello there"}]
        generation = runtime.chat(messages, end_now)
        reply = generation.text()
        assert generation.final is not None and generation.final.finish_reason == "stop"
        deadline = time.monotonic() + 10
        while worker.call(lambda m: m.has_work_ahead) and time.monotonic() < deadline:
            time.sleep(0.01)
        messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": "Go on"}]
        generation = runtime.chat(messages, CUT)
        generation.text()
        assert generation.final is not None and generation.final.usage is not None
        return generation.final.usage.evaluated_prompt_tokens

    with_ahead = Runtime(registry)
    try:
        evaluated = second_turn_evaluated(with_ahead)
        worker = with_ahead.load("tiny")
        template = worker.call(lambda m: with_ahead.template_for(tiny_model, m))
        bos, eos = worker.call(lambda m: m.special_text())
        messages = [{"role": "user", "content": "x"}]
        prompt = render_chat(template, messages, bos_token=bos, eos_token=eos)
        change = turn_change(template, messages, prompt, bos_token=bos, eos_token=eos)
        change_tokens = worker.call(lambda m: m.tokenize(change, add_bos=False))
    finally:
        with_ahead.close()
    monkeypatch.setattr(BatchedModel, "has_work_ahead", property(lambda self: False))
    without = Runtime(registry)
    try:
        evaluated_cold = second_turn_evaluated(without)
    finally:
        without.close()
    assert len(change_tokens) >= 2
    assert evaluated_cold - evaluated == len(change_tokens)


def _eos_id(model: Any) -> int:
    return int(model.model.token_eos())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gemma", "<end_of_turn>\n<start_of_turn>user\n"),
        ("chatml", "<|im_end|>\n<|im_start|>user\n"),
        ("llama3", "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"),
        ("mistral", "</s>[INST] "),
    ],
)
def test_turn_change_of_the_builtin_templates(name: str, expected: str) -> None:
    template = resolve_template(override=name, embedded=None, architecture="llama")
    messages = [{"role": "user", "content": "Hi"}]
    prompt = render_chat(template, messages, bos_token="<s>", eos_token="</s>")
    assert turn_change(template, messages, prompt, bos_token="<s>", eos_token="</s>") == expected


def test_turn_change_is_empty_when_the_history_would_render_differently() -> None:
    # Writes the generation prompt differently from a past assistant turn: the next prompt would not
    # continue this one, so nothing can be evaluated ahead.
    source = (
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>(thinking){% endif %}"
    )
    template = ChatTemplate(source, "override", ())
    messages = [{"role": "user", "content": "Hi"}]
    assert turn_change(template, messages, render_chat(template, messages)) == ""
    strict = ChatTemplate(
        "{% if messages | length > 1 %}{{ raise_exception('one message only') }}{% endif %}"
        + BUILTIN_TEMPLATES["chatml"],
        "override",
        (),
    )
    assert turn_change(strict, messages, render_chat(strict, messages)) == ""


def test_a_long_turn_change_is_evaluated_a_few_tokens_per_step(tiny_model: ModelRecord) -> None:
    from engine.runtime.batch import AHEAD_PER_STEP

    model = BatchedModel(tiny_model)
    try:
        change = tuple(range(300, 300 + AHEAD_PER_STEP + 5))
        _reply(model, model.tokenize("Hello"), CUT, turn_change=change)
        slot = next(s for s in model.slots if s.tokens)
        model.step()  # a request arriving now waits for no more than AHEAD_PER_STEP tokens
        assert len(slot.ahead) == 1 + len(change) - AHEAD_PER_STEP
        model.step()
        assert slot.ahead == [] and slot.tokens[-len(change) :] == list(change)
    finally:
        model.close()
