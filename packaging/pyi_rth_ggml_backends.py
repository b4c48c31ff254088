"""PyInstaller runtime hook: register llama.cpp's backends from the bundle, and only from there.

The distribution build of llama.cpp (packaging/build_llama_wheel.sh) ships every CPU kernel variant
as its own library (libggml-cpu-haswell.so, …-skylakex.so, …) and picks one by CPUID score at run
time. Left to itself, ggml looks for those libraries in the executable's folder *and in the current
working directory*, dlopening every match: started from a folder holding a planted libggml-cpu-x.so,
the app would run it. So before anything imports llama_cpp, this hook registers the backends from
the bundle's own llama_cpp/lib; llama.cpp then finds backends registered and skips its own search.

ENCLAVE_GGML_CPU=<variant> (x64, sse42, sandybridge, haswell, skylakex, icelake, alderlake, zen4,
sapphirerapids, …) loads that CPU variant instead of the best-scored one. The score trusts CPUID;
should a CPU or hypervisor advertise a feature it then faults on (SIGILL), this is the way out.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

# ggml's names for the GPU/accelerator backends it can load beside the CPU one.
_ACCELERATORS = ("blas", "cuda", "hip", "metal", "vulkan", "sycl", "opencl", "musa", "cann")


def _library_names() -> tuple[str, str, list[str]]:
    """(file prefix, extension, candidate names of libggml) as llama_cpp's own loader spells them."""
    if sys.platform == "win32":
        return "ggml-", ".dll", ["ggml.dll", "libggml.dll"]
    if sys.platform == "darwin":
        return "libggml-", ".so", ["libggml.dylib", "libggml.so"]
    # libggml.so.0 first: the soname libllama links (in the bundle both names are one file).
    return "libggml-", ".so", ["libggml.so.0", "libggml.so"]


# ggml_log_callback: void (*)(enum ggml_log_level level, const char * text, void * user_data)
_LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_GGML_LOG_LEVEL_ERROR = 4


@_LOG_CALLBACK
def _errors_only(level: int, text: bytes | None, _user: object) -> None:
    """While loading: keep ggml's errors, drop its "loaded CPU backend from …" line on every start."""
    if level == _GGML_LOG_LEVEL_ERROR and text:
        sys.stderr.write(text.decode(errors="replace"))


def _register_backends() -> None:
    lib_dir = Path(getattr(sys, "_MEIPASS", "")) / "llama_cpp" / "lib"
    prefix, ext, names = _library_names()
    variants = sorted(lib_dir.glob(f"{prefix}cpu-*{ext}"))
    if not variants:
        return  # a llama.cpp built without GGML_BACKEND_DL: its CPU backend is linked in
    ggml_path = next((lib_dir / n for n in names if (lib_dir / n).is_file()), None)
    if ggml_path is None:
        return
    # The file libllama links, so this registry is the one llama.cpp uses.
    ggml = ctypes.CDLL(str(ggml_path))
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path.restype = None
    ggml.ggml_log_set.argtypes = [_LOG_CALLBACK, ctypes.c_void_p]
    ggml.ggml_log_set.restype = None

    wanted = os.environ.get("ENCLAVE_GGML_CPU", "").strip()
    chosen = lib_dir / f"{prefix}cpu-{wanted}{ext}"
    if wanted and chosen not in variants:
        known = ", ".join(v.name[len(prefix) + 4 : -len(ext)] for v in variants)
        sys.stderr.write(f"enclave: ENCLAVE_GGML_CPU={wanted} is not one of: {known}\n")
        sys.exit(1)
    ggml.ggml_log_set(_errors_only, None)
    try:
        if not wanted:
            ggml.ggml_backend_load_all_from_path(os.fsencode(lib_dir))
            return
        for name in _ACCELERATORS:  # GPU backends first, the CPU last, as ggml_backend_load_all does
            accelerator = lib_dir / f"{prefix}{name}{ext}"
            if accelerator.is_file():
                ggml.ggml_backend_load(os.fsencode(accelerator))
        ggml.ggml_backend_load(os.fsencode(chosen))
    finally:
        ggml.ggml_log_set(_LOG_CALLBACK(), None)  # NULL: ggml's default logger again


_register_backends()
