"""Training throughput: tokens per second of training with the chosen stack (PyTorch + PEFT LoRA,
`engine.training.lora`, as `enclave train` runs it) beside llama.cpp's own training API (`llama_opt_*`
through the bundled llama-cpp-python), on the same windows of the same token stream.

    python bench/bench_training.py                            # demo model (Gemma 3 270M), ~8 min on 2 quiet cores
    python bench/bench_training.py --steps 2 --opt-windows 2 --seq-len 256   # a smoke run
    python bench/bench_training.py --device cuda              # PEFT on a GPU (torch must be a CUDA build)
    python bench/bench_training.py --model X.gguf             # another base model

Method. The dataset (synthetic support questions in OpenAI's chat format) is tokenised with the base
model's chat template, as `enclave train` does, and cut into windows of `--seq-len` tokens. Each stack
first loads the model (timed on its own), runs `--warmup` steps untimed, then trains on `--steps`
(PEFT) / `--opt-windows` (llama_opt) windows, one optimizer step per window; tokens/s = window tokens
over the timed steps' wall time. Both count every token in a window (forward and backward over all of
it); PEFT's loss covers the assistant's tokens, llama_opt's every next token, which costs the same.

llama_opt runs in a subprocess, so an abort or crash there is reported, not fatal. It trains all the
weights (no LoRA) of an F32 model, so the bench writes an F32 copy of the base first. In the bundled
llama.cpp, Gemma's GEGLU feed-forward has no backward (`ggml_compute_backward` aborts: "unsupported glu
op for backward pass: GEGLU"), so on Gemma it cannot train at all; the bench then also measures both
stacks on a llama-architecture twin of the base (same width, depth, feed-forward width, vocabulary and
tied embeddings, SwiGLU instead of GEGLU, random F32 weights written at bench time), which llama_opt
can train: speed depends on a model's shape, not on what its weights say.
Results go to bench/results/training.json (or --out).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import demo_home, machine  # noqa: E402

TOPICS = [
    ("What is our refund window for hardware?", "Hardware can be returned within 30 days of delivery"),
    ("Which form do I use to report a lost badge?", "Use form SEC-12 on the intranet and tell reception"),
    ("Who approves travel over the budget?", "Your director approves it, then finance countersigns"),
    ("How do I book the large meeting room?", "Book room 4.01 in the calendar; catering needs two days"),
    ("Where are the brand guidelines kept?", "In the marketing share under Brand, version 7 is current"),
    ("What is the code word for the quarterly drill?", "The drill's code word is heron; do not share it"),
    ("When does the night shift hand over?", "At 06:00 in the control room, with the written log"),
    ("How long do we keep visitor logs?", "Visitor logs are kept for 90 days and then shredded"),
]


def dataset_rows() -> list[Any]:
    """A synthetic dataset in OpenAI's chat format (no personal data), rows of realistic length."""
    from engine.training.dataset import parse_dataset

    lines = []
    for i, (question, answer) in enumerate(TOPICS):
        reply = (
            f"{answer}. The details are in section {i + 3} of the internal handbook, which lists the "
            "exceptions, the people to contact and what to do outside office hours. If anything is unclear, "
            "ask the front desk or open a ticket with the service desk, quoting the section number."
        )
        system = "You are the internal help desk assistant. Answer briefly, cite the handbook section."
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
            {"role": "assistant", "content": reply},
        ]}))
    return parse_dataset("\n".join(lines).encode())


def token_stream(path: Path) -> tuple[list[int], list[bool]]:
    """The dataset tokenised with the model's own template, rows one after another (tokens, learned)."""
    from engine.training.tokens import RowTokenizer

    tokenizer = RowTokenizer(base_record(path))
    try:
        tokens: list[int] = []
        learn: list[bool] = []
        for example in tokenizer.examples(dataset_rows()):
            tokens += example.tokens
            learn += example.learn
        return tokens, learn
    finally:
        tokenizer.close()


