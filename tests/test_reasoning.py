"""A reasoning model's thinking told apart from its answer, however the reply is cut into pieces."""

from __future__ import annotations

import random

import pytest

from engine.models.reasoning import ReasoningSplitter, opens_thinking, split_reply


def streamed(text: str, cuts: list[int], thinking: bool = False) -> tuple[str, str]:
    splitter = ReasoningSplitter(thinking)
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    parts = [splitter.feed(piece) for piece in pieces] + [splitter.finish()]
    return "".join(p[0] for p in parts), "".join(p[1] for p in parts)


@pytest.mark.parametrize(
    ("reply", "thinking", "expected"),
    [
        ("<think>\nThe user greets me.\n</think>\n\nHello!", False, ("The user greets me.", "Hello!")),
        ("  <think>x < y, so</think>Yes.", False, ("x < y, so", "Yes.")),
        ("Plan first.\n</think>\n\nDone.", True, ("Plan first.", "Done.")),  # the template opened it
        ("Still thinking when the tokens ran out", True, ("Still thinking when the tokens ran out", "")),
        ("<think>unclosed </thi", False, ("unclosed </thi", "")),
        ("Hello <think>not at the start</think>", False, ("", "Hello <think>not at the start</think>")),
        ("<thinking is a word here", False, ("", "<thinking is a word here")),
        ("\n\nPlain answer.", False, ("", "\n\nPlain answer.")),
    ],
)
def test_thinking_and_answer(reply: str, thinking: bool, expected: tuple[str, str]) -> None:
    assert split_reply(reply, thinking) == expected
    for cuts in ([], list(range(1, len(reply))), [3, 9, 17]):  # whole, character by character, a few pieces
        shown = streamed(reply, [c for c in cuts if c < len(reply)], thinking)
        assert (shown[0].rstrip(), shown[1]) == expected


def test_no_tag_reaches_either_side_however_the_reply_is_cut() -> None:
    rng = random.Random(7)
    reply = "<think>\nWeigh <b>both</b> options: 3 < 4.\n</think>\n\nTake the <think> option."
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(reply)), rng.randint(1, 12)))
        thinking, answer = streamed(reply, cuts)
        assert thinking.rstrip() == "Weigh <b>both</b> options: 3 < 4." and answer == "Take the <think> option."


def test_a_prompt_that_opens_the_thinking() -> None:
    assert opens_thinking("<｜User｜>Hi<｜Assistant｜><think>\n") and not opens_thinking("<|im_start|>assistant\n")


def test_a_reply_whose_template_opened_the_thinking_is_stored_opening_it(registry, runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.chat import ChatService
    from engine.runtime import GenerationParams
    from tests.tiny_gguf import CHATML_TEMPLATE, write_tiny_gguf

    opened = CHATML_TEMPLATE.replace("<|im_start|>assistant\n", "<|im_start|>assistant\n<think>\n")
    assert opened != CHATML_TEMPLATE
    registry.import_file(write_tiny_gguf(tmp_path / "thinker.gguf", chat_template=opened), "thinker")
    params = GenerationParams(max_tokens=6, logit_bias=((2, -100.0), (4, -100.0)))
    turn = ChatService(runtime).send("Why?", model="thinker", params=params)
    shown = "".join(chunk.text for chunk in turn)
    result = turn.finish()
    assert shown == result.text and result.text.startswith("<think>\n") and len(result.text) > len("<think>\n")
    # The app then shows it as thinking, and so does anything reading it back.
    thinking, answer = split_reply(result.text)
    assert thinking and answer == ""
