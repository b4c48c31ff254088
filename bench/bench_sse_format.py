"""CPU time to format one streamed token's SSE event: the whole event through json.dumps, against the
per-stream template (engine.api.streaming.SseTemplate) the API uses. Interleaved, thread CPU time.

Run: python bench/bench_sse_format.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.api.streaming import SLOTS, SseTemplate, sse  # noqa: E402

TEXTS = [" the", " harbour", " town", ",", " and", " 世界", " keeper", ' "said"'] * 125


def _envelope(text: str) -> dict[str, Any]:
    item = {"text": text, "index": 0, "logprobs": None, "finish_reason": None}
    return {
        "id": "cmpl-0123456789abcdef01234567",
        "object": "text_completion",
        "created": 1796668187,
        "model": "gemma-3-270m-it",
        "system_fingerprint": "fp_30289a45e2f2",
        "choices": [item],
    }


def whole(text: str) -> bytes:
    """The event as the API formatted it before templates: json.dumps of the whole envelope."""
    return b"data: " + json.dumps(_envelope(text), ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def main() -> None:
    """Print the median microseconds per event of both ways."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    template = SseTemplate(sse(_envelope(SLOTS[0])))
    assert all(whole(t) == template(t) for t in TEXTS)  # the same bytes
    spent: dict[str, list[float]] = {"json.dumps of the event": [], "template": []}
    for _ in range(args.rounds):
        for name, format_event in (("json.dumps of the event", whole), ("template", template)):
            started = time.thread_time_ns()
            for text in TEXTS:
                format_event(text)
            spent[name].append((time.thread_time_ns() - started) / len(TEXTS) / 1000)
    for name, values in spent.items():
        print(f"{name}: {statistics.median(values):.2f} µs per event (median of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
