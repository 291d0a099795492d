"""Training pairs made from the document (Qt-free: the training panel and scripts share it).

- An edit result and the picture it was made from: the layer's provenance says it is a result;
  *before* is the picture without it, *after* the picture with it, over the layer's area, and
  the instruction is the one the model saw.
- Two layers: the picture as it looks with only the first of them, and with only the second.
- The picture and an image file: the picture is before, the file after (or the other way).

The pairs collected are kept with the document (``canvas.pairs``: saved in its ``.ora``, undone with it);
``to_document`` and ``from_document`` convert between that and the training package's ``Dataset``.
"""

from __future__ import annotations

import numpy as np

from canvas.composite import composite_rect
from canvas.document import Document
from canvas.errors import CanvasError
from canvas.geometry import Rect
from canvas.layers import Layer
from canvas.pairs import StoredPair, TrainingPairs


def _content(doc: Document, without: frozenset[str] = frozenset()) -> list[Layer]:
    return [lyr for lyr in doc.layers if lyr.role == "content" and lyr.visible and lyr.id not in without]


def _area(doc: Document, layer: Layer) -> Rect:
    area = layer.bounds().intersect(doc.rect)
    if area.empty:
        raise CanvasError(f"layer {layer.name!r} lies outside the canvas: there is nothing to make a pair of")
    return area


def is_result(layer: Layer) -> bool:
    return bool(layer.provenance.get("backend")) and layer.kind == "pixel"


def pair_from_result(doc: Document, layer_id: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(before, after, instruction) of an edit result layer."""
    layer = doc.layer(layer_id)
    if not is_result(layer):
        raise CanvasError(f"layer {layer.name!r} is not an edit result (its provenance names no backend); make a "
                          "pair from two layers instead")
    area = _area(doc, layer)
    before = composite_rect(_content(doc, without=frozenset({layer.id})), area)
    after = composite_rect(_content(doc), area)
    if np.array_equal(before, after):
        raise CanvasError(f"layer {layer.name!r} does not change the picture (hidden under other layers?)")
    return before, after, str(layer.provenance.get("instruction") or "")


def pair_from_layers(doc: Document, before_id: str, after_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The picture with ``before_id`` and without ``after_id``, and the other way round (the other content
    layers as they are): for a before and an after pasted as two layers."""
    if before_id == after_id:
        raise CanvasError("choose two different layers for before and after")
    b, a = doc.layer(before_id), doc.layer(after_id)
    area = _area(doc, b).union(_area(doc, a)).intersect(doc.rect)
    layers = [lyr for lyr in doc.layers if lyr.role == "content" and (lyr.visible or lyr.id in (b.id, a.id))]
    before = composite_rect([lyr for lyr in layers if lyr.id != a.id], area)
    after = composite_rect([lyr for lyr in layers if lyr.id != b.id], area)
    return before, after


def picture(doc: Document) -> np.ndarray:
    """The picture (the visible content layers) over the whole canvas."""
    return doc.render()


def to_document(ds, previous: TrainingPairs | None = None) -> TrainingPairs:
    """A ``training.dataset.Dataset`` as the document keeps it. A pair that ``previous`` holds unchanged (the
    same arrays, name and instruction) is that very object, so its saved PNGs and undo bytes are shared."""
    kept = {p.name: p for p in (previous.pairs if previous is not None else ())}
    out = []
    for pair in ds.pairs:
        old = kept.get(pair.name)
        if (old is not None and old.instruction == pair.instruction and old.after is pair.after
                and len(old.before) == len(pair.before) and all(a is b for a, b in zip(old.before, pair.before,
                                                                                        strict=True))):
            out.append(old)
            continue
        try:
            out.append(StoredPair(pair.name, tuple(pair.before), pair.after, pair.instruction))
        except (ValueError, TypeError) as exc:
            raise CanvasError(str(exc)) from None
    try:
        return TrainingPairs(tuple(out), ds.instruction, ds.held_out)
    except ValueError as exc:
        raise CanvasError(str(exc)) from None


def from_document(pairs: TrainingPairs):
    """The document's pairs as a ``training.dataset.Dataset`` (the arrays shared, not copied)."""
    from training.dataset import Dataset, Pair

    return Dataset([Pair(p.name, p.before, p.after, p.instruction) for p in pairs.pairs], pairs.instruction,
                   pairs.held_out)
