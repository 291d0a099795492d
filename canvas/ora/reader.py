"""Reading OpenRaster, defensively: ``load_ora`` and ``read_thumbnail``.

Member count and size limits, bounded reads that do not trust the zip headers, pixel caps
checked on every PNG header (and on their sum) before decoding, no DTDs or entities, and every
``src`` must name a plain member of the archive. Every failure is an ``OraError`` with a
one-line message that names the file.
"""

from __future__ import annotations

import json
import lzma
import math
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from canvas.blend import FROM_ORA_OP
from canvas.document import MAX_SIDE, Document
from canvas.errors import CanvasError, ImageImportError, OraError
from canvas.geometry import Rect, union_all
from canvas.imageio import MAX_PIXELS, check_size, decode_png
from canvas.layers import (
    DEFAULT_IDENTITY,
    AnnotationLayer,
    Layer,
    PieceLayer,
    PixelLayer,
    Reference,
    Transform,
    piece_rect,
)
from canvas.marks import Mark
from canvas.ora.pairs import read_pairs
from canvas.ora.spec import MIMETYPE, qname

MAX_MEMBERS = 10_000
MAX_LAYERS = 2_000
MAX_XML_BYTES = 8 << 20
MAX_JSON_BYTES = 64 << 20
MAX_MEMBER_BYTES = 2 << 30
MAX_TOTAL_BYTES = 16 << 30
MAX_TOTAL_PIXELS = 1_500_000_000  # all decoded images together (6 GB of RGBA): ~90 layers of 4096²
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# what zipfile and its decompressors raise on a damaged archive or member (a broken header, a
# compression method or zip version Python lacks, an encrypted member, sizes that overflow)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, NotImplementedError,
               RuntimeError, OverflowError, struct.error, LookupError)


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, what: str, max_pixels: int) -> None:
        self.zf = zf
        self.what = what
        self.max_pixels = max_pixels
        self.total = 0
        self.names = set()
        self.warnings: list[str] = []
        self.decoded: dict[str, np.ndarray] = {}  # PNGs decoded ahead, in parallel
        self.handed_out: set[str] = set()
        self.pixels = 0  # decoded so far, copies included, against MAX_TOTAL_PIXELS

    def fail(self, msg: str) -> OraError:
        return OraError(f"{self.what}: {msg}")

    def read(self, name: str, limit: int) -> bytes:
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise self.fail(f"the member {name!r} is missing") from None
        if info.file_size > limit:
            raise self.fail(f"{name} declares {info.file_size} bytes, more than the {limit}-byte limit")
        try:
            with self.zf.open(info) as f:
                data = f.read(limit + 1)  # never trust the declared size
        except _ZIP_ERRORS as exc:
            raise self.fail(f"{name} is damaged ({_short(exc)})") from None
        if len(data) > limit:
            raise self.fail(f"{name} is larger than the {limit}-byte limit")
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise self.fail("the archive unpacks to more than Akapen accepts")
        return data

    def _count(self, pixels: int) -> None:
        self.pixels += pixels
        if self.pixels > MAX_TOTAL_PIXELS:
            raise self.fail(f"the layers hold more than {MAX_TOTAL_PIXELS / 1e9:.1f} billion pixels in total, "
                            "more than Akapen opens")

    def _decode(self, name: str, data: bytes) -> np.ndarray:
        try:
            return decode_png(data, f"{self.what}: {name}", self.max_pixels)
        except ImageImportError as exc:
            raise OraError(str(exc)) from None

    def prefetch(self, names: list[str]) -> None:
        """Read these PNG members (one at a time, bounded) and decode them in a thread pool:
        OpenCV's decoder releases the GIL, so a many-layer file loads on every core."""
        todo = [n for n in dict.fromkeys(names) if n not in self.decoded]
        blobs = [self.read(n, MAX_MEMBER_BYTES) for n in todo]
        for name, data in zip(todo, blobs, strict=True):  # every header, then their sum, before decoding
            if len(data) >= 24 and data[12:16] == b"IHDR":
                w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
                try:
                    check_size(w, h, f"{self.what}: {name}", self.max_pixels)
                except ImageImportError as exc:
                    raise OraError(str(exc)) from None
                self._count(w * h)
        if len(todo) <= 1:
            arrays = [self._decode(n, b) for n, b in zip(todo, blobs, strict=True)]
        else:
            with ThreadPoolExecutor(max_workers=min(4, len(todo))) as pool:
                arrays = list(pool.map(self._decode, todo, blobs))
        self.decoded.update(zip(todo, arrays, strict=True))

    def png(self, name: str) -> np.ndarray:
        """A decoded PNG member that no other layer holds (a second use gets a copy)."""
        if name not in self.decoded:
            self.prefetch([name])
        arr = self.decoded[name]
        if name in self.handed_out:
            self._count(arr.shape[0] * arr.shape[1])
            return arr.copy()
        self.handed_out.add(name)
        return arr

    def json(self, name: str) -> Any:
        data = self.read(name, MAX_JSON_BYTES)
        return _json(data, name, self)

    def member(self, name: str | None, attr: str) -> str:
        """Validate a member name referenced from the stack."""
        if not name:
            raise self.fail(f"a layer has no {attr}")
        if not isinstance(name, str):
            raise self.fail(f"the {attr} {name!r:.60} is not a member name")
        bad = (name.startswith(("/", "\\")) or "\\" in name or ":" in name
               or any(part in ("", ".", "..") for part in name.split("/")))
        if bad:
            raise self.fail(f"the {attr} {name!r} is not a plain member name (refused)")
        if name not in self.names:
            raise self.fail(f"the {attr} {name!r} names no member of the archive")
        return name


