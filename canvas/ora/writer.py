"""Writing OpenRaster: ``save_ora`` (atomic, keeps ``NAME.ora~``), ``write_ora`` and
``freeze`` (a snapshot to write on another thread). Layer PNGs are encoded in a thread pool and
the encoded bytes of layers unchanged since the last save are reused."""

from __future__ import annotations

import json
import threading
import weakref
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from canvas.atomic import atomic_write
from canvas.blend import ORA_OPS
from canvas.document import Document
from canvas.imageio import encode_png
from canvas.layers import AnnotationLayer, Layer, PieceLayer
from canvas.ora.pairs import write_pairs
from canvas.ora.spec import MIMETYPE, qname

PNG_LEVEL = 1  # fast: a 4096² layer encodes in a fraction of a second


def _layer_png_name(layer: Layer) -> str:
    return f"data/{layer.id}.png"


# Encoded PNGs of unchanged layers are reused by the next save: keyed by the layer object
# (never by id: another document can hold a layer with the same id) and its revision.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def _cache_get(key):
    if key is None:
        return None
    layer, what, revision = key
    with _CACHE_LOCK:
        entry = _CACHE.get(layer, {}).get(what)
    return entry[1] if entry is not None and entry[0] == revision else None


def _cache_put(key, data: bytes) -> None:
    if key is None:
        return
    layer, what, revision = key
    with _CACHE_LOCK:
        _CACHE.setdefault(layer, {})[what] = (revision, data)


class FrozenDocument:
    """What a save needs from a document, taken on the calling thread; the slow part (PNG
    encoding and zipping) can then run on any thread while the document keeps changing.

    Layers whose encoded PNG is cached for their current revision contribute those bytes;
    the others contribute their pixels (copied when ``copy`` is true).
    """

    def __init__(self, doc: Document, copy: bool) -> None:
        self.jobs: dict[str, np.ndarray | bytes] = {}
        self.cache_keys: dict[str, tuple] = {}
        self.json: dict[str, str] = {}
        root = ET.Element("image", {"version": "0.0.5", "w": str(doc.width), "h": str(doc.height),
                                    "xres": "72", "yres": "72", qname("version"): "1"})
        stack = ET.SubElement(root, "stack")
        for layer in reversed(doc.layers):  # topmost first
            pixels, rect = layer.raster()
            if rect.empty:  # an empty annotation layer: other programs still need a src
                pixels, rect = np.zeros((1, 1, 4), np.uint8), rect.__class__(0, 0, 1, 1)
            src = _layer_png_name(layer)
            self._add(src, pixels, (layer, "raster", layer.revision), copy)
            attrs = {
                "name": layer.name, "src": src, "x": str(rect.x), "y": str(rect.y),
                "opacity": repr(float(layer.opacity)),
                "visibility": "visible" if layer.visible else "hidden",
                "composite-op": ORA_OPS[layer.blend],
                qname("id"): layer.id, qname("kind"): layer.kind, qname("role"): layer.role,
                qname("locked"): "true" if layer.locked else "false",
            }
            if layer.locked:
                attrs["edit-locked"] = "true"
            if layer.provenance:
                attrs[qname("provenance")] = json.dumps(layer.provenance, sort_keys=True)
            if isinstance(layer, PieceLayer):
                orig = f"akapen/pieces/{layer.id}.png"
                # a piece's original never changes after the piece is made: never copied
                self._add(orig, layer.original, (layer, "original", 0), False)
                attrs[qname("original")] = orig
                attrs[qname("transform")] = json.dumps(layer.transform.to_dict())
                attrs[qname("identity")] = f"{layer.identity:.4g}"
                if layer.cutout is not None:  # the matte over the original's alpha, as a grey PNG
                    member = f"akapen/pieces/{layer.id}-cutout.png"
                    m = layer.cutout
                    self._add(member, np.dstack([m, m, m, np.full(m.shape, 255, np.uint8)]), None, False)
                    attrs[qname("cutout")] = member
            elif isinstance(layer, AnnotationLayer):
                member = f"akapen/marks/{layer.id}.json"
                self.json[member] = json.dumps([m.to_dict() for m in layer.marks], sort_keys=True)
                attrs[qname("marks")] = member
            ET.SubElement(stack, "layer", attrs)
        refs = []
        for ref in doc.references:
            member = f"akapen/references/{ref.id}.png"
            self._add(member, ref.pixels, None, copy)
            refs.append({"id": ref.id, "name": ref.name, "src": member})
        selection = None
        if doc.selection is not None:
            selection = "akapen/selection.png"
            sel = doc.selection
            self.jobs[selection] = np.dstack([sel, sel, sel, np.full(sel.shape, 255, np.uint8)])
        self.json["akapen/document.json"] = json.dumps(
            {"version": 1, "metadata": doc.metadata, "references": refs, "selection": selection},
            sort_keys=True)
        write_pairs(self, doc.training_pairs)  # akapen/training/: other programs ignore it
        self.jobs["mergedimage.png"] = doc.render()  # a fresh array, never a view of the cache
        self.xml = ET.tostring(root, encoding="utf-8", xml_declaration=True)

    def _add(self, name: str, pixels: np.ndarray, key: tuple | None, copy: bool) -> None:
        hit = _cache_get(key)
        if hit is not None:
            self.jobs[name] = hit
        else:
            self.jobs[name] = pixels.copy() if copy else pixels
            if key is not None:
                self.cache_keys[name] = key

    def write(self, fileobj: BinaryIO) -> None:
        merged = self.jobs["mergedimage.png"]
        h, w = merged.shape[:2]
        s = min(1.0, 256.0 / max(w, h))
        self.jobs["Thumbnails/thumbnail.png"] = cv2.resize(
            merged, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else merged
        names = list(self.jobs)
        encoded = {n: d for n, d in self.jobs.items() if isinstance(d, bytes)}
        todo = sorted((n for n in names if n not in encoded), key=lambda n: -self.jobs[n].size)  # largest first
        with ThreadPoolExecutor(max_workers=4) as pool:  # OpenCV's encoder releases the GIL
            for n, data in zip(todo, pool.map(lambda n: encode_png(self.jobs[n], PNG_LEVEL), todo), strict=True):
                encoded[n] = data
                _cache_put(self.cache_keys.get(n), data)
        with zipfile.ZipFile(fileobj, "w") as zf:
            zf.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
            zf.writestr("stack.xml", self.xml, compress_type=zipfile.ZIP_DEFLATED)
            for name in names:  # PNG is compressed already
                zf.writestr(name, encoded[name], compress_type=zipfile.ZIP_STORED)
            for name, text in self.json.items():
                zf.writestr(name, text, compress_type=zipfile.ZIP_DEFLATED)


def freeze(doc: Document) -> FrozenDocument:
    """An independent snapshot for writing on another thread (``frozen.write(fileobj)``):
    unchanged layers contribute their cached PNG bytes, changed ones a copy of their pixels."""
    return FrozenDocument(doc, copy=True)


def write_ora(doc: Document, fileobj: BinaryIO) -> None:
    """Write ``doc`` as OpenRaster into a binary file object."""
    FrozenDocument(doc, copy=False).write(fileobj)


def save_ora(doc: Document, path) -> None:
    """Save atomically; the previous file is kept as ``NAME.ora~``. Raises SaveError."""
    atomic_write(Path(path), lambda f: write_ora(doc, f), backup=True)
