"""How deterministic lanes' drafts pay: three seeded requests decoded together, their decode calls counted.

Wall-clock figures on a busy machine say little, but the lanes' decode calls are the same every run: this
steps a BatchedModel (demo model) through three seeded streams at once with prompt-lookup speculation under
a drafting policy (`lane`: engine.runtime.deterministic.lane_draft_cost, what the engine does; `prior`: the
prior cost every seeded request drafted by before; `off`: no speculation), records every llama_decode call
of the lanes (tokens in it), and estimates the time as the sum of each call's cost in one-token steps
(deterministic.step_cost: the demo model's measured curve). Prints generated tokens per one-token step.

Run: python bench/deterministic_drafts.py [--tokens 32] [--prompts note,quote] [--policies lane,prior,off]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_deterministic import PROMPTS  # noqa: E402
from bench.common import demo_home  # noqa: E402


def main() -> int:
    """Count and estimate; print one line per prompt and policy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--prompts", default="note,quote")
    parser.add_argument("--policies", default="lane,prior,off")
    args = parser.parse_args()
    demo_home()
    from engine.models import ModelRegistry
    from engine.models.demo import DEMO_NAME
    from engine.runtime import CancelToken, Chunk, GenerationParams
    from engine.runtime.batch import BatchedModel
    from engine.runtime.deterministic import Lanes, step_cost
    from engine.runtime.speculative import prior_cost

    record = ModelRegistry().get(DEMO_NAME)
    calls: list[int] = []
    decode = Lanes.decode

    def counted(self: Lanes, rows: Any) -> int:
        calls.append(sum(len(tokens) for _, tokens, _, logits_from in rows if logits_from < len(tokens)))
        return decode(self, rows)

    Lanes.decode = counted  # type: ignore[method-assign]
    for prompt_name in args.prompts.split(","):
        texts = [PROMPTS[prompt_name].replace("{i}", str(i)) for i in range(3)]
        for policy in args.policies.split(","):
            settings = replace(
                record.settings, context_size=4096, parallel=4, speculation="off" if policy == "off" else "lookup"
            )
            model = BatchedModel(replace(record, settings=settings))
            if policy == "prior":
                model._draft_cost = lambda request, n: lambda k: prior_cost(1 + k)  # type: ignore[method-assign]
            outs: list[list[Any]] = [[] for _ in texts]
            for i, text in enumerate(texts):
                params = GenerationParams(
                    max_tokens=args.tokens, temperature=1.0, seed=1000 + i, deterministic=True, ignore_eos=True
                )
                model.admit(model.tokenize(text), params, CancelToken(), outs[i].append, 0.0)
            while any(r.solo and r.prefilling for r in model.active):
                model.step()
            calls.clear()  # (prompt chunks cost the same under every policy)
            while model.active:
                model.step()
            generated = sum(len([c for c in out if isinstance(c, Chunk)]) for out in outs)
            units = sum(step_cost(n) for n in calls if n)
            print(
                f"{prompt_name:<6} {policy:<6} calls {len(calls):4d}  tokens decoded {sum(calls):5d}  "
                f"est. time {units:7.1f} steps  chunks out {generated:4d}  "
                f"drafted {model.drafted:4d} kept {model.kept:4d}  "
                f"tokens/step {3 * args.tokens / units:5.3f}"
            )
            model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
