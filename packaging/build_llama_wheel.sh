#!/usr/bin/env bash
# Build llama-cpp-python for distribution, once, into a cache outside the repository.
#
# The developer venv compiles llama.cpp for this machine's class of CPU. An installer cannot: it
# must run on any x86-64 CPU and still use the best kernels each one has. So the distribution
# build compiles every CPU kernel variant as its own shared library (GGML_CPU_ALL_VARIANTS) and
# picks one at run time by CPUID score (GGML_BACKEND_DL). Nothing is compiled with -march=native.
#
# Usage: packaging/build_llama_wheel.sh [cpu|cuda|vulkan|metal]      (default: cpu)
# Prints the path of the wheel on its last line of stdout.
#
# Variants (the GPU backends are further dynamic libraries beside the CPU ones; ggml loads those
# whose driver is present and falls back to the CPU otherwise):
#   cpu     Linux/Windows x86-64: all CPU variants (x64 … sapphirerapids), runtime dispatch.
#   cuda    cpu + -DGGML_CUDA=ON. Needs the CUDA toolkit (nvcc) at build time; the NVIDIA driver
#           and CUDA runtime libraries at run time. CUDA_ARCHS picks the GPU generations.
#   vulkan  cpu + -DGGML_VULKAN=ON. Needs the Vulkan SDK (glslc, headers) at build time; any
#           Vulkan 1.2 driver (AMD, Intel, NVIDIA) at run time.
#   metal   macOS arm64: Metal with its shader library embedded, Apple CPU variants.
#
# Environment:
#   LLAMA_CPP_PYTHON_VERSION  version to build (default: the one pinned below)
#   ENCLAVE_BUILD_CACHE       cache folder (default: ~/.cache/enclave-build)
#   PYTHON                    interpreter that builds the wheel (default: python3)
#   CMAKE_BUILD_PARALLEL_LEVEL  compile jobs (default: 2); the build runs under `nice`.
#   EXTRA_CMAKE_ARGS          appended to the variant's CMake arguments.
set -euo pipefail

VARIANT="${1:-cpu}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE="${ENCLAVE_BUILD_CACHE:-$HOME/.cache/enclave-build}"
PYTHON="${PYTHON:-python3}"
CUDA_ARCHS="${CUDA_ARCHS:-75-virtual;80-virtual;86-real;89-real;90-virtual}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"

# Common to every variant: no host tuning, runtime-loaded backends, no tests/examples/tools.
# CMAKE_INSTALL_BINDIR puts the backend modules into llama_cpp/lib beside libllama instead of
# <site-packages>/bin (ggml installs dynamic backends to the bin dir).
COMMON="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DCMAKE_INSTALL_BINDIR=llama_cpp/lib \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
case "$VARIANT" in
    cpu)    ARGS="$COMMON -DGGML_CPU_ALL_VARIANTS=ON" ;;
    cuda)   ARGS="$COMMON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS" ;;
    vulkan) ARGS="$COMMON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_VULKAN=ON" ;;
    metal)  ARGS="$COMMON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_METAL=ON -DGGML_METAL_EMBED_LIBRARY=ON" ;;
    *) echo "unknown variant '$VARIANT' (cpu, cuda, vulkan, metal)" >&2; exit 1 ;;
esac
ARGS="$ARGS ${EXTRA_CMAKE_ARGS:-}"
# Bump when the source patches below change.
PATCHES=amx-tilecfg-1

# The cache key covers everything that changes the binary, so a flag change rebuilds.
KEY="$(printf '%s|%s|%s|%s|%s' "$VERSION" "$VARIANT" "$ARGS" "$PATCHES" "$(uname -sm)" \
    | "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])')"
OUT="$CACHE/wheels/$VARIANT-$VERSION-$KEY"
existing="$(ls "$OUT"/llama_cpp_python-*.whl 2>/dev/null | head -n1 || true)"
if [ -n "$existing" ]; then
    echo "cached: $existing" >&2
    echo "$existing"
    exit 0
fi

mkdir -p "$CACHE/src" "$OUT.tmp"
SDIST="$CACHE/src/llama_cpp_python-$VERSION.tar.gz"
if [ ! -f "$SDIST" ]; then
    "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$CACHE/src"
fi

# Patch the source. The AMX kernels (sapphirerapids variant) build their tile configuration on the
# stack and hand it to _tile_loadconfig, whose GCC inline asm (GCC <= 13 amxtileintrin.h) declares
# that it reads 8 bytes, not 64: GCC drops the stores of the row/column sizes as dead, ldtilecfg
# loads an empty configuration, and the first tile instruction raises SIGILL on every AMX CPU
# (seen here; upstream: ggml-org/llama.cpp PR 26954). A compiler barrier that takes the address
# keeps the stores. Guarded, so a llama.cpp that changed this code builds unpatched, loudly.
SRC="$CACHE/src/llama_cpp_python-$VERSION-patched"
rm -rf "$SRC" && mkdir -p "$SRC"
tar -xzf "$SDIST" -C "$SRC" --strip-components=1
MMQ="$SRC/vendor/llama.cpp/ggml/src/ggml-cpu/amx/mmq.cpp"
if grep -q '^    _tile_loadconfig(&tc);$' "$MMQ"; then
    sed -i.orig 's|^    _tile_loadconfig(&tc);$|    __asm__ __volatile__("" : : "r"(\&tc) : "memory");  /* enclave: keep the stores */\n    _tile_loadconfig(\&tc);|' "$MMQ"
    grep -q 'enclave: keep the stores' "$MMQ"
else
    echo "warning: amx/mmq.cpp changed upstream; the tile-config patch was not applied" >&2
fi

echo "building llama-cpp-python $VERSION ($VARIANT) with: $ARGS" >&2
start=$(date +%s)
NICE=""
command -v nice >/dev/null 2>&1 && NICE="nice -n 19"
# --no-cache-dir: pip's wheel cache is keyed by the sdist, not by CMAKE_ARGS, and would hand back
# a wheel built with other flags (e.g. the developer build).
CMAKE_ARGS="$ARGS" $NICE "$PYTHON" -m pip wheel --no-deps --no-cache-dir -w "$OUT.tmp" "$SRC" >&2
wheel="$(ls "$OUT.tmp"/llama_cpp_python-*.whl)"

# The llama.cpp commit this release vendors, for the SBOM (first one named in its changelog).
commit="$(tar -xzOf "$SDIST" "llama_cpp_python-$VERSION/CHANGELOG.md" \
    | sed -n 's/.*llama\.cpp@\([0-9a-f]\{7,40\}\).*/\1/p' | head -n1)"
"$PYTHON" - "$wheel" "$OUT.tmp/build-info.json" "$VERSION" "$VARIANT" "$ARGS" "$commit" "$PATCHES" <<'EOF'
import json, sys, zipfile
wheel, out, version, variant, args, commit, patches = sys.argv[1:]
libs = sorted(n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(wheel).namelist() if "/lib/" in n)
if variant != "metal" and not any(n.startswith(("libggml-cpu-", "ggml-cpu-")) for n in libs):
    sys.exit("the wheel has no CPU variant libraries: GGML_BACKEND_DL did not take effect")
json.dump({"llama_cpp_python": version, "llama_cpp_commit": commit, "variant": variant,
           "cmake_args": args.split(), "source_patches": patches, "libraries": libs}, open(out, "w"), indent=2)
EOF
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "built in $(( $(date +%s) - start )) s" >&2
ls "$OUT"/llama_cpp_python-*.whl