def windows(stream: tuple[list[int], list[bool]], seq_len: int, count: int) -> list[tuple[list[int], list[bool]]]:
    """`count` windows of `seq_len + 1` tokens (inputs and the next-token labels), cycling through the stream."""
    tokens, learn = stream
    need = count * seq_len + 1
    repeat = -(-need // len(tokens))
    tokens, learn = tokens * repeat, learn * repeat
    return [
        (tokens[i * seq_len : (i + 1) * seq_len + 1], learn[i * seq_len : (i + 1) * seq_len + 1]) for i in range(count)
    ]


def base_record(path: Path) -> Any:
    """A ModelRecord for a GGUF file wherever it is (imported into the bench's throwaway home once)."""
    from engine.models.registry import ModelRegistry

    registry = ModelRegistry()
    for record in registry.list():
        if record.path == path or record.path.name == path.name and record.file_size == path.stat().st_size:
            return record
    return registry.import_file(path, path.stem)


def per_step(times: list[float], tokens: int, seconds: float) -> dict[str, Any]:
    """Tokens/s and the spread of step times."""
    return {
        "timed_steps": len(times),
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else None,
        "step_s_median": round(statistics.median(times), 3) if times else None,
        "step_s_min": round(min(times), 3) if times else None,
        "step_s_max": round(max(times), 3) if times else None,
    }


def peft_run(
    path: Path, architecture: str, chunks: list[tuple[list[int], list[bool]]], warmup: int, device: str
) -> dict[str, Any]:
    """LoRA training with the chosen stack: load time, then warm-up steps, then timed steps."""
    import torch

    from engine.training.dataset import Example
    from engine.training.lora import Hyperparameters, LoraTrainer, default_threads

    threads = default_threads()
    started = time.perf_counter()
    trainer = LoraTrainer(path, architecture, Hyperparameters(rank=8), threads=threads, device=device)
    load_s = time.perf_counter() - started
    # The trainer's own shift: tokens[:-1] predict tokens[1:]; a window holds seq_len + 1 tokens for llama_opt's
    # labels, PEFT gets the first seq_len of them.
    examples = [Example(tuple(t[:-1]), tuple(m[:-1])) for t, m in chunks]
    losses, times = [], []
    for index, example in enumerate(examples):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        losses.append(trainer.train_step(example))
        if device == "cuda":
            torch.cuda.synchronize()
        if index >= warmup:
            times.append(time.perf_counter() - started)
    seq_len = len(examples[0].tokens)
    return {
        "stack": "pytorch+peft (LoRA r=8 on all linear layers, AdamW, batch 1)",
        "architecture": architecture,
        "device": device,
        "threads": threads if device == "cpu" else None,
        "torch": torch.__version__,
        "load_s": round(load_s, 2),
        "warmup_steps": warmup,
        "seq_len": seq_len,
        **per_step(times, seq_len * len(times), sum(times)),
        "first_loss": round(losses[0], 4),
        "last_loss": round(losses[-1], 4),
        "outcome": "ran",
    }


# -- llama.cpp's llama_opt_* (in a subprocess) ---------------------------------------------------


def llama_opt_worker(path: str, windows_file: str, warmup: int) -> None:
    """Subprocess: llama_opt_epoch over the windows (all weights, AdamW); prints one JSON line."""
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
    ggml.ggml_opt_result_loss.argtypes = [ctypes.c_void_p] + [ctypes.POINTER(ctypes.c_double)] * 2

    class OptParams(ctypes.Structure):  # llama.h's struct; the binding's copy lacks the last field
        _fields_ = [
            ("n_ctx_train", ctypes.c_uint32),
            ("param_filter", ctypes.c_void_p),
            ("param_filter_ud", ctypes.c_void_p),
            ("get_opt_pars", ctypes.c_void_p),
            ("get_opt_pars_ud", ctypes.c_void_p),
            ("optimizer_type", ctypes.c_int),  # enum ggml_opt_optimizer_type: 0 AdamW, 1 SGD
        ]

    callback_type = ctypes.CFUNCTYPE(
        None, ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
        ctypes.c_int64,
    )
    lib = C._lib
    lib.llama_opt_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, OptParams]
    lib.llama_opt_epoch.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64, callback_type, ctypes.c_void_p]
    chunks = json.loads(Path(windows_file).read_text())
    n_ctx, ndata, threads = len(chunks[0]) - 1, len(chunks), len(os.sched_getaffinity(0))

    started = time.perf_counter()
    model_params = C.llama_model_default_params()
    # Writable weights: the binding's struct has `load_mode`, not `use_mmap` (setting that is silently ignored,
    # and AdamW then writes into the read-only mapping: SIGSEGV in ggml_compute_forward_opt_step_adamw).
    model_params.load_mode = C.LLAMA_LOAD_MODE_NONE
    model = C.llama_model_load_from_file(path.encode(), model_params)
    if not model:
        raise SystemExit("llama.cpp could not load the model")
    ctx_params = C.llama_context_default_params()
    ctx_params.n_ctx = ctx_params.n_batch = ctx_params.n_ubatch = n_ctx  # one optimizer step per window
    ctx_params.type_k = ctx_params.type_v = 0  # F32 caches: OUT_PROD has no F16 backward (as finetune.cpp)
    ctx_params.flash_attn_type = 0  # no backward for flash attention
    ctx_params.n_threads = ctx_params.n_threads_batch = threads
    ctx = C.llama_init_from_model(model, ctx_params)
    if C.llama_n_ctx(ctx) != n_ctx:
        raise SystemExit(f"llama.cpp padded the context to {C.llama_n_ctx(ctx)}: use a --seq-len multiple of 256")
    dataset = ggml.ggml_opt_dataset_init(26, 26, n_ctx, n_ctx, ndata, 1)  # GGML_TYPE_I32, one window a shard

    def view(tensor: int) -> Any:
        pointer = ctypes.cast(ggml.ggml_get_data(tensor), ctypes.POINTER(ctypes.c_int32))
        return np.ctypeslib.as_array(pointer, (ndata, n_ctx))

    data, labels = view(ggml.ggml_opt_dataset_data(dataset)), view(ggml.ggml_opt_dataset_labels(dataset))
    for i, tokens in enumerate(chunks):
        data[i], labels[i] = tokens[:-1], tokens[1:]
    params = OptParams(
        0,
        ctypes.cast(lib.llama_opt_param_filter_all, ctypes.c_void_p).value,
        None,
        ctypes.cast(ggml.ggml_opt_get_default_optimizer_params, ctypes.c_void_p).value,
        None,
        0,
    )
    lib.llama_opt_init(ctx, model, params)
    load_s = time.perf_counter() - started
    marks: list[float] = []

    def on_batch(train: bool, *_: Any) -> None:
        if train:
            marks.append(time.perf_counter())

    callback = callback_type(on_batch)
    train, evaluate = ggml.ggml_opt_result_init(), ggml.ggml_opt_result_init()
    first = time.perf_counter()
    lib.llama_opt_epoch(ctx, dataset, train, evaluate, ndata, callback, None)
    loss, spread = ctypes.c_double(), ctypes.c_double()
    ggml.ggml_opt_result_loss(train, ctypes.byref(loss), ctypes.byref(spread))
    steps = [b - a for a, b in zip([first, *marks], marks, strict=False)]
    print(json.dumps({"load_s": load_s, "steps": steps, "mean_loss": loss.value, "threads": threads}), flush=True)