def _short(exc: BaseException) -> str:
    """An exception's text on one line, at most 200 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _json(data: bytes | str, what: str, reader: _Reader):
    try:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise reader.fail(f"{what} is not valid JSON ({_short(exc)})") from None
    except RecursionError:
        raise reader.fail(f"{what} nests too deeply") from None


def _float(v: str | None, default: float, what: str, reader: _Reader) -> float:
    if v is None:
        return default
    try:
        f = float(v)
    except ValueError:
        raise reader.fail(f"{what} {v!r} is not a number") from None
    if f != f or f in (float("inf"), float("-inf")):
        raise reader.fail(f"{what} {v!r} is not a finite number")
    return f


def _int(v: str | None, default: int, what: str, reader: _Reader, lo: int = -(1 << 24), hi: int = 1 << 24) -> int:
    if v is None:
        return default
    try:
        f = float(v)
    except ValueError:
        raise reader.fail(f"{what} {v[:40]!r} is not a number") from None
    if not math.isfinite(f) or not lo <= f <= hi:
        raise reader.fail(f"{what} {v[:40]!r} is out of range")
    return int(round(f))


def _parse_xml(data: bytes, reader: _Reader) -> ET.Element:
    head = data[:4096].lower()
    if b"<!doctype" in data.lower() or b"<!entity" in head:
        raise reader.fail("stack.xml contains a DTD or entities, which Akapen refuses")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise reader.fail(f"stack.xml is not valid XML ({_short(exc)})") from None
    except (LookupError, ValueError) as exc:  # an encoding expat does not know, or a multi-byte one
        raise reader.fail(f"stack.xml declares an encoding Akapen cannot read ({_short(exc)})") from None


def _walk(stack: ET.Element, reader: _Reader, inherited_visible=True, inherited_opacity=1.0, depth=0):
    """Layer elements bottom→top; nested stacks (groups) are flattened into the list."""
    if depth > 32:
        raise reader.fail("stack.xml nests groups too deeply")
    out = []
    for child in stack:
        if child.tag == "layer":
            out.append((child, inherited_visible, inherited_opacity))
        elif child.tag == "stack":
            vis = child.get("visibility", "visible") != "hidden"
            op = min(1.0, max(0.0, _float(child.get("opacity"), 1.0, "group opacity", reader)))
            reader.warnings.append(f"group {child.get('name', '')!r} was flattened into its layers")
            out.extend(_walk(child, reader, inherited_visible and vis, inherited_opacity * op, depth + 1)[::-1])
        if len(out) > MAX_LAYERS:
            raise reader.fail(f"more than {MAX_LAYERS} layers")
    return out[::-1]


def _build_layer(el: ET.Element, vis_in: bool, op_in: float, reader: _Reader, seen: set[str], canvas: Rect) -> Layer:
    src = reader.member(el.get("src"), "src")
    name = el.get("name", "Layer")[:512]
    x = _int(el.get("x"), 0, "layer x", reader)
    y = _int(el.get("y"), 0, "layer y", reader)
    opacity = min(1.0, max(0.0, _float(el.get("opacity"), 1.0, "opacity", reader))) * op_in
    visible = el.get("visibility", "visible") != "hidden" and vis_in
    op = el.get("composite-op", "svg:src-over")
    blend = FROM_ORA_OP.get(op)
    if blend is None:
        reader.warnings.append(f"layer {name!r}: blend {op!r} is not supported; using normal")
        blend = "normal"
    lid = el.get(qname("id"))
    if lid is None or not _ID_RE.match(lid) or lid in seen:
        lid = None
    kind = el.get(qname("kind"), "pixel")
    role = el.get(qname("role"), "content")
    if role not in ("content", "annotation", "reference"):
        raise reader.fail(f"layer {name!r} has an unknown role {role!r}")
    locked = el.get(qname("locked"), el.get("edit-locked", "false")) == "true"
    prov_text = el.get(qname("provenance"))
    provenance = {}
    if prov_text:
        provenance = _json(prov_text, f"the provenance of layer {name!r}", reader)
        if not isinstance(provenance, dict):
            raise reader.fail(f"layer {name!r} has unreadable provenance")
    common = dict(name=name, id=lid, visible=visible, opacity=opacity, blend=blend, locked=locked,
                  role=role, provenance=provenance)
    try:
        if kind == "piece":
            original = reader.png(reader.member(el.get(qname("original")), "piece original"))
            raw_tf = _json(el.get(qname("transform"), "{}"), f"the transform of piece {name!r}", reader)
            try:
                tf = Transform.from_dict(raw_tf)
            except (ValueError, TypeError, AttributeError, OverflowError) as exc:
                raise reader.fail(f"piece {name!r} has an unreadable transform ({_short(exc)})") from None
            identity = _float(el.get(qname("identity")), DEFAULT_IDENTITY, f"the identity of piece {name!r}", reader)
            if not 0.0 <= identity <= 1.0:
                raise reader.fail(f"piece {name!r} has an identity of {identity:g}; it must be between 0 and 1")
            cutout = None
            if el.get(qname("cutout")):
                matte = reader.png(reader.member(el.get(qname("cutout")), "piece cut-out"))
                if matte.shape[:2] != original.shape[:2]:
                    raise reader.fail(f"piece {name!r} has a cut-out of {matte.shape[1]}×{matte.shape[0]} for a "
                                      f"piece of {original.shape[1]}×{original.shape[0]}")
                cutout = np.ascontiguousarray(matte[..., 0])
            layer: Layer = PieceLayer(original, tf, identity=identity, cutout=cutout, **common)
            reader._count(piece_rect(original.shape[1], original.shape[0], tf).area)  # what it renders to
        elif kind == "annotation":
            raw = reader.json(reader.member(el.get(qname("marks")), "marks"))
            if not isinstance(raw, list):
                raise reader.fail(f"annotation layer {name!r}: the marks are not a list")
            try:
                marks = [Mark.from_dict(m) for m in raw]
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                raise reader.fail(f"annotation layer {name!r} has an unreadable mark ({_short(exc)})") from None
            layer = AnnotationLayer(marks, **common)
            reader._count(union_all(m.bounds() for m in marks).intersect(canvas).area)  # drawn within the canvas
        else:
            if kind != "pixel":
                reader.warnings.append(f"layer {name!r}: unknown kind {kind!r}, read as pixels")
            layer = PixelLayer(reader.png(src), x, y, **common)
    except (ValueError, TypeError) as exc:
        raise reader.fail(f"layer {name!r}: {_short(exc)}") from None
    seen.add(layer.id)
    return layer


def load_ora(source, *, warnings: list[str] | None = None, max_pixels: int = MAX_PIXELS) -> Document:
    """Read an OpenRaster file (path or binary file object) into a new, unmodified document.

    ``warnings`` (a list) receives what was read approximately (flattened groups, unknown
    blend modes). Raises OraError naming the file.
    """
    what = str(source) if isinstance(source, str | Path) else getattr(source, "name", "the file")
    if isinstance(what, int):
        what = "the file"
    try:
        zf = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise OraError(f"{what}: no such file") from None
    except IsADirectoryError:
        raise OraError(f"{what}: is a folder, not an OpenRaster file") from None
    except PermissionError:
        raise OraError(f"{what}: no permission to read it") from None
    except _ZIP_ERRORS as exc:
        raise OraError(f"{what}: not an OpenRaster file (it is not a valid zip archive: {_short(exc)})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise OraError(f"{what}: the archive has {len(infos)} members, more than the {MAX_MEMBERS} Akapen reads")
        reader = _Reader(zf, what, max_pixels)
        reader.names = {i.filename for i in infos}
        if len(reader.names) < len(infos):  # zip readers disagree on which of two same-named members counts
            twice = next(n for n, k in Counter(i.filename for i in infos).items() if k > 1)
            raise reader.fail(f"the archive holds two members named {twice!r} (refused: it is damaged or "
                              "was tampered with)")
        if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
            raise reader.fail("the archive declares more data than Akapen accepts")
        if "mimetype" not in reader.names:
            raise reader.fail("not an OpenRaster file (the mimetype member is missing)")
        if reader.read("mimetype", 64).strip() != MIMETYPE:
            raise reader.fail("not an OpenRaster file (wrong mimetype)")
        if "stack.xml" not in reader.names:
            raise reader.fail("stack.xml is missing")
        root = _parse_xml(reader.read("stack.xml", MAX_XML_BYTES), reader)
        if root.tag != "image":
            raise reader.fail("stack.xml does not describe an image")
        w = _int(root.get("w"), 0, "image width", reader, 1, MAX_SIDE)
        h = _int(root.get("h"), 0, "image height", reader, 1, MAX_SIDE)
        if w * h > max_pixels:
            raise reader.fail(f"the canvas is {w}×{h}, more pixels than Akapen opens")
        stack = root.find("stack")
        if stack is None:
            raise reader.fail("stack.xml has no stack")
        seen: set[str] = set()
        elements = _walk(stack, reader)
        needed = []
        for el, _vis, _op in elements:
            reader.member(el.get("src"), "src")
            kind = el.get(qname("kind"), "pixel")
            if kind == "piece":
                needed.append(reader.member(el.get(qname("original")), "piece original"))
                if el.get(qname("cutout")):
                    needed.append(reader.member(el.get(qname("cutout")), "piece cut-out"))
            elif kind != "annotation":
                needed.append(el.get("src"))
        reader.prefetch(needed)
        layers = [_build_layer(el, vis, op, reader, seen, Rect(0, 0, w, h)) for el, vis, op in elements]
        metadata: dict[str, Any] = {}
        references: list[Reference] = []
        selection = None
        if "akapen/document.json" in reader.names:
            info = reader.json("akapen/document.json")
            if not isinstance(info, dict):
                raise reader.fail("akapen/document.json is not an object")
            metadata = info.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise reader.fail("the document metadata is not an object")
            refs = info.get("references") or []
            if not isinstance(refs, list):
                raise reader.fail("the references in akapen/document.json are not a list")
            for r in refs:
                if not isinstance(r, dict):
                    raise reader.fail("a reference entry is not an object")
                px = reader.png(reader.member(r.get("src"), "reference src"))
                rid = r.get("id")
                ref = Reference(px, str(r.get("name", "Reference"))[:512])
                if isinstance(rid, str) and _ID_RE.match(rid):
                    ref.id = rid
                references.append(ref)
            sel = info.get("selection")
            if sel:
                mask = reader.png(reader.member(sel, "selection"))
                if mask.shape[:2] != (h, w):
                    raise reader.fail("the selection does not match the canvas size")
                selection = np.ascontiguousarray(mask[..., 0])
        pairs = read_pairs(reader)  # a damaged entry is a warning: the picture still opens
        if warnings is not None:
            warnings.extend(reader.warnings)
        try:
            return Document.assemble(w, h, layers, selection=selection, references=references, metadata=metadata,
                                     training_pairs=pairs)
        except CanvasError as exc:
            raise reader.fail(str(exc)) from None


def read_thumbnail(path) -> np.ndarray | None:
    """The stored thumbnail, or None (for file dialogs and recovery lists)."""
    try:
        with zipfile.ZipFile(path) as zf:
            reader = _Reader(zf, str(path), 1 << 20)
            reader.names = set(zf.namelist())
            if "Thumbnails/thumbnail.png" not in reader.names:
                return None
            return reader.png("Thumbnails/thumbnail.png")
    except (OraError, *_ZIP_ERRORS):
        return None

