"""Write a tiny but real llama-architecture GGUF: byte-level vocabulary, random weights, chat template.

It loads in milliseconds and generates (random) text through real llama.cpp, so every test that needs a
model runs the real engine without downloading anything.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


PIECES = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'"


def _vocabulary(pieces: str = PIECES) -> tuple[list[bytes], list[float], list[int]]:
    """SentencePiece-style vocabulary: specials, all 256 byte tokens, and a few ASCII pieces."""
    T = gguf.TokenType
    tokens = [b"<unk>", b"<s>", b"</s>", b"<|im_start|>", b"<|im_end|>"]
    types = [T.UNKNOWN, T.CONTROL, T.CONTROL, T.CONTROL, T.CONTROL]
    scores = [0.0] * len(tokens)
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>".encode())
        types.append(T.BYTE)
        scores.append(0.0)
    # Printable pieces (with and without the SentencePiece space marker) so text tokenises compactly.
    for i, char in enumerate(pieces):
        for piece in (char, "\u2581" + char):
            tokens.append(piece.encode())
            types.append(T.NORMAL)
            scores.append(-float(i))
    tokens.append("\u2581".encode())
    types.append(T.NORMAL)
    scores.append(-1.0)
    return tokens, scores, [int(t) for t in types]


def write_tiny_gguf(
    path: Path,
    *,
    seed: int = 0,
    chat_template: str | None = CHATML_TEMPLATE,
    context_length: int = 512,
    n_embd: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    n_kv_heads: int | None = None,
    n_ff: int = 128,
    name: str = "tiny-test",
    fim: bool = False,
    pieces: str = PIECES,
) -> Path:
    """Write the model to `path` and return it; `fim`: with fill-in-the-middle tokens, as code models have;
    `pieces`: the characters that have tokens of their own (another order: another vocabulary)."""
    rng = np.random.default_rng(seed)
    tokens, scores, types = _vocabulary(pieces)
    fim_ids = {}
    if fim:
        for key, text in ((gguf.Keys.Tokenizer.FIM_PRE_ID, "<|fim_prefix|>"), (gguf.Keys.Tokenizer.FIM_SUF_ID,
                          "<|fim_suffix|>"), (gguf.Keys.Tokenizer.FIM_MID_ID, "<|fim_middle|>")):
            fim_ids[key] = len(tokens)
            tokens.append(text.encode())
            types.append(int(gguf.TokenType.CONTROL))
            scores.append(0.0)
    n_vocab = len(tokens)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_license("apache-2.0")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_heads)
    n_kv_heads = n_kv_heads or n_heads
    kv_width = n_kv_heads * (n_embd // n_heads)
    writer.add_head_count_kv(n_kv_heads)
    writer.add_rope_dimension_count(n_embd // n_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    for key, token_id in fim_ids.items():
        writer.add_uint32(key, token_id)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", weight(n_vocab, n_embd))
    for layer in range(n_layers):
        prefix = f"blk.{layer}."
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for part in ("attn_q", "attn_k", "attn_v", "attn_output"):
            rows = kv_width if part in ("attn_k", "attn_v") else n_embd
            writer.add_tensor(prefix + part + ".weight", weight(rows, n_embd))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(prefix + "ffn_gate.weight", weight(n_ff, n_embd))
        writer.add_tensor(prefix + "ffn_up.weight", weight(n_ff, n_embd))
        writer.add_tensor(prefix + "ffn_down.weight", weight(n_embd, n_ff))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    import sys

    print(write_tiny_gguf(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf")))
