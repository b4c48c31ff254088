"""Time to first token of a returning chat turn, with the runtime's work ahead and without, side by side.

After a reply the idle model evaluates what the conversation will send first when it returns (the reply's
last token, the chat template's change of turn). This measures what that saves a person chatting: the
same conversations through `Runtime.chat` on the demo model, with a pause between turns for reading, work
ahead on and off in alternating order, round after round.

Run: python bench/bench_chat_turns.py [--rounds 5] [--turns 4]. Writes bench/results/chat_turns.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import demo_home, machine, median  # noqa: E402

READING_S = 0.3  # between a reply and the next message; work ahead needs ~10 ms idle plus one short step
REPLY = {"max_tokens": 16, "temperature": 0.0}
QUESTIONS = ("Tell me about the sea.", "And the tides?", "Why is it salty?", "What lives deepest?", "Thanks!")


@contextmanager
def work_ahead(enabled: bool) -> Iterator[None]:
    """Switch the runtime's work ahead off (it is always on in the product) for the `without` runs."""
    from engine.runtime.batch import BatchedModel

    original = BatchedModel.has_work_ahead
    if not enabled:
        BatchedModel.has_work_ahead = property(lambda self: False)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        BatchedModel.has_work_ahead = original  # type: ignore[method-assign]


def conversation(runtime: Any, opening: str, turns: int) -> list[tuple[float, int]]:
    """(time to first chunk, prompt tokens evaluated) of turns 2…`turns` of one conversation."""
    from engine.runtime import GenerationParams

    params = GenerationParams(**REPLY)  # type: ignore[arg-type]
    messages: list[dict[str, str]] = []
    measured = []
    for turn in range(turns):
        messages.append({"role": "user", "content": opening if turn == 0 else QUESTIONS[turn % len(QUESTIONS)]})
        started = time.perf_counter()
        generation = runtime.chat(messages, params)
        first = None
        parts = []
        for chunk in generation:
            first = first or time.perf_counter()
            parts.append(chunk.text)
        final = generation.final
        assert first is not None and final is not None and final.usage is not None
        if turn > 0:
            measured.append((first - started, final.usage.evaluated_prompt_tokens))
        messages.append({"role": "assistant", "content": "".join(parts)})
        time.sleep(READING_S)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--turns", type=int, default=4)
    args = parser.parse_args()
    demo_home()
    from engine.runtime import Runtime

    runtime = Runtime()
    runtime.load()
    runtime.chat([{"role": "user", "content": "warm-up"}], None).text()
    runs: dict[str, list[tuple[float, int]]] = {"with": [], "without": []}
    per_round: list[float] = []
    for round_ in range(args.rounds):
        order = ("with", "without") if round_ % 2 == 0 else ("without", "with")
        ttft: dict[str, float] = {}
        for mode in order:
            with work_ahead(mode == "with"):
                turns = conversation(runtime, f"Round {round_}, {mode}: {QUESTIONS[0]}", args.turns)
            runs[mode] += turns
            ttft[mode] = median([t for t, _ in turns])
        per_round.append(ttft["with"] / ttft["without"])
    runtime.close()
    summary = {
        mode: {
            "ttft_s": median([t for t, _ in turns]),
            "evaluated_prompt_tokens": median([float(n) for _, n in turns]),
        }
        for mode, turns in runs.items()
    }
    ratio = median(per_round)
    reading_ms = READING_S * 1000
    print(f"demo model, turns 2-{args.turns} of {args.rounds} conversations each way, {reading_ms:.0f} ms reading")
    print("| work ahead | TTFT ms | prompt tokens evaluated |\n|---|---|---|")
    for mode in ("with", "without"):
        row = summary[mode]
        print(f"| {mode} | {row['ttft_s'] * 1000:.0f} | {row['evaluated_prompt_tokens']:.0f} |")
    print(f"ratio with/without TTFT (median of per-round ratios): {ratio:.2f}")
    out = Path(__file__).parent / "results" / "chat_turns.json"
    out.parent.mkdir(exist_ok=True)
    result = {
        "machine": machine(),
        "summary": summary,
        "per_round_ratio": per_round,
        "ratios": {"returning_turn_ttft_with_vs_without_work_ahead": ratio},
    }
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
