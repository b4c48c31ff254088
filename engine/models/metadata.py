"""What a person wants to know about a GGUF model, read from its own header."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from gguf.constants import GGMLQuantizationType, LlamaFileType

from engine.models.gguf_header import GGUFHeader


@dataclass(frozen=True)
class ModelFacts:
    """Facts taken from the GGUF header (never from the file name)."""

    architecture: str
    model_name: str
    size_label: str
    parameter_count: int
    quantization: str
    context_length: int
    embedding_length: int
    layer_count: int
    vocab_size: int
    license: str | None
    has_chat_template: bool
    # Bytes of KV cache one token takes in all layers together (f16 K and V): 0 for a model without
    # attention (Mamba, RWKV), None where the header does not say it in a form read here (compressed
    # attention such as DeepSeek's) or for a record registered before it was recorded.
    kv_bytes_per_token: int | None = None


def format_parameter_count(count: int) -> str:
    """270_000_000 → '270M', 7_241_732_096 → '7.2B'."""
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= threshold:
            value = count / threshold
            return f"{value:.0f}{suffix}" if value >= 10 or value == int(value) else f"{value:.1f}{suffix}"
    return str(count)


def _quantization(header: GGUFHeader) -> str:
    file_type = header.metadata.get("general.file_type")
    if isinstance(file_type, int):
        try:
            return LlamaFileType(file_type).name.removeprefix("MOSTLY_")
        except ValueError:
            pass
    # No (known) file type: name the data type most weights use.
    by_type: Counter[int] = Counter()
    for tensor in header.tensors:
        by_type[tensor.type_id] += tensor.element_count
    if not by_type:
        return "unknown"
    try:
        return GGMLQuantizationType(by_type.most_common(1)[0][0]).name
    except ValueError:
        return "unknown"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


KV_CACHE_ELEMENT_BYTES = 2  # llama.cpp caches K and V as f16 unless told otherwise
# Optionally prefixed: encoder-decoder models name their blocks enc.blk.N and dec.blk.N.
_ATTENTION = re.compile(r"(?:\w+\.)?blk\.\d+\.attn_(k|v|qkv)\.weight")
_ANY_ATTENTION = re.compile(r"(?:\w+\.)?blk\.\d+\.attn_(q|output)")  # not attn_norm: recurrent models have it


def _kv_bytes_per_token(header: GGUFHeader) -> int | None:
    """The KV cache a token takes, from the K and V projections' output widths (n_kv_heads × head size in
    each layer): the shapes say it for grouped-query attention, per-layer head counts and odd head sizes
    alike. A fused QKV projection is split by the head counts."""
    meta = header.metadata
    arch = str(meta.get("general.architecture") or "")
    heads = _int(meta.get(f"{arch}.attention.head_count"))
    kv_heads = _int(meta.get(f"{arch}.attention.head_count_kv")) or heads
    width = 0
    found = False
    for tensor in header.tensors:
        match = _ATTENTION.fullmatch(tensor.name)
        if match is None or len(tensor.shape) != 2:
            continue
        found = True
        if match.group(1) != "qkv":
            width += tensor.shape[1]
        elif heads:
            width += tensor.shape[1] * 2 * kv_heads // (heads + 2 * kv_heads)
        else:
            return None  # per-layer head counts (an array) and a fused projection: not split here
    if not found:
        attends = any(_ANY_ATTENTION.match(tensor.name) for tensor in header.tensors)
        return None if attends else 0
    return width * KV_CACHE_ELEMENT_BYTES


def facts_from_header(header: GGUFHeader) -> ModelFacts:
    """Summarise a parsed header into the facts the registry, CLI and GUI show."""
    meta = header.metadata
    arch = str(meta.get("general.architecture") or "unknown")
    vocab = header.array_lengths.get("tokenizer.ggml.tokens") or _int(meta.get(f"{arch}.vocab_size"))
    size_label = meta.get("general.size_label")
    license_name = meta.get("general.license")
    return ModelFacts(
        architecture=arch,
        model_name=str(meta.get("general.name") or meta.get("general.basename") or ""),
        size_label=str(size_label) if size_label else format_parameter_count(header.parameter_count),
        parameter_count=header.parameter_count,
        quantization=_quantization(header),
        context_length=_int(meta.get(f"{arch}.context_length")),
        embedding_length=_int(meta.get(f"{arch}.embedding_length")),
        layer_count=_int(meta.get(f"{arch}.block_count")),
        vocab_size=vocab,
        license=str(license_name) if license_name else None,
        has_chat_template=isinstance(meta.get("tokenizer.chat_template"), str),
        kv_bytes_per_token=_kv_bytes_per_token(header),
    )
