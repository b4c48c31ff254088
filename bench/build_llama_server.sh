#!/usr/bin/env bash
# Build llama.cpp's own `llama-server` once, from the llama.cpp sources vendored in the llama-cpp-python
# source distribution that Enclave uses, with the same CPU flags as our wheel (see the Makefile).
# The build is cached outside the repository; prints the binary's path.
set -euo pipefail
PY=${PY:-.venv/bin/python}
version=$($PY -c 'import llama_cpp; print(llama_cpp.__version__)')
cache=${ENCLAVE_BENCH_CACHE:-$HOME/.cache/enclave-bench}/llama.cpp-$version
binary=$cache/build/bin/llama-server
if [ -x "$binary" ]; then echo "$binary"; exit 0; fi
mkdir -p "$cache"
if [ ! -f "$cache/src/CMakeLists.txt" ]; then
  tmp=$(mktemp -d)
  $PY -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$tmp" >&2
  tar -xzf "$tmp"/llama_cpp_python-*.tar.gz -C "$tmp"
  rm -rf "$cache/src"
  mv "$tmp"/llama_cpp_python-*/vendor/llama.cpp "$cache/src"
  rm -rf "$tmp"
fi
cmake -S "$cache/src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON >&2
cmake --build "$cache/build" --target llama-server -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}" >&2
echo "$binary"
