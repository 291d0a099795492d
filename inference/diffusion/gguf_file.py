"""The header of a GGUF file, read with the standard library only (no torch, no ``gguf`` package).

What discovery needs from a GGUF transformer: its tensors (name, shape, quant type), where their
data lies, and the metadata (``general.architecture``, ``general.file_type``). A hostile file is a
:class:`GgufError` saying what is wrong — never a crash, never an allocation the file did not
earn: every count and length is checked against fixed limits and against the bytes the file has
before anything is read.

Layout (GGUF v2 and v3, little-endian): the magic ``GGUF``, a uint32 version, uint64 tensor and
key/value counts; the key/values (string key, uint32 value type, value); the tensor infos (string
name, uint32 dimension count, uint64 dimensions innermost first, uint32 ggml type, uint64 offset
into the data); the data, from the header's end rounded up to ``general.alignment`` (32 by
default). Strings are a uint64 length and UTF-8 bytes.

Shapes here are in torch's order (outermost first): GGUF stores the innermost dimension first,
and a quantized tensor's innermost dimension counts elements, not bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# limits: real diffusion GGUFs have ~2 000 tensors, a few dozen keys and headers well under 1 MB;
# language-model GGUFs (a tokenizer of ~250 000 strings) stay well inside them too
MAX_TENSORS = 200_000
MAX_KEYS = 100_000
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_KEY_BYTES = 64 * 1024
MAX_NAME_BYTES = 64 * 1024
MAX_STRING_BYTES = 16 * 1024 * 1024
MAX_ARRAY_ITEMS = 10_000_000
MAX_ARRAY_DEPTH = 4
MAX_DIMS = 8
MAX_ELEMENTS = 1 << 50
KEEP_STRING_CHARS = 4096  # metadata strings longer than this are kept cut
KEEP_ARRAY_ITEMS = 64  # arrays longer than this are skipped, not kept

# ggml tensor types: id -> (name, elements per block, bytes per block) — as gguf's GGML_QUANT_SIZES
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}

# general.file_type (llama.cpp's LlamaFileType): the quantization the file was made with
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}

# value types of the key/values: id -> struct format of one scalar (None: string, array)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GgufError(ValueError):
    """The file is not a readable GGUF; the text says what is wrong (without the path)."""


@dataclass(frozen=True)
class GgufTensor:
    name: str
    shape: tuple[int, ...]  # torch's order: outermost first
    type: str  # "Q8_0", "F32", ...; "type 77" for one this table does not know
    offset: int  # from the start of the file
    nbytes: int


@dataclass(frozen=True)
class GgufHeader:
    version: int
    tensors: dict[str, GgufTensor]
    metadata: dict[str, object] = field(default_factory=dict)
    data_start: int = 0

    @property
    def architecture(self) -> str | None:
        arch = self.metadata.get("general.architecture")
        return arch if isinstance(arch, str) else None

    @property
    def file_type(self) -> str | None:
        """``general.file_type`` by name ("Q4_K_M"), when the file has a known one."""
        ft = self.metadata.get("general.file_type")
        return FILE_TYPES.get(ft) if isinstance(ft, int) and not isinstance(ft, bool) else None


class _Reader:
    """Reads the header through a buffer of at most ``CHUNK`` bytes more than asked (a header is many
    small fields), checking every length against the file's size and the header limit first."""

    CHUNK = 1 << 20

    def __init__(self, fh, size: int) -> None:
        self.fh = fh
        self.size = size
        self.pos = 0  # in the file
        self.buf = b""
        self.at = 0  # in the buffer: buf[at] is the byte at pos

    def _check(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise GgufError(f"truncated: {what} needs {n} bytes at offset {self.pos}, the file has {self.size}")
        if self.pos + n > MAX_HEADER_BYTES:
            raise GgufError(f"header larger than {MAX_HEADER_BYTES // (1024 * 1024)} MB (at {what})")

    def take(self, n: int, what: str) -> bytes:
        self._check(n, what)
        if self.at + n > len(self.buf):
            rest = self.buf[self.at:]
            self.buf = rest + self.fh.read(max(n - len(rest), self.CHUNK))
            self.at = 0
            if len(self.buf) < n:
                raise GgufError(f"truncated: {what} at offset {self.pos}")
        data = self.buf[self.at:self.at + n]
        self.at += n
        self.pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        self._check(n, what)
        if self.at + n <= len(self.buf):
            self.at += n
        else:
            self.fh.seek(self.pos + n)
            self.buf, self.at = b"", 0
        self.pos += n

    def skip_strings(self, count: int, what: str) -> None:
        """Skip ``count`` strings (a tokenizer's vocabulary) without making them."""
        u64 = struct.Struct("<Q").unpack_from
        for _ in range(count):
            if self.at + 8 > len(self.buf):
                self.take(0, what)  # the checks, then a refill below
                rest = self.buf[self.at:]
                self.buf, self.at = rest + self.fh.read(self.CHUNK), 0
            if self.at + 8 > len(self.buf):
                raise GgufError(f"truncated: {what} at offset {self.pos}")
            (n,) = u64(self.buf, self.at)
            self.at += 8
            self.pos += 8
            if n > MAX_STRING_BYTES:
                raise GgufError(f"{what} is {n} bytes long (at most {MAX_STRING_BYTES})")
            self.skip(n, what)

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]

    def u64(self, what: str) -> int:
        return struct.unpack("<Q", self.take(8, what))[0]

    def string(self, what: str, limit: int) -> str:
        n = self.u64(what)
        if n > limit:
            raise GgufError(f"{what} is {n} bytes long (at most {limit})")
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise GgufError(f"{what} is not UTF-8 text") from None


