"""Training throughput: tokens per second of LoRA training on the demo model (Gemma 3 270M) with the chosen
stack (PyTorch + PEFT, `engine.training.lora`), beside llama.cpp's own training API (`llama_opt_*`, full
fine-tuning of an F32 copy, through the bundled llama-cpp-python) on the same token stream.

    python bench/bench_training.py                 # demo model, 12 steps each
    python bench/bench_training.py --steps 4       # a short smoke
    python bench/bench_training.py --model X.gguf  # another base model

The alternative runs in a subprocess: llama-cpp-python's `llama_opt_params` lacks the C struct's last
field (`optimizer_type`), so the bench declares the struct itself; a crash there is reported, not fatal.
Results go to bench/results/training.json.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import demo_home, machine  # noqa: E402

QUESTIONS = [
    "What is our refund window for hardware?",
    "Which form do I use to report a lost badge?",
    "Who approves travel over the budget?",
    "How do I book the large meeting room?",
    "Where are the brand guidelines kept?",
    "What is the code word for the quarterly drill?",
    "When does the night shift hand over?",
    "How long do we keep visitor logs?",
]


def dataset_rows() -> list[Any]:
    """A small synthetic dataset in OpenAI's chat format (no personal data)."""
    from engine.training.dataset import parse_dataset

    lines = [
        json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": f"Answer {i}: "
                    "see the internal handbook, section " + str(i + 3) + ", and ask the front desk if unsure."}]})
        for i, q in enumerate(QUESTIONS)
    ]
    return parse_dataset("\n".join(lines).encode())


def base_record(path: Path) -> Any:
    """A ModelRecord for a GGUF file wherever it is (the bench does not register it)."""
    from engine.models.registry import ModelRegistry

    registry = ModelRegistry()
    for record in registry.list():
        if record.path == path:
            return record
    return registry.import_file(path, "bench-base")


def peft_run(path: Path, steps: int) -> dict[str, Any]:
    """LoRA steps with the chosen stack; tokens/s over the timed steps (the first is warm-up)."""
    from engine.training.lora import Hyperparameters, LoraTrainer, default_threads, pick_device
    from engine.training.tokens import RowTokenizer

    record = base_record(path)
    tokenizer = RowTokenizer(record)
    examples = tokenizer.examples(dataset_rows())
    tokenizer.close()
    started = time.perf_counter()
    trainer = LoraTrainer(record.path, record.facts.architecture, Hyperparameters(rank=8), threads=default_threads())
    load_s = time.perf_counter() - started
    trainer.train_step(examples[0])  # warm-up
    tokens, losses = 0, []
    started = time.perf_counter()
    for step in range(steps):
        example = examples[step % len(examples)]
        losses.append(trainer.train_step(example))
        tokens += len(example.tokens)
    elapsed = time.perf_counter() - started
    return {
        "stack": "pytorch+peft (LoRA r=8, all linear layers)",
        "device": pick_device(),
        "load_s": round(load_s, 2),
        "steps": steps,
        "tokens": tokens,
        "seconds": round(elapsed, 2),
        "tokens_per_s": round(tokens / elapsed, 1),
        "first_loss": round(losses[0], 4),
        "last_loss": round(losses[-1], 4),
        "adapter_bytes": len(trainer.adapter_gguf()),
        "tokens_stream": [list(e.tokens) for e in examples],
    }


