"""What a document holds, and the raw changes its commands make to it.

``DocumentState`` has the size, the layers (bottom→top), the selection, the references, the
metadata, the events it sends, the cached projections to invalidate, and the ``_insert`` /
``_remove`` / ``_set_props`` / … mutators that ``canvas.commands`` calls in ``do`` and ``undo``.
There is no history and no checking here: the mutators are the last step of the command path
and nothing else calls them. ``canvas.document.Document`` builds on this with the command
stack, the checked public operations and rendering; keeping the two apart lets the commands
name what they change without importing the document that runs them.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import numpy as np

from canvas.events import DocumentEvent, EventEmitter
from canvas.geometry import Rect
from canvas.layers import LAYER_PROPS, PIECE_PROPS, AnnotationLayer, Layer, PieceLayer, PixelLayer, Reference, Transform
from canvas.marks import Mark
from canvas.pairs import TrainingPairs


class DocumentState:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)
        self._layers: list[Layer] = []
        self.selection: np.ndarray | None = None
        self.references: list[Reference] = []
        self.metadata: dict[str, Any] = {}
        self.training_pairs = TrainingPairs()  # collected in the Train panel, saved with the document
        self.events = EventEmitter()
        self._projections: dict[frozenset[str], Any] = {}
        # how far Canvas size / Crop moved the picture since this document was made (not saved):
        # work begun before a resize (an edit that is running) is placed by the difference
        self.canvas_shift: tuple[int, int] = (0, 0)

    # --- reading ----------------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def rect(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    @property
    def layers(self) -> tuple[Layer, ...]:
        return tuple(self._layers)

    def layer(self, layer_id: str) -> Layer:
        for layer in self._layers:
            if layer.id == layer_id:
                return layer
        raise KeyError(f"no layer with id {layer_id!r}")

    def index_of(self, layer_id: str) -> int:
        for i, layer in enumerate(self._layers):
            if layer.id == layer_id:
                return i
        raise KeyError(f"no layer with id {layer_id!r}")

    # --- mutators used by commands (no history here) --------------------------------------------
    def _changed(self, kind: str, layer_id: str | None, rect: Rect | None, **info: Any) -> None:
        if rect is None or not rect.empty:
            for proj in self._projections.values():
                proj.invalidate(rect)
        self.events.emit(DocumentEvent(kind, layer_id, rect, info))

    def _insert(self, layer: Layer, index: int) -> None:
        self.events.emit(DocumentEvent("inserting", layer.id, None, {"index": index}))
        self._layers.insert(index, layer)
        if isinstance(layer, AnnotationLayer):
            layer.set_clip(self.rect)
        self._changed("inserted", layer.id, layer.bounds(), index=index)

    def _remove(self, layer_id: str) -> None:
        i = self.index_of(layer_id)
        layer = self._layers.pop(i)
        self._changed("removed", layer_id, layer.bounds(), index=i)

    def _move(self, layer_id: str, new_index: int) -> None:
        i = self.index_of(layer_id)
        layer = self._layers.pop(i)
        self._layers.insert(new_index, layer)
        self._changed("moved", layer_id, layer.bounds(), old=i, index=new_index)

    def _set_props(self, layer_id: str, props: dict[str, Any]) -> None:
        layer = self.layer(layer_id)
        for k, v in props.items():
            assert k in LAYER_PROPS or (k in PIECE_PROPS and isinstance(layer, PieceLayer))
            setattr(layer, k, copy.deepcopy(v))
        visual = {"visible", "opacity", "blend", "role"} & set(props)
        if visual and "role" not in visual:
            # only how this layer shows: the projections keep what lies below and above it
            for proj in self._projections.values():
                proj.layer_props_changed(layer)
            self.events.emit(DocumentEvent("changed", layer_id, layer.bounds(), {"props": sorted(props)}))
            return
        self._changed("changed", layer_id, layer.bounds() if visual else Rect(0, 0, 0, 0), props=sorted(props))

    def _write_tiles(self, layer_id: str, parts, changed: Rect) -> None:
        layer = self.layer(layer_id)
        for rect, pixels in parts:
            layer.write(rect, pixels)
        self._changed("pixels", layer_id, changed)

    def _set_pixels(self, layer_id: str, pixels: np.ndarray, x: int, y: int) -> None:
        layer = self.layer(layer_id)
        before = layer.bounds()
        layer.set_pixels(pixels, x, y)
        self._changed("pixels", layer_id, before.union(layer.bounds()))

    def _set_transform(self, layer_id: str, tf: Transform) -> None:
        layer = self.layer(layer_id)
        before = layer.bounds()
        layer.set_transform(tf)
        self._changed("pixels", layer_id, before.union(layer.bounds()))

    def _set_cutout(self, layer_id: str, matte: np.ndarray | None) -> None:
        layer = self.layer(layer_id)
        before = layer.bounds()
        layer.set_cutout(matte)
        self._changed("pixels", layer_id, before.union(layer.bounds()))

    def _set_marks(self, layer_id: str, marks: list[Mark]) -> None:
        layer = self.layer(layer_id)
        before = layer.bounds()
        layer.set_marks(marks)
        self._changed("pixels", layer_id, before.union(layer.bounds()))

    def _set_selection(self, mask: np.ndarray | None) -> None:
        self.selection = mask
        self.events.emit(DocumentEvent("selection", None, self.rect))

    def _resize(self, size: tuple[int, int], shift: tuple[int, int], selection: np.ndarray | None) -> None:
        dx, dy = shift
        for layer in self._layers:
            if dx or dy:
                if isinstance(layer, PixelLayer):
                    layer.set_pixels(layer.pixels, layer.x + dx, layer.y + dy)
                elif isinstance(layer, PieceLayer):
                    tf = layer.transform
                    layer.set_transform(replace(tf, cx=tf.cx + dx, cy=tf.cy + dy))
                elif isinstance(layer, AnnotationLayer):
                    layer.set_marks([m.translated(dx, dy) for m in layer.marks])
        self.width, self.height = size
        for layer in self._layers:
            if isinstance(layer, AnnotationLayer):
                layer.set_clip(self.rect)
        self.canvas_shift = (self.canvas_shift[0] + dx, self.canvas_shift[1] + dy)
        for proj in self._projections.values():
            proj.resize(size)
        self.selection = selection
        self.events.emit(DocumentEvent("resized", None, self.rect))
        self.events.emit(DocumentEvent("selection", None, self.rect))

    def _set_references(self, refs: list[Reference]) -> None:
        self.references = list(refs)
        self.events.emit(DocumentEvent("references"))

    def _set_training_pairs(self, pairs: TrainingPairs) -> None:
        self.training_pairs = pairs
        self.events.emit(DocumentEvent("training_pairs"))