def _value(r: _Reader, vtype: int, key: str, depth: int = 0):
    """One metadata value: scalars and (cut) strings are returned, long arrays skipped (None)."""
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        return struct.unpack(fmt, r.take(struct.calcsize(fmt), f"the value of {key!r}"))[0]
    if vtype == _STRING:
        text = r.string(f"the value of {key!r}", MAX_STRING_BYTES)
        return text[:KEEP_STRING_CHARS]
    if vtype != _ARRAY:
        raise GgufError(f"key {key!r} has an unknown value type {vtype}")
    if depth >= MAX_ARRAY_DEPTH:
        raise GgufError(f"key {key!r}: arrays nested more than {MAX_ARRAY_DEPTH} deep")
    etype = r.u32(f"the array type of {key!r}")
    count = r.u64(f"the array length of {key!r}")
    if count > MAX_ARRAY_ITEMS:
        raise GgufError(f"key {key!r}: an array of {count} items (at most {MAX_ARRAY_ITEMS})")
    if etype in _SCALARS:
        item = struct.calcsize(_SCALARS[etype])
        if count <= KEEP_ARRAY_ITEMS:
            raw = r.take(item * count, f"the array of {key!r}")
            return list(struct.unpack(f"<{count}{_SCALARS[etype][1]}", raw))
        r.skip(item * count, f"the array of {key!r}")
        return None
    if etype == _STRING:
        if count > KEEP_ARRAY_ITEMS:
            r.skip_strings(count, f"an item of {key!r}")
            return None
        return [r.string(f"an item of {key!r}", MAX_STRING_BYTES)[:KEEP_STRING_CHARS] for _ in range(count)]
    if etype == _ARRAY:
        for _ in range(count):
            _value(r, _ARRAY, key, depth + 1)
        return None
    raise GgufError(f"key {key!r}: an array of unknown value type {etype}")


def read_header(path: str | Path) -> GgufHeader:
    """The header of the GGUF file at ``path``; :class:`GgufError` when it is not one or is damaged,
    OSError when it cannot be read at all."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as fh:
        r = _Reader(fh, size)
        magic = r.take(4, "the magic") if size >= 4 else b""
        if magic != MAGIC:
            raise GgufError("it does not start with the 'GGUF' magic")
        raw_version = r.take(4, "the version")
        version = struct.unpack("<I", raw_version)[0]
        if version not in (2, 3):
            if struct.unpack(">I", raw_version)[0] in (2, 3):
                raise GgufError("a big-endian GGUF; only little-endian files are read")
            raise GgufError(f"GGUF version {version} (versions 2 and 3 are read)")
        n_tensors = r.u64("the tensor count")
        n_keys = r.u64("the key count")
        if n_tensors > MAX_TENSORS:
            raise GgufError(f"{n_tensors} tensors (at most {MAX_TENSORS})")
        if n_keys > MAX_KEYS:
            raise GgufError(f"{n_keys} metadata keys (at most {MAX_KEYS})")
        metadata: dict[str, object] = {}
        for _ in range(n_keys):
            key = r.string("a metadata key", MAX_KEY_BYTES)
            vtype = r.u32(f"the value type of {key!r}")
            value = _value(r, vtype, key)
            if value is not None:
                metadata[key] = value
        alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if (not isinstance(alignment, int) or isinstance(alignment, bool) or not 1 <= alignment <= 1 << 20
                or alignment & (alignment - 1)):
            raise GgufError(f"general.alignment is {alignment!r:.40}, not a power of two")
        infos = []
        names: set[str] = set()
        for i in range(n_tensors):
            name = r.string(f"the name of tensor {i}", MAX_NAME_BYTES)
            if name in names:
                raise GgufError(f"tensor {name!r} appears twice")
            names.add(name)
            n_dims = r.u32(f"the dimension count of {name!r}")
            if not 1 <= n_dims <= MAX_DIMS:
                raise GgufError(f"tensor {name!r} has {n_dims} dimensions (1 to {MAX_DIMS})")
            dims = struct.unpack(f"<{n_dims}Q", r.take(8 * n_dims, f"the dimensions of {name!r}"))
            type_id = r.u32(f"the type of {name!r}")
            offset = r.u64(f"the offset of {name!r}")
            infos.append((name, dims, type_id, offset))
        data_start = -(-r.pos // alignment) * alignment
        tensors: dict[str, GgufTensor] = {}
        for name, dims, type_id, offset in infos:
            elements = 1
            for d in dims:
                elements *= d
                if elements > MAX_ELEMENTS:
                    raise GgufError(f"tensor {name!r} has implausibly many elements ({' x '.join(map(str, dims))})")
            known = GGML_TYPES.get(type_id)
            if known is None:
                tensors[name] = GgufTensor(name, tuple(reversed(dims)), f"type {type_id}", data_start + offset, 0)
                continue
            tname, block, type_size = known
            if dims[0] % block:
                raise GgufError(f"tensor {name!r}: rows of {dims[0]} do not divide into {tname} blocks of {block}")
            nbytes = elements // block * type_size
            start = data_start + offset
            if start + nbytes > size:
                raise GgufError(f"truncated: tensor {name!r} ends at byte {start + nbytes}, the file has {size}")
            tensors[name] = GgufTensor(name, tuple(reversed(dims)), tname, start, nbytes)
    return GgufHeader(version, tensors, metadata, data_start)