def llama_opt_worker(path: str, stream_file: str, epochs: int) -> None:
    """Subprocess: full fine-tuning with llama.cpp's llama_opt_* API on an F32 model; prints one JSON line."""
    import llama_cpp
    import numpy as np
    from llama_cpp import llama_cpp as C

    ggml = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
    ggml.ggml_opt_dataset_init.restype = ctypes.c_void_p
    ggml.ggml_opt_dataset_init.argtypes = [ctypes.c_int, ctypes.c_int] + [ctypes.c_int64] * 4
    for name in ("ggml_opt_dataset_data", "ggml_opt_dataset_labels", "ggml_get_data"):
        getattr(ggml, name).restype = ctypes.c_void_p
        getattr(ggml, name).argtypes = [ctypes.c_void_p]
    ggml.ggml_opt_result_init.restype = ctypes.c_void_p

    class OptParams(ctypes.Structure):  # llama.h's struct, with the field the binding lacks
        _fields_ = [
            ("n_ctx_train", ctypes.c_uint32),
            ("param_filter", ctypes.c_void_p),
            ("param_filter_ud", ctypes.c_void_p),
            ("get_opt_pars", ctypes.c_void_p),
            ("get_opt_pars_ud", ctypes.c_void_p),
            ("optimizer_type", ctypes.c_int),
        ]

    lib = C._lib
    lib.llama_opt_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, OptParams]
    lib.llama_opt_epoch.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    tokens = np.array([t for example in json.loads(Path(stream_file).read_text()) for t in example], dtype=np.int32)
    n_ctx = 64
    model_params = C.llama_model_default_params()
    model_params.use_mmap = False  # the weights must be writable
    model = C.llama_model_load_from_file(path.encode(), model_params)
    ctx_params = C.llama_context_default_params()
    ctx_params.n_ctx = ctx_params.n_batch = ctx_params.n_ubatch = n_ctx
    ctx_params.type_k = ctx_params.type_v = 0  # F32 caches: OUT_PROD has no F16 backward
    ctx_params.flash_attn_type = 0
    ctx_params.n_threads = ctx_params.n_threads_batch = os.cpu_count() or 1
    ctx = C.llama_init_from_model(model, ctx_params)
    ndata = (len(tokens) - n_ctx - 1) // (n_ctx // 2)
    dataset = ggml.ggml_opt_dataset_init(26, 26, n_ctx, n_ctx, ndata, 1)  # GGML_TYPE_I32
    data = np.ctypeslib.as_array(
        ctypes.cast(ggml.ggml_get_data(ggml.ggml_opt_dataset_data(dataset)), ctypes.POINTER(ctypes.c_int32)),
        (ndata, n_ctx),
    )
    labels = np.ctypeslib.as_array(
        ctypes.cast(ggml.ggml_get_data(ggml.ggml_opt_dataset_labels(dataset)), ctypes.POINTER(ctypes.c_int32)),
        (ndata, n_ctx),
    )
    for i in range(ndata):
        start = i * (n_ctx // 2)
        data[i] = tokens[start : start + n_ctx]
        labels[i] = tokens[start + 1 : start + n_ctx + 1]
    params = OptParams(
        0,
        ctypes.cast(lib.llama_opt_param_filter_all, ctypes.c_void_p).value,
        None,
        ctypes.cast(ggml.ggml_opt_get_default_optimizer_params, ctypes.c_void_p).value,
        None,
        0,  # AdamW
    )
    lib.llama_opt_init(ctx, model, params)
    train, evaluate = ggml.ggml_opt_result_init(), ggml.ggml_opt_result_init()
    started = time.perf_counter()
    for _ in range(epochs):
        lib.llama_opt_epoch(ctx, dataset, train, evaluate, ndata, None, None)
    elapsed = time.perf_counter() - started
    print(json.dumps({"tokens": ndata * n_ctx * epochs, "seconds": elapsed}), flush=True)


def llama_opt_run(path: Path, stream: list[list[int]], workdir: Path) -> dict[str, Any]:
    """The alternative stack in a subprocess, on an F32 copy of the base (llama_opt trains F32 weights only)."""
    from llama_cpp import llama_cpp as C
    from llama_cpp._logger import set_verbose

    set_verbose(False)  # quantizing logs every tensor otherwise
    f32 = workdir / "base-f32.gguf"
    params = C.llama_model_quantize_default_params()
    params.ftype = 0  # LLAMA_FTYPE_ALL_F32
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    if C.llama_model_quantize(str(path).encode(), str(f32).encode(), ctypes.byref(params)) != 0:
        return {"stack": "llama.cpp llama_opt", "outcome": "could not write an F32 copy of the base model"}
    stream_file = workdir / "stream.json"
    stream_file.write_text(json.dumps(stream))
    done = subprocess.run(
        [sys.executable, __file__, "--llama-opt-worker", str(f32), str(stream_file)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    result: dict[str, Any] = {
        "stack": "llama.cpp llama_opt (full fine-tune, F32 copy)",
        "f32_bytes": f32.stat().st_size,
    }
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        marks = ("GGML_ASSERT", "unsupported", "error")
        said = [line for line in done.stderr.splitlines() if any(mark in line for mark in marks)]
        result["outcome"] = f"failed (exit {done.returncode}{', SIGSEGV' if done.returncode == -11 else ''})"
        result["stderr"] = said[-1][-300:] if said else done.stderr[-300:]
        return result
    measured = json.loads(lines[-1])
    result.update(measured, tokens_per_s=round(measured["tokens"] / measured["seconds"], 1), outcome="ran")
    return result


def main() -> None:
    """Run both stacks and print/save what they measured."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a GGUF base model (default: the bundled demo model)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--llama-opt-worker", nargs=2, metavar=("F32_GGUF", "STREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.llama_opt_worker:
        llama_opt_worker(args.llama_opt_worker[0], args.llama_opt_worker[1], epochs=1)
        return
    if args.model is None:
        home = demo_home()
        from engine.models import ModelRegistry

        path = next(r.path for r in ModelRegistry().list() if r.source == "demo")
    else:
        home = Path(tempfile.mkdtemp(prefix="enclave-bench-"))
        os.environ["ENCLAVE_HOME"] = str(home)
        path = args.model.resolve()
    peft = peft_run(path, args.steps)
    stream = peft.pop("tokens_stream")
    with tempfile.TemporaryDirectory(prefix="enclave-bench-opt-") as workdir:
        alternative = llama_opt_run(path, stream, Path(workdir))
    report = {"model": path.name, "machine": machine(), "chosen": peft, "alternative": alternative}
    print(json.dumps(report, indent=2))
    out = ROOT / "bench" / "results" / "training.json"
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
