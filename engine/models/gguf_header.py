"""A defensive GGUF header reader, run in Python before llama.cpp ever sees a file.

Model files are untrusted input. This reader checks the magic, version and counts, bounds every length
before allocating, walks every key/value and tensor description, and checks that the tensor data the
header promises actually fits in the file (truncation). Large arrays (the vocabulary) are skipped, only
their length kept, so a multi-GB model is inspected in milliseconds without reading its weights.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from engine.errors import UserError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# Bounds far above any real model, far below what a hostile header could make us allocate.
MAX_KV_COUNT = 100_000
MAX_TENSOR_COUNT = 200_000
MAX_STRING_BYTES = 64 * 1024 * 1024
MAX_ARRAY_ITEMS = 50_000_000
MAX_DIMS = 8
# Arrays of arrays nest at most this deep (real models use none); unbounded nesting would crash the
# reader (RecursionError) instead of refusing the file.
MAX_ARRAY_DEPTH = 4
# Bytes of strings the reader keeps in memory (keys, values, tensor names), all together: a hostile
# header of many maximal strings must not fill memory.
MAX_KEPT_BYTES = 128 * 1024 * 1024
# Items read one at a time (strings, nested arrays, kept values, tensor descriptions), all together:
# each costs Python time, 1-2 µs, so this bounds the header walk to a few seconds. A real model
# has under a million (a 256k vocabulary, its merges and scores; a few thousand tensors).
MAX_WALKED_ITEMS = 2_000_000
# Values kept in memory (metadata scalars and short arrays' items), all together.
MAX_KEPT_VALUES = 200_000
# Arrays up to this many items are kept (e.g. rope scaling factors); longer ones are skipped.
KEEP_ARRAY_ITEMS = 64

# GGUF value type ids → struct format of the scalar (strings and arrays handled separately).
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


class GGUFError(UserError):
    """The file is not a valid GGUF model (bad magic, version, counts, or truncated)."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's description from the header."""

    name: str
    shape: tuple[int, ...]
    type_id: int
    offset: int

    @property
    def element_count(self) -> int:
        """Number of weights in the tensor."""
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    def byte_size(self) -> int:
        """Bytes the tensor's data takes in the file."""
        try:
            block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(self.type_id)]
        except (ValueError, KeyError):
            raise GGUFError(f"tensor {self.name!r} has an unknown data type {self.type_id}") from None
        return self.element_count // block_size * type_size


@dataclass(frozen=True)
class GGUFHeader:
    """Everything the header says: key/values (large arrays as lengths) and tensor descriptions."""

    version: int
    metadata: dict[str, Any]
    array_lengths: dict[str, int]
    tensors: list[TensorInfo] = field(repr=False)
    data_offset: int
    file_size: int

    @property
    def parameter_count(self) -> int:
        """Total number of weights across all tensors."""
        return sum(t.element_count for t in self.tensors)


class _Reader:
    """Bounded little-endian reads from a file, failing with GGUFError instead of short reads."""

    def __init__(self, handle: BinaryIO, file_size: int) -> None:
        self.handle = handle
        self.file_size = file_size
        self.kept_bytes = 0  # string bytes read into memory so far (MAX_KEPT_BYTES)
        self.walked = 0  # items read one at a time so far (MAX_WALKED_ITEMS)
        self.kept = 0  # values kept so far (MAX_KEPT_VALUES)

    def walk(self, count: int, *, keep: bool = False) -> None:
        """Account for `count` items about to be read one by one (and kept, with `keep`)."""
        self.walked += count
        if self.walked > MAX_WALKED_ITEMS:
            raise GGUFError("malformed GGUF header: implausibly many items to read")
        if keep:
            self.kept += count
            if self.kept > MAX_KEPT_VALUES:
                raise GGUFError("malformed GGUF header: implausibly many metadata values")

    def read(self, size: int) -> bytes:
        data = self.handle.read(size)
        if len(data) != size:
            raise GGUFError("the file is truncated (the GGUF header ends early)")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def skip(self, size: int) -> None:
        if self.handle.tell() + size > self.file_size:
            raise GGUFError("the file is truncated (the GGUF header ends early)")
        self.handle.seek(size, 1)

    def string(self) -> str:
        length = self.unpack("<Q")
        if length > MAX_STRING_BYTES:
            raise GGUFError("malformed GGUF header: a string is implausibly long")
        if length > self.file_size - self.handle.tell():
            raise GGUFError("the file is truncated (the GGUF header ends early)")
        self.kept_bytes += length
        if self.kept_bytes > MAX_KEPT_BYTES:
            raise GGUFError("malformed GGUF header: its strings are implausibly large in total")
        try:
            return self.read(length).decode("utf-8")
        except UnicodeDecodeError:
            raise GGUFError("malformed GGUF header: a string is not valid UTF-8") from None

    def skip_string(self) -> None:
        length = self.unpack("<Q")
        if length > MAX_STRING_BYTES:
            raise GGUFError("malformed GGUF header: a string is implausibly long")
        self.skip(length)


