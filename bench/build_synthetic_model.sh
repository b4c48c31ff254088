#!/usr/bin/env bash
# A model of TinyLlama 1.1B's shape with random weights, quantised to Q4_K_M by llama.cpp's own
# llama-quantize (built beside llama-server), cached next to that build; prints its path. Random weights
# time like real ones: see bench/synthetic_gguf.py. Serve it with
#   python bench/bench_serving.py --model "$(bash bench/build_synthetic_model.sh)"
set -euo pipefail
PY=${PY:-.venv/bin/python}
server=$(bash bench/build_llama_server.sh)
build=$(dirname "$(dirname "$server")")
quantize=$build/bin/llama-quantize
if [ ! -x "$quantize" ]; then
  cmake --build "$build" --target llama-quantize -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}" >&2
fi
out=$(dirname "$build")/synthetic-tinyllama-1.1b-q4_k_m.gguf
if [ ! -f "$out" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  $PY bench/synthetic_gguf.py "$work/f16.gguf" >&2
  "$quantize" "$work/f16.gguf" "$work/q4_k_m.gguf" Q4_K_M >&2
  mv "$work/q4_k_m.gguf" "$out"
fi
echo "$out"
