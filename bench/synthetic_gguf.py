"""Write a full-size llama-architecture GGUF with random weights, to time serving on a bigger model.

No model can be downloaded here, and the only real one at hand is the 270M demo. Decode speed depends
on a model's shape and quantisation, not on what its weights say, so a random model of a real model's
shape (TinyLlama 1.1B: 22 layers, width 2048, 32 heads over 4 KV heads, 32000-token vocabulary) times
the same as the real thing. Its vocabulary is all text (printable ASCII and lower-case pieces), and the
rows of the output layer for control and byte tokens are zero while every other row is random, so greedy
decoding never picks end-of-text or a lone byte: every server streams the same full-length replies.

Writes F16 weights; `bench/build_synthetic_model.sh` quantises them to Q4_K_M with llama.cpp's own tool.

Run: python bench/synthetic_gguf.py OUT.gguf
"""

from __future__ import annotations

import itertools
import string
import sys
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np


@dataclass(frozen=True)
class Shape:
    """A llama-architecture model's dimensions."""

    name: str
    n_vocab: int
    n_embd: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    n_ff: int
    context_length: int


# Context 4096 rather than its 2048: the serving bench gives every sequence 4096.
TINYLLAMA_1B = Shape("synthetic-tinyllama-1.1b", 32000, 2048, 22, 32, 4, 5632, 4096)
CONTROL = (b"<unk>", b"<s>", b"</s>")
SPACE = "\u2581"  # SentencePiece's word-start marker


def vocabulary(size: int) -> tuple[list[bytes], list[float], list[int]]:
    """Control tokens, 256 byte-fallback tokens, then text pieces, longest preferred, up to `size`."""
    T = gguf.TokenType
    tokens = list(CONTROL)
    types = [T.UNKNOWN, T.CONTROL, T.CONTROL]
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>".encode())
        types.append(T.BYTE)
    pieces = [SPACE] + [c for c in string.printable[:95] if c != " "]
    pieces += [SPACE + c for c in pieces[1:]]
    for length in (2, 3):
        for letters in itertools.product(string.ascii_lowercase, repeat=length):
            pieces += ["".join(letters), SPACE + "".join(letters)]
    pieces = pieces[: size - len(tokens)]
    tokens += [piece.encode() for piece in pieces]
    types += [T.NORMAL] * len(pieces)
    # SentencePiece merges by score: a longer piece wins over its parts.
    scores = [0.0] * (len(tokens) - len(pieces)) + [len(piece) - i * 1e-6 for i, piece in enumerate(pieces)]
    return tokens, scores, [int(t) for t in types]


def write(path: Path, shape: Shape = TINYLLAMA_1B, seed: int = 0) -> Path:
    """Write the model to `path` (F16 weights, F32 norms) and return it."""
    rng = np.random.default_rng(seed)
    tokens, scores, types = vocabulary(shape.n_vocab)
    assert len(tokens) == shape.n_vocab, "the vocabulary does not fill the shape's size"
    head_dim = shape.n_embd // shape.n_heads
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(shape.name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(shape.context_length)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layers)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_heads)
    writer.add_head_count_kv(shape.n_kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)

    def weight(rows: int, columns: int) -> np.ndarray:
        # 1/sqrt(fan-in): activations keep their size through every layer, so F16 never overflows.
        return (rng.standard_normal((rows, columns), dtype=np.float32) / np.sqrt(columns)).astype(np.float16)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    output = weight(shape.n_vocab, shape.n_embd)
    output[: len(CONTROL) + 256] = 0  # their logit is 0, below the best of ~31,700 random ones
    writer.add_tensor("token_embd.weight", weight(shape.n_vocab, shape.n_embd))
    writer.add_tensor("output_norm.weight", ones(shape.n_embd))
    writer.add_tensor("output.weight", output)
    kv_width = shape.n_kv_heads * head_dim
    for layer in range(shape.n_layers):
        prefix = f"blk.{layer}."
        writer.add_tensor(prefix + "attn_norm.weight", ones(shape.n_embd))
        writer.add_tensor(prefix + "attn_q.weight", weight(shape.n_embd, shape.n_embd))
        writer.add_tensor(prefix + "attn_k.weight", weight(kv_width, shape.n_embd))
        writer.add_tensor(prefix + "attn_v.weight", weight(kv_width, shape.n_embd))
        writer.add_tensor(prefix + "attn_output.weight", weight(shape.n_embd, shape.n_embd))
        writer.add_tensor(prefix + "ffn_norm.weight", ones(shape.n_embd))
        writer.add_tensor(prefix + "ffn_gate.weight", weight(shape.n_ff, shape.n_embd))
        writer.add_tensor(prefix + "ffn_up.weight", weight(shape.n_ff, shape.n_embd))
        writer.add_tensor(prefix + "ffn_down.weight", weight(shape.n_embd, shape.n_ff))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "synthetic-1.1b-f16.gguf")))