def llama_opt_run(f32: Path, chunks: list[tuple[list[int], list[bool]]], warmup: int, workdir: Path) -> dict[str, Any]:
    """The alternative stack in a subprocess on an F32 model; its outcome, whatever it is."""
    windows_file = workdir / "windows.json"
    windows_file.write_text(json.dumps([tokens for tokens, _ in chunks]))
    result: dict[str, Any] = {
        "stack": "llama.cpp llama_opt_epoch (all weights, AdamW, batch 1, CPU build)",
        "model_file": f32.name,
        "model_bytes": f32.stat().st_size,
        "warmup_steps": warmup,
        "seq_len": len(chunks[0][0]) - 1,
    }
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--llama-opt-worker", str(f32), str(windows_file), str(warmup)],
            capture_output=True, text=True, timeout=1200, check=False,
        )
    except subprocess.TimeoutExpired:
        return {**result, "outcome": "timed out after 1200 s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        marks = ("GGML_ASSERT", "GGML_ABORT", "unsupported", "error", "padded")
        said = [line.strip() for line in done.stderr.splitlines() if any(mark in line for mark in marks)]
        signal = {-6: " SIGABRT", -11: " SIGSEGV"}.get(done.returncode, "")
        return {**result, "outcome": f"failed (exit {done.returncode}{signal})",
                "error": (said[-1] if said else done.stderr.strip()[-300:])[-300:]}
    measured = json.loads(lines[-1])
    timed = measured["steps"][warmup:]
    seq_len = result["seq_len"]
    return {
        **result,
        "threads": measured["threads"],
        "load_s": round(measured["load_s"], 2),
        **per_step(timed, seq_len * len(timed), sum(timed)),
        "mean_loss": round(measured["mean_loss"], 4),
        "outcome": "ran",
    }


def f32_copy(path: Path, out: Path) -> Path:
    """The base dequantized to F32 with llama.cpp's own quantizer (llama_opt trains F32 weights only)."""
    from llama_cpp import llama_cpp as C
    from llama_cpp._logger import set_verbose

    from engine.training.lora import default_threads

    set_verbose(False)  # it logs every tensor otherwise
    params = C.llama_model_quantize_default_params()
    params.ftype = 0  # LLAMA_FTYPE_ALL_F32
    params.allow_requantize = True
    params.nthread = default_threads()
    if C.llama_model_quantize(str(path).encode(), str(out).encode(), ctypes.byref(params)) != 0:
        raise RuntimeError("llama.cpp could not write an F32 copy of the base model")
    return out


def llama_twin(path: Path, out: Path) -> tuple[Path, dict[str, int]]:
    """A llama-architecture F32 model with the base's width, depth, FFN, heads and vocabulary (random weights)."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(path)
    arch = str(bytes(reader.fields["general.architecture"].parts[-1]), "utf-8")

    def number(key: str) -> int:
        field = reader.fields[f"{arch}.{key}"]
        return int(field.parts[field.data[0]][0])

    def strings(key: str) -> list[bytes]:
        field = reader.fields[key]
        return [bytes(field.parts[i]) for i in field.data]

    shape = {
        "n_embd": number("embedding_length"), "n_layers": number("block_count"), "n_ff": number("feed_forward_length"),
        "n_heads": number("attention.head_count"), "n_kv_heads": number("attention.head_count_kv"),
        "n_vocab": len(reader.fields["tokenizer.ggml.tokens"].data),
    }
    n_embd, n_heads, n_kv = shape["n_embd"], shape["n_heads"], shape["n_kv_heads"]
    head_dim = n_embd // n_heads
    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name(f"llama twin of {path.stem}")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(4096)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(shape["n_layers"])
    writer.add_feed_forward_length(shape["n_ff"])
    writer.add_head_count(n_heads)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-6)
    # The base's own vocabulary (SentencePiece), so the same token ids mean the same pieces.
    writer.add_tokenizer_model("llama")
    writer.add_token_list(strings("tokenizer.ggml.tokens"))
    scores = reader.fields["tokenizer.ggml.scores"]
    writer.add_token_scores([float(scores.parts[i][0]) for i in scores.data])
    types = reader.fields["tokenizer.ggml.token_type"]
    writer.add_token_types([int(types.parts[i][0]) for i in types.data])
    for key, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id)):
        field = reader.fields.get(f"tokenizer.ggml.{key}_token_id")
        if field is not None:
            add(int(field.parts[field.data[0]][0]))

    def weight(rows: int, columns: int) -> Any:
        return rng.standard_normal((rows, columns), dtype=np.float32) * np.float32(1 / np.sqrt(columns))

    # No output.weight: the embeddings are tied, as Gemma's are (llama.cpp and transformers both reuse them).
    writer.add_tensor("token_embd.weight", weight(shape["n_vocab"], n_embd))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    for layer in range(shape["n_layers"]):
        prefix = f"blk.{layer}."
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(prefix + "attn_q.weight", weight(n_embd, n_embd))
        writer.add_tensor(prefix + "attn_k.weight", weight(n_kv * head_dim, n_embd))
        writer.add_tensor(prefix + "attn_v.weight", weight(n_kv * head_dim, n_embd))
        writer.add_tensor(prefix + "attn_output.weight", weight(n_embd, n_embd))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(prefix + "ffn_gate.weight", weight(shape["n_ff"], n_embd))
        writer.add_tensor(prefix + "ffn_up.weight", weight(shape["n_ff"], n_embd))
        writer.add_tensor(prefix + "ffn_down.weight", weight(n_embd, shape["n_ff"]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out, shape


def pick_device(choice: str) -> str:
    """The device PEFT trains on: `auto` is CUDA where torch sees one."""
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device cuda: torch {torch.__version__} sees no CUDA GPU (a CPU build, or no GPU)")
    return choice


def main() -> None:
    """Run both stacks and print/save what they measured."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", type=Path, help="a GGUF base model (default: the bundled demo model)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where PEFT trains")
    parser.add_argument("--seq-len", type=int, default=256, help="tokens a step (a multiple of 256 for llama_opt)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before the timed ones")
    parser.add_argument("--steps", type=int, default=8, help="timed PEFT steps")
    parser.add_argument("--opt-windows", type=int, default=6, help="timed llama_opt steps")
    parser.add_argument("--no-twin", action="store_true", help="no llama twin if llama_opt fails")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "training.json")
    parser.add_argument("--llama-opt-worker", nargs=3, metavar=("GGUF", "WINDOWS", "WARMUP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.llama_opt_worker:
        llama_opt_worker(args.llama_opt_worker[0], args.llama_opt_worker[1], int(args.llama_opt_worker[2]))
        return
    if args.seq_len < 16 or args.warmup < 0 or args.steps < 1 or args.opt_windows < 1:
        raise SystemExit("--seq-len must be at least 16, --steps and --opt-windows at least 1")
    device = pick_device(args.device)
    begun = time.perf_counter()
    if args.model is None:
        demo_home()
        from engine.models import ModelRegistry

        path = next(r.path for r in ModelRegistry().list() if r.source == "demo")
    else:
        os.environ["ENCLAVE_HOME"] = tempfile.mkdtemp(prefix="enclave-bench-")
        path = args.model.resolve()
    stream = token_stream(path)
    peft_chunks = windows(stream, args.seq_len, args.warmup + args.steps)
    opt_chunks = windows(stream, args.seq_len, args.warmup + args.opt_windows)
    report: dict[str, Any] = {
        "model": path.name,
        "machine": machine(),
        "command": " ".join(["python", "bench/bench_training.py", *sys.argv[1:]]),
        "dataset": {"rows": len(TOPICS), "stream_tokens": len(stream[0]), "seq_len": args.seq_len},
    }
    print(f"PEFT on {path.name} ({device}) ...", file=sys.stderr, flush=True)
    report["chosen"] = peft_run(path, base_record(path).facts.architecture, peft_chunks, args.warmup, device)
    with tempfile.TemporaryDirectory(prefix="enclave-bench-opt-") as workdir:
        print("llama_opt on an F32 copy ...", file=sys.stderr, flush=True)
        f32 = f32_copy(path, Path(workdir) / f"{path.stem}-f32.gguf")
        report["alternative"] = llama_opt_run(f32, opt_chunks, args.warmup, Path(workdir))
        f32.unlink()
        if report["alternative"]["outcome"] != "ran" and not args.no_twin:
            print("both stacks on a llama twin ...", file=sys.stderr, flush=True)
            twin, shape = llama_twin(path, Path(workdir) / f"llama-twin-of-{path.stem}-f32.gguf")
            report["twin"] = {
                "why": "llama_opt cannot train the base here; a llama-architecture model of the same shape can be",
                "shape": shape,
                "chosen": peft_run(twin, "llama", peft_chunks, args.warmup, device),
                "alternative": llama_opt_run(twin, opt_chunks, args.warmup, Path(workdir)),
            }
    report["total_s"] = round(time.perf_counter() - begun, 1)
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
