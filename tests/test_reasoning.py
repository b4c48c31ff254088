"""A reasoning model's thinking told apart from its answer, however the reply is cut into pieces."""

from __future__ import annotations

import random

import pytest

from engine.models.reasoning import ReasoningSplitter, opens_thinking, split_reply
from tests.tiny_gguf import CHATML_TEMPLATE, write_tiny_gguf


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
        ("<think>The tag again.</think>Hi", True, ("The tag again.", "Hi")),  # opened twice: no tag shown
        ("", True, ("", "")),
    ],
)
def test_thinking_and_answer(reply: str, thinking: bool, expected: tuple[str, str]) -> None:
    assert split_reply(reply, thinking) == expected
    for cuts in ([], list(range(1, len(reply))), [3, 9, 17]):  # whole, character by character, a few pieces
        assert streamed(reply, [c for c in cuts if c < len(reply)], thinking) == expected


def test_no_tag_reaches_either_side_however_the_reply_is_cut() -> None:
    rng = random.Random(7)
    reply = "<think>\nWeigh <b>both</b> options: 3 < 4.\n</think>\n\nTake the <think> option."
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(reply)), rng.randint(1, 12)))
        assert streamed(reply, cuts) == ("Weigh <b>both</b> options: 3 < 4.", "Take the <think> option.")


def test_a_prompt_that_opens_the_thinking() -> None:
    assert opens_thinking("<｜User｜>Hi<｜Assistant｜><think>\n") and not opens_thinking("<|im_start|>assistant\n")


def test_a_reply_whose_template_opened_the_thinking_is_stored_opening_it(registry, runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.handle import COMMAND_LINE, Engine
    from engine.runtime import GenerationParams

    opened = CHATML_TEMPLATE.replace("<|im_start|>assistant\n", "<|im_start|>assistant\n<think>\n")
    assert opened != CHATML_TEMPLATE
    registry.import_file(write_tiny_gguf(tmp_path / "thinker.gguf", chat_template=opened), "thinker")
    params = GenerationParams(max_tokens=6, logit_bias=((2, -100.0), (4, -100.0)))
    turn = Engine(runtime, None, actor=COMMAND_LINE, owns=False).chat.send("Why?", model="thinker", params=params)
    shown = "".join(chunk.text for chunk in turn)
    result = turn.finish()
    assert shown == result.text and result.text.startswith("<think>\n") and len(result.text) > len("<think>\n")
    # The app then shows it as thinking, and so does anything reading it back.
    thinking, answer = split_reply(result.text)
    assert thinking and answer == ""
    # A reply with no text at all (end of turn at once, or stopped before a token) stays empty.
    chat = Engine(runtime, None, actor=COMMAND_LINE, owns=False).chat
    silent = chat.send("Why?", model="thinker", params=GenerationParams(logit_bias=((2, 100.0),)))
    assert "".join(chunk.text for chunk in silent) == "" and silent.finish().text == ""


def test_past_replies_go_back_to_the_model_without_their_thinking(registry, runtime, enclave_home) -> None:  # type: ignore[no-untyped-def]
    from engine.handle import COMMAND_LINE, Engine
    from engine.vault import FLOOR, Vault

    registry.import_file(write_tiny_gguf(enclave_home / "t.gguf"), "tiny")
    vault, _ = Vault.init(enclave_home, "correct horse battery staple", kdf=FLOOR)
    try:
        service = Engine(runtime, vault, actor=COMMAND_LINE, owns=False).chat
        conversation = vault.conversations.create("c", model="tiny").id
        vault.conversations.add_message(conversation, "user", "Why?")
        vault.conversations.add_message(conversation, "assistant", "<think>\nBecause.\n</think>\n\nIt is so.")
        assert service._history(conversation) == [
            {"role": "user", "content": "Why?"},
            {"role": "assistant", "content": "It is so."},
        ]
    finally:
        vault.close()


def test_a_reply_still_streaming_shows_no_partial_tag() -> None:
    assert split_reply("<think>\nweighing 3 </thi", complete=False) == ("weighing 3", "")
    assert split_reply("<think>\nweighing 3 </thi") == ("weighing 3 </thi", "")  # the end: it was text
