"""Seeded mutations of real files: bytes, zip archives, stack.xml, JSON and image headers.

Every mutator takes a ``random.Random`` and the bytes of a real file and returns new bytes; the
same seed gives the same case, so a failure replays from its (target, seed) pair.
"""

from __future__ import annotations

import io
import json
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable

Mutator = Callable[[random.Random, bytes], bytes]

INTERESTING_32 = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
NUMBERS = ("nan", "NaN", "inf", "-inf", "Infinity", "1e308", "-1e308", "1e309", "-1", "-2147483649",
           "99999999999999999999999", "0", "0.0", "-0", "1e-400", "0x10", "", " ", "1,5", "١٢", "+7", "1_000",
           "4294967296", "32768", "32769", "-32768", "12e3", "NaN1", "∞")
JSON_VALUES = (float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 10**40, -(10**40), -1, 0, 2**31, 2**63,
               "", "x" * 2000, [], {}, None, True, [1, 2], [[1, 2], [3]], {"a": 1})


# --- bytes ------------------------------------------------------------------------------------------
def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        if b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(max(1, len(data)))]


def insert_bytes(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.randbytes(rng.choice((1, 2, 4, 16, 256))) + data[i:]


def duplicate_chunk(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 2:
        return data * 2
    a = rng.randrange(len(data))
    n = rng.randint(1, min(4096, len(data) - a))
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[a : a + n] + data[at:]


def delete_chunk(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 2:
        return b""
    a = rng.randrange(len(data))
    n = rng.randint(1, min(4096, len(data) - a))
    return data[:a] + data[a + n :]


def interesting_int(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 4:
        return data
    b = bytearray(data)
    i = rng.randrange(len(b) - 3)
    v = rng.choice(INTERESTING_32)
    b[i : i + 4] = struct.pack(rng.choice(("<I", ">I")), v)
    return bytes(b)


BYTE_MUTATORS: tuple[Mutator, ...] = (flip_bytes, flip_bits, truncate, insert_bytes, duplicate_chunk,
                                      delete_chunk, interesting_int)


def byte_level(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        data = rng.choice(BYTE_MUTATORS)(rng, data)
    return data


# --- zip archives -----------------------------------------------------------------------------------
# field offsets inside the zip records (APPNOTE 4.3.7 local header, 4.3.12 central directory, 4.3.16 EOCD)
LOCAL = {"version": (4, "H"), "flags": (6, "H"), "method": (8, "H"), "crc": (14, "I"), "csize": (18, "I"),
         "usize": (22, "I"), "name_len": (26, "H"), "extra_len": (28, "H")}
CENTRAL = {"version_made": (4, "H"), "version": (6, "H"), "flags": (8, "H"), "method": (10, "H"), "crc": (16, "I"),
           "csize": (20, "I"), "usize": (24, "I"), "name_len": (28, "H"), "extra_len": (30, "H"),
           "comment_len": (32, "H"), "disk": (34, "H"), "external": (38, "I"), "offset": (42, "I")}
EOCD = {"disk": (4, "H"), "cd_disk": (6, "H"), "entries_here": (8, "H"), "entries": (10, "H"), "cd_size": (12, "I"),
        "cd_offset": (16, "I"), "comment_len": (20, "H")}
METHODS = (0, 1, 6, 8, 9, 12, 14, 19, 93, 95, 97, 98, 99, 0xFFFF)


def _records(data: bytes, sig: bytes) -> list[int]:
    out, i = [], data.find(sig)
    while i != -1:
        out.append(i)
        i = data.find(sig, i + 4)
    return out


def _set(b: bytearray, at: int, fmt: str, value: int) -> None:
    size = struct.calcsize("<" + fmt)
    if at + size <= len(b):
        b[at : at + size] = struct.pack("<" + fmt, value & ((1 << (8 * size)) - 1))


def _field_value(rng: random.Random, fmt: str, name: str, old: int) -> int:
    top = 0xFFFF if fmt == "H" else 0xFFFFFFFF
    if name == "method":
        return rng.choice(METHODS)
    if name == "flags":
        return old ^ rng.choice((1, 8, 0x40, 0x800, 0x2000, 0xFFFF))
    return rng.choice((0, 1, top, top - 1, old + 1, max(0, old - 1), old * 2, rng.randrange(top + 1), old ^ 0x80))


def zip_field(rng: random.Random, data: bytes) -> bytes:
    """One header field of a local header, a central-directory entry or the end record set to a hostile value."""
    b = bytearray(data)
    kind = rng.choice(("local", "central", "central", "eocd"))
    sig, table = {"local": (b"PK\x03\x04", LOCAL), "central": (b"PK\x01\x02", CENTRAL),
                  "eocd": (b"PK\x05\x06", EOCD)}[kind]
    recs = _records(data, sig)
    if not recs:
        return flip_bytes(rng, data)
    at = rng.choice(recs)
    for _ in range(rng.choice((1, 1, 2))):
        name = rng.choice(list(table))
        off, fmt = table[name]
        if at + off + struct.calcsize(fmt) > len(b):
            continue
        (old,) = struct.unpack_from("<" + fmt, b, at + off)
        _set(b, at + off, fmt, _field_value(rng, fmt, name, old))
    return bytes(b)


def zip64_fields(rng: random.Random, data: bytes) -> bytes:
    """Sizes and offsets of a central entry set to 0xFFFFFFFF with a (possibly lying) zip64 extra field,
    or a zip64 end-of-directory locator pointing anywhere."""
    b = bytearray(data)
    if rng.random() < 0.3:
        eocd = data.rfind(b"PK\x05\x06")
        if eocd < 0:
            return flip_bytes(rng, data)
        loc = b"PK\x06\x07" + struct.pack("<IQI", 0, rng.choice((0, 1, len(data), 2**63, rng.randrange(len(data) + 1))),
                                          rng.choice((0, 1, 2, 0xFFFFFFFF)))
        return bytes(b[:eocd]) + loc + bytes(b[eocd:])
    recs = _records(data, b"PK\x01\x02")
    if not recs:
        return flip_bytes(rng, data)
    at = rng.choice(recs)
    name_len, extra_len = struct.unpack_from("<HH", b, at + 28)
    values = [rng.choice((0, 1, 2**32, 2**63 - 1, 2**64 - 1, rng.randrange(2**40))) for _ in range(rng.randint(0, 3))]
    extra = struct.pack("<HH", 1, 8 * len(values)) + b"".join(struct.pack("<Q", v) for v in values)
    if rng.random() < 0.3:
        extra = struct.pack("<HH", 1, rng.choice((0, 3, 7, 9, 24, 0xFFFF))) + extra[4:]  # a length that lies
    for name in rng.sample(("csize", "usize", "offset"), rng.randint(1, 3)):
        off, fmt = CENTRAL[name]
        _set(b, at + off, fmt, 0xFFFFFFFF)
    end = at + 46 + name_len + extra_len
    _set(b, at + 30, "H", extra_len + len(extra))
    out = bytes(b[:end]) + extra + bytes(b[end:])
    # the end record's directory size no longer matches: sometimes fix it, sometimes not
    if rng.random() < 0.7:
        eocd = out.rfind(b"PK\x05\x06")
        if eocd >= 0:
            bb = bytearray(out)
            (cd_size,) = struct.unpack_from("<I", bb, eocd + 12)
            _set(bb, eocd + 12, "I", cd_size + len(extra))
            out = bytes(bb)
    return out


def _members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [(i, zf.read(i)) for i in zf.infolist()]
    except Exception:  # the seed itself is always a valid zip; a mutated one may not be
        return None


def _rezip(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    import warnings

    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names on purpose
        with zipfile.ZipFile(out, "w") as zf:
            for info, content in members:
                zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                zi.compress_type = info.compress_type
                zf.writestr(zi, content)
    return out.getvalue()


def zip_members(rng: random.Random, data: bytes) -> bytes:
    """A valid archive with hostile members: duplicated names, removed, renamed, reordered, recompressed."""
    members = _members(data)
    if not members:
        return flip_bytes(rng, data)
    op = rng.choice(("duplicate", "remove", "rename", "reorder", "compress", "empty"))
    i = rng.randrange(len(members))
    info, content = members[i]
    if op == "duplicate":
        other = rng.randbytes(rng.randint(0, 64)) if rng.random() < 0.5 else members[rng.randrange(len(members))][1]
        members.insert(rng.randrange(len(members) + 1), (info, other))
    elif op == "remove":
        members.pop(i)
    elif op == "rename":
        new = rng.choice((info.filename.upper(), "../" + info.filename, "/" + info.filename, info.filename + "\x00",
                          info.filename.replace("/", "\\"), "data/" + "x" * 300 + ".png", ""))
        members[i] = (zipfile.ZipInfo(new or "x", date_time=info.date_time), content)
    elif op == "reorder":
        rng.shuffle(members)
    elif op == "compress":
        info.compress_type = rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA))
    else:
        members[i] = (info, b"")
    return _rezip(members)


def replace_member(data: bytes, name: str, mutate: Callable[[bytes], bytes]) -> bytes:
    members = _members(data)
    if not members:
        return data
    return _rezip([(i, mutate(c) if i.filename == name else c) for i, c in members])


def member_bytes(rng: random.Random, data: bytes) -> bytes:
    """Byte-level damage to one member, the archive around it intact (reaches the PNG and JSON readers)."""
    members = _members(data)
    if not members:
        return flip_bytes(rng, data)
    name = rng.choice([i.filename for i, _ in members])
    return replace_member(data, name, lambda c: byte_level(rng, c))


# --- stack.xml ----------------------------------------------------------------------------------------
_ATTR = re.compile(rb'([\w:.-]+)="([^"]*)"')


def _xml_value(rng: random.Random, name: bytes, old: bytes) -> bytes:
    if rng.random() < 0.6:
        return rng.choice(NUMBERS).encode()
    return rng.choice((b"", old * rng.choice((2, 100)), b"x" * 70000, b"../" + old, b"&amp;", b"\xff\xfe",
                       b"svg:" + old, b"hidden", b"visible", b"true", b"piece", b"annotation", b"akapen/document.json",
                       b"data/../mimetype", b"mergedimage.png"))


def stack_xml(rng: random.Random, xml: bytes) -> bytes:
    """Tamper with stack.xml: attribute values, nesting, encodings, the layer list."""
    op = rng.choice(("attr", "attr", "attr", "nest", "encoding", "layers", "bytes", "tag"))
    if op == "attr":
        attrs = list(_ATTR.finditer(xml))
        if not attrs:
            return byte_level(rng, xml)
        m = rng.choice(attrs)
        return xml[: m.start(2)] + _xml_value(rng, m.group(1), m.group(2)) + xml[m.end(2) :]
    if op == "nest":
        depth = rng.choice((33, 200, 5000, 50000))
        i = xml.find(b"<stack>")
        if i < 0:
            return xml
        return xml[:i] + b"<stack>" * depth + xml[i:].replace(b"</image>", b"</stack>" * depth + b"</image>", 1)
    if op == "encoding":
        text = xml.decode("utf-8", "replace")
        choice = rng.randrange(5)
        if choice == 0:
            return text.replace("utf-8", "utf-16").replace("UTF-8", "UTF-16").encode("utf-16")
        if choice == 1:
            return b"\xef\xbb\xbf" + xml
        if choice == 2:
            return re.sub(rb"encoding=['\"][^'\"]*['\"]", b'encoding="latin-1"', xml) + "é".encode("latin-1")
        if choice == 3:
            return re.sub(rb"encoding=['\"][^'\"]*['\"]", rng.choice((b'encoding="ebcdic"', b'encoding="x"',
                                                                       b'encoding="utf-32"')), xml)
        return xml.replace(b'name="', b'name="\xc3\x28\x01', 1)
    if op == "layers":
        layers = re.findall(rb"<layer [^>]*/>", xml)
        if not layers:
            return xml
        one = rng.choice(layers)
        many = one * rng.choice((2, 100, 3000))
        return xml.replace(one, many, 1)
    if op == "tag":
        return xml.replace(rng.choice((b"<image", b"<stack", b"<layer")), rng.choice((b"<img", b"<stack", b"<x")), 1)
    return byte_level(rng, xml)


def ora_stack(rng: random.Random, data: bytes) -> bytes:
    return replace_member(data, "stack.xml", lambda x: stack_xml(rng, x))


# --- JSON -------------------------------------------------------------------------------------------------
def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:50]):
            yield from _paths(v, prefix + (i,))


def json_tamper(rng: random.Random, raw: bytes) -> bytes:
    """A JSON document with one value replaced by a hostile one (nan, huge numbers, wrong types,
    deep nesting), or its text damaged."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return byte_level(rng, raw)
    r = rng.random()
    if r < 0.1:
        depth = rng.choice((100, 10000, 200000))
        return b"[" * depth + b"]" * depth
    if r < 0.2:
        return byte_level(rng, raw)
    paths = list(_paths(obj))
    path = rng.choice(paths)
    value = rng.choice(JSON_VALUES)
    if rng.random() < 0.15:
        value = {"x": [[[[[[[[[[value]]]]]]]]]]}
    if not path:
        obj = value
    else:
        parent = obj
        for k in path[:-1]:
            parent = parent[k]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return json.dumps(obj).encode()


def ora_json(rng: random.Random, data: bytes) -> bytes:
    """Tamper with a JSON member or a JSON-valued stack.xml attribute (transform, provenance)."""
    members = _members(data)
    if not members:
        return flip_bytes(rng, data)
    names = [i.filename for i, _ in members if i.filename.endswith(".json")]
    if names and rng.random() < 0.6:
        return replace_member(data, rng.choice(names), lambda c: json_tamper(rng, c))

    def attr(xml: bytes) -> bytes:
        found = [m for m in re.finditer(rb'(transform|provenance)="([^"]*)"', xml)]
        if not found:
            return stack_xml(rng, xml)
        m = rng.choice(found)
        import html

        inner = html.unescape(m.group(2).decode()).encode()
        new = html.escape(json_tamper(rng, inner).decode("utf-8", "replace"), quote=True).encode()
        return xml[: m.start(2)] + new + xml[m.end(2) :]

    return replace_member(data, "stack.xml", attr)


# --- images ---------------------------------------------------------------------------------------------------
def _png_chunks(data: bytes):
    i = 8
    while i + 8 <= len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        yield i, n, data[i + 4 : i + 8]
        i += 12 + n


def png_chunk(rng: random.Random, data: bytes) -> bytes:
    """A PNG with one chunk's fields changed and its CRC fixed, so the decoder (not the CRC check) meets it."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return byte_level(rng, data)
    chunks = list(_png_chunks(data))
    if not chunks:
        return byte_level(rng, data)
    at, n, kind = rng.choice(chunks[:1] * 3 + chunks)
    b = bytearray(data)
    body = at + 8
    if kind == b"IHDR" and n >= 13:
        field = rng.choice(("w", "h", "depth", "colour", "interlace", "filter"))
        if field in ("w", "h"):
            struct.pack_into(">I", b, body + (0 if field == "w" else 4),
                             rng.choice((0, 1, 2**31 - 1, 2**32 - 1, 100000, 40000, 12249)))
        else:
            b[body + {"depth": 8, "colour": 9, "filter": 11, "interlace": 12}[field]] = rng.choice((0, 1, 2, 3, 4, 6,
                                                                                                     7, 16, 255))
    elif n > 0:
        for _ in range(rng.randint(1, 4)):
            b[body + rng.randrange(n)] = rng.randrange(256)
    else:
        return byte_level(rng, data)
    crc = zlib.crc32(bytes(b[at + 4 : body + n]))
    struct.pack_into(">I", b, body + n, crc & 0xFFFFFFFF)
    return bytes(b)


def image_header(rng: random.Random, data: bytes) -> bytes:
    """Dimensions and counts in a header set to hostile values (JPEG SOF, GIF screen, BMP, TIFF IFD, WebP)."""
    b = bytearray(data)
    if data[:2] == b"\xff\xd8":
        sof = [m.start() for m in re.finditer(rb"\xff[\xc0-\xc3]", data)]
        if sof:
            at = rng.choice(sof)
            struct.pack_into(">HH", b, at + 5, rng.choice((0, 1, 65535)), rng.choice((0, 1, 65535)))
            return bytes(b)
    if data[:3] == b"GIF" and len(b) >= 10:
        struct.pack_into("<HH", b, 6, rng.choice((0, 1, 65535)), rng.choice((0, 1, 65535)))
        return bytes(b)
    if data[:2] == b"BM" and len(b) >= 30:
        struct.pack_into("<ii", b, 18, rng.choice((0, 1, -1, 2**31 - 1, -(2**31))), rng.choice((0, 1, -1, 2**31 - 1,
                                                                                             -(2**31))))
        if rng.random() < 0.3:
            struct.pack_into("<H", b, 28, rng.choice((0, 1, 3, 7, 64, 65535)))
        return bytes(b)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        end = "<" if data[:2] == b"II" else ">"
        (ifd,) = struct.unpack_from(end + "I", b, 4)
        if ifd + 2 <= len(b):
            (n,) = struct.unpack_from(end + "H", b, ifd)
            if n and rng.random() < 0.8:
                e = ifd + 2 + 12 * rng.randrange(n)
                if e + 12 <= len(b):
                    struct.pack_into(end + "I", b, e + rng.choice((4, 8)), rng.choice(INTERESTING_32))
                    return bytes(b)
            struct.pack_into(end + "H", b, ifd, rng.choice((0, 1, 0xFFFF)))
            return bytes(b)
    if data[:4] == b"RIFF" and len(b) >= 30:
        struct.pack_into("<I", b, 4, rng.choice(INTERESTING_32))
        return interesting_int(rng, bytes(b))
    return png_chunk(rng, data)
