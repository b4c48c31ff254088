"""The serving bench's report: Markdown tables, paired ratios and the plot (see bench/bench_serving.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import machine, median

OURS = "Enclave"
CLOSEST_PEER = "llama.cpp llama-server"
SAMPLED = "_sampled"  # suffix of a sampled phase's name


def paired_ratio(
    per_round: dict[str, Any], ours: str, theirs: str, phase: str, field_: str, their_field: str | None = None
) -> float:
    """Median over rounds of ours/theirs, each ratio from one round (measured minutes apart at most).

    `theirs` may be `ours` with another field: the ratio of two figures of one server within each round.
    """
    pairs = zip(per_round[ours].get(phase, []), per_round[theirs].get(phase, []), strict=True)
    return median([a[field_] / b[their_field or field_] for a, b in pairs if b[their_field or field_] > 0])


def plot(results: dict[str, dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if any(phase not in r for r in results.values() for phase in ("single", "concurrent8", "conversations")):
        return False  # (a run of some phases only)
    names = list(results)
    labels = [name.replace(" ", "\n", 1) for name in names]  # two lines: long names overlap otherwise
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for offset, clients in enumerate((1, 4, 8)):
        axes[0].bar(
            [i + offset * 0.25 for i in range(len(names))],
            [results[n][f"concurrent{clients}"]["aggregate_tok_s"] for n in names],
            0.25,
            label=f"{clients} clients",
        )
    axes[0].set_xticks([i + 0.25 for i in range(len(names))], labels, fontsize=8)
    axes[0].set_title("aggregate decode tokens/s (greedy)")
    axes[0].legend(fontsize=7)
    axes[1].bar(range(len(names)), [results[n]["single"]["decode_tok_s"] for n in names])
    axes[1].set_xticks(range(len(names)), labels, fontsize=8)
    axes[1].set_title("single-stream tokens/s (greedy)")
    for i, n in enumerate(names):
        conv = results[n]["conversations"]
        axes[2].bar(
            [i - 0.2, i + 0.2],
            [conv["turn1_ttft_s"] * 1000, conv["turn10_ttft_s"] * 1000],
            0.4,
            color=["#7aa6c2", "#2c5d7c"],
        )
    axes[2].set_xticks(range(len(names)), labels, fontsize=8)
    axes[2].set_title("TTFT ms: turn 1 (light) vs turn 10 (dark)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def _cell(r: dict[str, Any], phase: str, key: str, fmt: str, scale: float = 1.0) -> str:
    """One figure of a table, or a dash for a phase that was not run."""
    value = r.get(phase, {}).get(key)
    return "–" if value is None else format(value * scale if scale != 1.0 else value, fmt)


def print_tables(results: dict[str, dict[str, Any]], rounds: int, model: str, threads: int, parallel: int) -> None:
    """The Markdown tables: greedy, sampled, long context (phases not run show a dash)."""
    print(f"\nModel: {model}, {threads} threads, parallel {parallel}, median of {rounds} interleaved rounds;")
    print(f"{machine()['cpu']}\n")
    for suffix, title in (("", "greedy (temperature 0)"), (SAMPLED, "sampled (temperature 0.8, top_p 0.95)")):
        print(f"\n{title}\n")
        print(
            "| server | single tok/s | TTFT ms | 1 client tok/s | 4 clients tok/s | 8 clients tok/s | "
            "turn-1 TTFT ms | turn-10 TTFT ms | failed/cut at 8 |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for name, r in results.items():
            cells = [
                _cell(r, "single" + suffix, "decode_tok_s", ".1f"),
                _cell(r, "single" + suffix, "ttft_s", ".0f", 1000),
                *(_cell(r, f"concurrent{n}" + suffix, "aggregate_tok_s", ".1f") for n in (1, 4, 8)),
                _cell(r, "conversations" + suffix, "turn1_ttft_s", ".0f", 1000),
                _cell(r, "conversations" + suffix, "turn10_ttft_s", ".0f", 1000),
                _cell(r, "concurrent8" + suffix, "failed", "d")
                + "/"
                + _cell(r, "concurrent8" + suffix, "cut_off", "d"),
            ]
            print(f"| {name} | " + " | ".join(cells) + " |")
    if any("long_alone" in r for r in results.values()):
        print("\nlong context\n")
        print(
            "| server | alone TTFT s | alone TTFT s (sampled) | 2 idle: TTFT s | 2 idle: decode tok/s | "
            "2 idle, sampled: TTFT s | 2 idle, sampled: decode tok/s |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, r in results.items():
            cells = [
                _cell(r, "long_alone", "ttft_s", ".2f"),
                _cell(r, "long_alone" + SAMPLED, "ttft_s", ".2f"),
                _cell(r, "long_idle", "ttft_s", ".2f"),
                _cell(r, "long_idle", "decode_tok_s", ".1f"),
                _cell(r, "long_idle" + SAMPLED, "ttft_s", ".2f"),
                _cell(r, "long_idle" + SAMPLED, "decode_tok_s", ".1f"),
            ]
            print(f"| {name} | " + " | ".join(cells) + " |")


def compute_ratios(results: dict[str, dict[str, Any]], per_round: dict[str, Any]) -> dict[str, float]:
    ours, server, lcp = OURS, CLOSEST_PEER, "llama-cpp-python server"
    ratios: dict[str, float] = {}
    for suffix in ("", SAMPLED):
        conv = "conversations" + suffix
        if ours in results:
            ratios["turn10_vs_turn1_ttft" + suffix] = paired_ratio(
                per_round, ours, ours, conv, "turn10_ttft_s", "turn1_ttft_s"
            )
        if ours in results and server in results:
            ratios["single_stream_vs_llama_server" + suffix] = paired_ratio(
                per_round, ours, server, "single" + suffix, "decode_tok_s"
            )
            for clients in (4, 8):
                ratios[f"concurrent{clients}_vs_llama_server" + suffix] = paired_ratio(
                    per_round, ours, server, f"concurrent{clients}" + suffix, "aggregate_tok_s"
                )
            ratios["turn10_ttft_vs_llama_server" + suffix] = paired_ratio(
                per_round, ours, server, conv, "turn10_ttft_s"
            )
            if per_round[ours].get("long_alone" + suffix):
                ratios["long_alone_ttft_vs_llama_server" + suffix] = paired_ratio(
                    per_round, ours, server, "long_alone" + suffix, "ttft_s"
                )
                ratios["long_idle_ttft_vs_llama_server" + suffix] = paired_ratio(
                    per_round, ours, server, "long_idle" + suffix, "ttft_s"
                )
                ratios["long_idle_decode_vs_llama_server" + suffix] = paired_ratio(
                    per_round, ours, server, "long_idle" + suffix, "decode_tok_s"
                )
        if ours in results and lcp in results:
            ratios["concurrent4_vs_llama_cpp_python" + suffix] = paired_ratio(
                per_round, ours, lcp, "concurrent4" + suffix, "aggregate_tok_s"
            )
            ratios["turn10_ttft_vs_llama_cpp_python" + suffix] = paired_ratio(
                per_round, ours, lcp, conv, "turn10_ttft_s"
            )
    return {key: value for key, value in ratios.items() if value > 0}  # (0: a phase not run)