def _read_value(reader: _Reader, type_id: int, key: str, array_lengths: dict[str, int]) -> Any:
    """One metadata value: scalars and strings as read, short arrays as lists, long ones skipped (None)."""
    if type_id in _SCALARS:
        return reader.unpack(_SCALARS[type_id])
    if type_id == _STRING:
        return reader.string()
    if type_id != _ARRAY:
        raise GGUFError(f"malformed GGUF header: key {key!r} has unknown value type {type_id}")
    item_type, count = _array_head(reader, key)
    array_lengths[key] = count
    if count > KEEP_ARRAY_ITEMS or item_type == _ARRAY:
        _skip_items(reader, item_type, count, key, depth=1)
        return None
    if item_type not in _SCALARS and item_type != _STRING:
        raise GGUFError(f"malformed GGUF header: array {key!r} has an unsupported item type")
    reader.walk(count, keep=True)
    return [_read_value(reader, item_type, key, {}) for _ in range(count)]


def _array_head(reader: _Reader, key: str) -> tuple[int, int]:
    item_type = reader.unpack("<I")
    count = reader.unpack("<Q")
    if count > MAX_ARRAY_ITEMS:
        raise GGUFError(f"malformed GGUF header: array {key!r} is implausibly long")
    return item_type, count


def _skip_items(reader: _Reader, item_type: int, count: int, key: str, depth: int) -> None:
    """Skip `count` array items of one type; arrays of arrays iteratively deeper, up to MAX_ARRAY_DEPTH."""
    if item_type in _SCALARS:
        reader.skip(struct.calcsize(_SCALARS[item_type]) * count)  # one seek, however many
    elif item_type == _STRING:
        reader.walk(count)
        for _ in range(count):
            reader.skip_string()
    elif item_type == _ARRAY:
        if depth >= MAX_ARRAY_DEPTH:
            raise GGUFError(f"malformed GGUF header: array {key!r} nests more than {MAX_ARRAY_DEPTH} levels deep")
        reader.walk(count)
        for _ in range(count):
            inner_type, inner_count = _array_head(reader, key)
            _skip_items(reader, inner_type, inner_count, key, depth + 1)
    else:
        raise GGUFError(f"malformed GGUF header: array {key!r} has an unsupported item type")


def read_header(path: Path) -> GGUFHeader:
    """Parse and validate the GGUF header of `path`; raise GGUFError with a clear reason if it is bad."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a GGUF file") from None
    except PermissionError:
        raise UserError(f"cannot read {path}: permission denied") from None
    with handle:
        file_size = path.stat().st_size
        reader = _Reader(handle, file_size)
        if file_size < 24 or handle.read(4) != GGUF_MAGIC:
            raise GGUFError(f"{path.name} is not a GGUF model file")
        version = reader.unpack("<I")
        if version not in SUPPORTED_VERSIONS:
            raise GGUFError(f"{path.name} uses GGUF version {version}; supported: 2 and 3")
        tensor_count = reader.unpack("<Q")
        kv_count = reader.unpack("<Q")
        if tensor_count > MAX_TENSOR_COUNT or kv_count > MAX_KV_COUNT:
            raise GGUFError("malformed GGUF header: implausible tensor or key counts")

        metadata: dict[str, Any] = {}
        array_lengths: dict[str, int] = {}
        reader.walk(kv_count, keep=True)
        reader.walk(tensor_count)
        for _ in range(kv_count):
            key = reader.string()
            metadata[key] = _read_value(reader, reader.unpack("<I"), key, array_lengths)

        tensors = []
        for _ in range(tensor_count):
            name = reader.string()
            n_dims = reader.unpack("<I")
            if n_dims > MAX_DIMS:
                raise GGUFError(f"malformed GGUF header: tensor {name!r} has {n_dims} dimensions")
            shape = tuple(reader.unpack("<Q") for _ in range(n_dims))
            tensors.append(TensorInfo(name, shape, reader.unpack("<I"), reader.unpack("<Q")))

        alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise GGUFError("malformed GGUF header: bad general.alignment")
        header_end = handle.tell()
        data_offset = (header_end + alignment - 1) // alignment * alignment

    for tensor in tensors:
        if tensor.offset % alignment or data_offset + tensor.offset + tensor.byte_size() > file_size:
            raise GGUFError(f"{path.name} is truncated or corrupt: tensor {tensor.name!r} lies past the end")
    return GGUFHeader(version, metadata, array_lengths, tensors, data_offset, file_size)
