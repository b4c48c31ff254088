"""The training bench's parts on the tiny model: llama.cpp's `llama_opt_*` trains a llama model in its
subprocess (writable weights, the C struct declared in full), a failure there comes back as a report, the
llama twin loads in both stacks, and PEFT's timed steps count what they trained.
"""

from __future__ import annotations

import math
from pathlib import Path

from bench import bench_training

SEQ = 256  # llama.cpp pads a context to 256


def chunks(count: int) -> list[tuple[list[int], list[bool]]]:
    """Windows of SEQ + 1 token ids the tiny vocabulary has (its pieces start after the 261 specials and bytes)."""
    return [([261 + (w * 7 + i) % 60 for i in range(SEQ + 1)], [True] * (SEQ + 1)) for w in range(count)]


def test_llama_opt_trains_a_llama_model_in_its_subprocess(tmp_path: Path, tiny_gguf: Path) -> None:
    result = bench_training.llama_opt_run(tiny_gguf, chunks(3), 1, tmp_path)
    assert result["outcome"] == "ran", result
    assert result["timed_steps"] == 2 and result["tokens"] == 2 * SEQ and result["tokens_per_s"] > 0
    assert math.isfinite(result["mean_loss"])


def test_a_failing_llama_opt_is_reported_and_the_bench_goes_on(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    result = bench_training.llama_opt_run(broken, chunks(2), 1, tmp_path)
    assert result["outcome"].startswith("failed (exit 1")
    assert "failed to load model" in result["error"]


def test_the_llama_twin_has_the_base_shape_and_both_stacks_train_it(tmp_path: Path, tiny_gguf: Path) -> None:
    twin, shape = bench_training.llama_twin(tiny_gguf, tmp_path / "twin.gguf")
    dims = {"n_embd": 64, "n_layers": 2, "n_ff": 128, "n_heads": 4, "n_kv_heads": 4}
    assert {k: shape[k] for k in dims} == dims
    assert shape["n_vocab"] > 261  # the tiny model's own vocabulary
    assert bench_training.llama_opt_run(twin, chunks(2), 1, tmp_path)["outcome"] == "ran"
    peft = bench_training.peft_run(twin, "llama", chunks(3), 1, "cpu")
    assert peft["outcome"] == "ran" and peft["device"] == "cpu"
    assert peft["timed_steps"] == 2 and peft["tokens"] == 2 * SEQ and peft["seq_len"] == SEQ
