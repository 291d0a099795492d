"""The layered document: size, layers (bottom→top), selection, references, metadata.

What it holds and the raw changes commands make to it live in ``canvas.document_state``; this
module adds the command path. Every public method that changes the document builds a command and runs it through the
command stack, so undo/redo, the unsaved mark and autosave see every change. Observers
subscribe to ``document.events``; projections (cached composites) are updated lazily.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np

from canvas import commands as C
from canvas.blend import composite_into, premultiplied_float, straight_uint8
from canvas.cutout import CutPlan, piece_scribbles
from canvas.document_state import DocumentState
from canvas.errors import CanvasError, LayerLockedError
from canvas.events import DocumentEvent
from canvas.geometry import Rect
from canvas.imageio import MAX_PIXELS
from canvas.layers import (
    AnnotationLayer,
    Layer,
    PieceLayer,
    PixelLayer,
    Reference,
    Transform,
    check_piece,
    check_rgba,
    validate_prop,
)
from canvas.marks import Mark
from canvas.pairs import TrainingPairs

MAX_SIDE = 32768


def check_canvas_size(width: int, height: int) -> None:
    """A canvas Akapen can hold and read back from its own file (the loader's pixel limit)."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise CanvasError(f"a canvas is 1 to {MAX_SIDE} pixels a side, not {width}×{height}")
    if width * height > MAX_PIXELS:
        raise CanvasError(f"a canvas holds at most {MAX_PIXELS / 1e6:.0f} million pixels (about 12 000 × 12 000), "
                          f"not {width}×{height}")


CONTENT = frozenset({"content"})


class Document(DocumentState):
    """The parts and raw mutators come from ``DocumentState``; this adds the command stack, the
    checked public operations (one undo step each), rendering, copies and comparison."""

    def __init__(self, width: int, height: int, *, undo_bytes: int = 1 << 30) -> None:
        check_canvas_size(width, height)
        super().__init__(width, height)
        self.history = C.CommandStack(max_bytes=undo_bytes)

    @classmethod
    def assemble(cls, width: int, height: int, layers: list[Layer], *, selection: np.ndarray | None = None,
                 references: list[Reference] | None = None, metadata: dict[str, Any] | None = None,
                 training_pairs: TrainingPairs | None = None) -> Document:
        """A document built from parts (for loaders): no history, marked unmodified."""
        doc = cls(width, height)
        ids = [lyr.id for lyr in layers]
        if len(set(ids)) != len(ids):
            raise CanvasError("two layers share one id")
        doc._layers = list(layers)
        for layer in doc._layers:
            if isinstance(layer, AnnotationLayer):
                layer.set_clip(doc.rect)
        if selection is not None:
            if selection.shape != (doc.height, doc.width) or selection.dtype != np.uint8:
                raise CanvasError("the selection mask does not match the canvas size")
            doc.selection = selection if selection.any() else None
        doc.references = list(references or [])
        doc.metadata = dict(metadata or {})
        doc.training_pairs = training_pairs or TrainingPairs()
        return doc

    @property
    def modified(self) -> bool:
        return not self.history.is_clean

    def projection(self, roles: Iterable[str] = CONTENT):
        from canvas.composite import Projection

        key = frozenset(roles)
        proj = self._projections.get(key)
        if proj is None:
            proj = Projection(self.size, lambda: self._layers, key)
            self._projections[key] = proj
        return proj

    def render(self, rect: Rect | None = None, roles: Iterable[str] = CONTENT) -> np.ndarray:
        """Straight uint8 RGBA composite of the visible layers whose role is in ``roles``."""
        only = self._single_opaque_layer(roles)
        if only is not None:  # a photo opened to be edited: its pixels are the composite (no tile pass to load)
            r = rect or self.rect
            return only.pixels[r.y:r.y + r.h, r.x:r.x + r.w].copy()
        return self.projection(roles).render(rect)

    def _single_opaque_layer(self, roles: Iterable[str]):
        """The one visible layer of ``roles`` when it is an opaque, normal, full-opacity pixel layer covering the
        canvas exactly and no projection is kept yet (a window keeps one: it is the faster path there)."""
        from canvas.layers import PixelLayer

        key = frozenset(roles)
        if key in self._projections:
            return None
        shown = [la for la in self._layers if la.visible and la.role in key]
        if len(shown) != 1 or type(shown[0]) is not PixelLayer:
            return None
        la = shown[0]
        if (la.x, la.y, la.pixels.shape[1], la.pixels.shape[0]) != (0, 0, self.width, self.height) or \
                la.blend != "normal" or la.opacity != 1.0 or not (la.pixels[..., 3] == 255).all():
            return None
        return la

    def render_annotations(self, rect: Rect | None = None) -> np.ndarray:
        """The annotation overlay alone (what the pen marked), transparent elsewhere."""
        return self.render(rect, roles=("annotation",))

    def selection_mask(self) -> np.ndarray:
        """uint8 (height, width) mask: 255 selected; everything when nothing is selected."""
        if self.selection is None:
            return np.full((self.height, self.width), 255, np.uint8)
        return self.selection.copy()

    def selection_box(self) -> Rect:
        """The bounding box of the selection (the whole canvas without one)."""
        if self.selection is None:
            return self.rect
        ys, xs = np.nonzero(self.selection)
        x0, y0 = int(xs.min()), int(ys.min())
        return Rect(x0, y0, int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0)

    def copy_pixels(self, layer_id: str | None = None) -> tuple[np.ndarray, Rect]:
        """What Copy takes: a layer's pixels (``layer_id``) or, with None, the composite of the
        content layers, inside the selection (transparent outside it) and cropped to the
        selection's box; without a selection, the whole layer or the whole canvas.
        Raises CanvasError when that holds no visible pixel."""
        layer = self.layer(layer_id) if layer_id is not None else None
        if self.selection is not None:
            rect = self.selection_box()
        else:
            rect = layer.bounds() if layer is not None else self.rect
        pixels = layer.read_padded(rect) if layer is not None else self.render(rect)
        if self.selection is not None:
            pixels = pixels.copy()
            np.minimum(pixels[..., 3], self.selection[rect.slices()], out=pixels[..., 3])
            pixels[pixels[..., 3] == 0] = 0
        if rect.empty or not pixels[..., 3].any():
            what = f"“{layer.name}”" if layer is not None else "the picture"
            where = " inside the selection" if self.selection is not None else ""
            raise CanvasError(f"nothing to copy: {what} has no pixels{where}")
        return np.ascontiguousarray(pixels), rect

    # --- the command path ------------------------------------------------------------------------
    def execute(self, cmd: C.Command, merge: bool = True) -> None:
        cmd.do(self)
        self.history.push(cmd, merge=merge)
        self._history_changed()

    def undo(self) -> bool:
        cmd = self.history.pop_undo()
        if cmd is None:
            return False
        cmd.undo(self)
        self._history_changed()
        return True

    def redo(self) -> bool:
        cmd = self.history.pop_redo()
        if cmd is None:
            return False
        cmd.do(self)
        self._history_changed()
        return True

    def mark_clean(self) -> None:
        self.history.mark_clean()
        self.events.emit(DocumentEvent("clean", info={"modified": False}))

    def _history_changed(self) -> None:
        self.events.emit(DocumentEvent("history", info={"modified": self.modified}))

    # --- public operations (each one undoable step) -------------------------------------------
    def add_layer(self, layer: Layer, index: int | None = None) -> Layer:
        if any(lyr.id == layer.id for lyr in self._layers):
            raise CanvasError(f"a layer with id {layer.id} is already in the document")
        index = len(self._layers) if index is None else max(0, min(index, len(self._layers)))
        self.execute(C.AddLayer(layer, index))
        return layer

    def new_pixel_layer(self, name: str = "Layer", index: int | None = None) -> PixelLayer:
        return self.add_layer(PixelLayer.blank(self.width, self.height, name), index)  # type: ignore[return-value]

    def unique_name(self, base: str) -> str:
        """``base``, or ``base 2``, ``base 3`` … — the first no layer has."""
        names = {lyr.name for lyr in self._layers}
        n = 1
        while (f"{base} {n}" if n > 1 else base) in names:
            n += 1
        return f"{base} {n}" if n > 1 else base

    def new_annotation_layer(self, name: str = "Marks", index: int | None = None) -> AnnotationLayer:
        return self.add_layer(AnnotationLayer([], name), index)  # type: ignore[return-value]

    def remove_layer(self, layer_id: str) -> None:
        self.execute(C.RemoveLayer(self.layer(layer_id), self.index_of(layer_id)))

    def move_layer(self, layer_id: str, new_index: int) -> None:
        old = self.index_of(layer_id)
        new_index = max(0, min(new_index, len(self._layers) - 1))
        if new_index != old:
            self.execute(C.MoveLayer(layer_id, old, new_index, self.layer(layer_id).name))

    def set_layer_props(self, layer_id: str, **props: Any) -> None:
        layer = self.layer(layer_id)
        if "identity" in props and not isinstance(layer, PieceLayer):
            raise CanvasError(f"layer {layer.name!r} is a {layer.kind} layer; only collage pieces have an identity")
        new = {k: validate_prop(k, v) for k, v in props.items()}
        old = {k: copy.deepcopy(getattr(layer, k)) for k in new}
        if old == new:
            return
        if len(new) == 1:
            (key,) = new
            label = {"visible": "Show/hide", "opacity": "Opacity", "blend": "Blend mode",
                     "name": "Rename", "locked": "Lock", "role": "Role",
                     "provenance": "Provenance", "identity": "Identity"}[key] + f" {layer.name}"
        else:
            label = f"Layer properties {layer.name}"
        self.execute(C.SetLayerProps(layer_id, old, new, label))

    def duplicate_layer(self, layer_id: str) -> Layer:
        src = self.layer(layer_id)
        dup = src.copy(new_id=True)
        dup.name = f"{src.name} copy"
        return self.add_layer(dup, self.index_of(layer_id) + 1)

    def _editable(self, layer_id: str, kind: type) -> Any:
        layer = self.layer(layer_id)
        if layer.locked:
            raise LayerLockedError(f"layer {layer.name!r} is locked; unlock it to change it")
        if not isinstance(layer, kind):
            raise CanvasError(f"layer {layer.name!r} is a {layer.kind} layer, not a {kind.kind} layer")
        return layer

    def paint(self, layer_id: str, rect: Rect, patch: np.ndarray, stroke: object | None = None,
              label: str = "Paint") -> Rect:
        """Write ``patch`` (straight RGBA of ``rect``) into a pixel layer, clipped to it.

        Paints that share a ``stroke`` token become one undo step. Returns the rect written.
        """
        layer = self._editable(layer_id, PixelLayer)
        check_rgba(patch, "patch")
        if patch.shape[:2] != (rect.h, rect.w):
            raise ValueError("patch size does not match its rect")
        inner = rect.intersect(layer.bounds())
        if inner.empty:
            return inner
        patch = patch[inner.slices(rect.x, rect.y)]
        self.execute(C.Paint.capture(layer, inner, patch, stroke, label))
        return inner

    def set_layer_pixels(self, layer_id: str, pixels: np.ndarray, x: int = 0, y: int = 0,
                         label: str = "Replace pixels") -> None:
        layer = self._editable(layer_id, PixelLayer)
        check_rgba(pixels)
        self.execute(C.SetPixels(layer_id, (layer.pixels, layer.x, layer.y), (pixels, x, y), label))

    def set_transform(self, layer_id: str, tf: Transform, gesture: object | None = None,
                      label: str = "Transform") -> None:
        layer = self._editable(layer_id, PieceLayer)
        try:
            check_piece(layer.original.shape[1], layer.original.shape[0], tf)
        except ValueError as exc:
            raise CanvasError(str(exc)) from None
        if tf != layer.transform:
            self.execute(C.SetTransform(layer_id, layer.transform, tf, f"{label} {layer.name}", gesture))

    def reset_transform(self, layer_id: str) -> None:
        layer = self._editable(layer_id, PieceLayer)
        tf = layer.transform
        self.set_transform(layer_id, Transform(cx=tf.cx, cy=tf.cy), label="Reset")

    def cut_out(self, layer_id: str) -> int:
        """Cut a piece's subject out of its own background (one undo step); returns the number of
        keep/remove strokes it followed, which are taken off their layers in the same step."""
        plan = self.plan_cut_out(layer_id)
        return self.apply_cut_out(plan, plan.compute())

    def plan_cut_out(self, layer_id: str) -> CutPlan:
        """What a cut-out of ``layer_id`` needs, taken now: ``plan.compute()`` may then run on another
        thread (it reads only the plan), and :meth:`apply_cut_out` puts its matte in."""
        piece = self._editable(layer_id, PieceLayer)
        notes = [la for la in self.layers if isinstance(la, AnnotationLayer)]
        scribbles, used = piece_scribbles(piece, notes)
        return CutPlan(layer_id, piece.name, piece.original, piece.cutout, scribbles, used)

    def apply_cut_out(self, plan: CutPlan, matte: np.ndarray) -> int:
        """Set the matte ``plan.compute()`` gave, and take the strokes it followed off their layers, in one
        undo step. CanvasError when the piece changed meanwhile (deleted, locked, another cut)."""
        if not any(la.id == plan.layer_id for la in self.layers):
            raise CanvasError(f"“{plan.name}” was deleted while it was being cut out")
        piece = self._editable(plan.layer_id, PieceLayer)
        if piece.original is not plan.original or piece.cutout is not plan.previous:
            raise CanvasError(f"“{piece.name}” changed while it was being cut out; cut it out again")
        cmds: list[C.Command] = [C.SetCutout(plan.layer_id, piece.cutout, matte, "cut out")]
        used = 0
        for lid, ids in plan.used.items():
            layer = next((la for la in self.layers if la.id == lid), None)
            if layer is None or layer.locked:
                continue  # strokes whose layer went away or was locked meanwhile stay as they are
            kept = [m for m in layer.marks if m.id not in ids]
            used += len(layer.marks) - len(kept)
            cmds.append(C.SetMarks(lid, layer.marks, kept, "strokes"))
        self.execute(C.Macro(cmds, f"Cut out {piece.name}"))
        return used

    def set_cutout(self, layer_id: str, matte: np.ndarray | None, label: str | None = None) -> None:
        """Set a piece's cut-out matte (None: restore the uncut piece), as one undo step."""
        piece = self._editable(layer_id, PieceLayer)
        if matte is None and piece.cutout is None:
            return
        if matte is not None:
            matte = np.asarray(matte)
            if matte.dtype != np.uint8 or matte.shape != piece.original.shape[:2]:
                raise CanvasError(f"a cut-out matte is uint8 of the piece's size, not {matte.dtype} {matte.shape}")
        label = label or (f"Restore uncut {piece.name}" if matte is None else f"Cut out {piece.name}")
        self.execute(C.SetCutout(layer_id, piece.cutout, matte, label))

    def set_marks(self, layer_id: str, marks: list[Mark], label: str = "Edit marks",
                  gesture: object | None = None) -> None:
        layer = self._editable(layer_id, AnnotationLayer)
        self.execute(C.SetMarks(layer_id, layer.marks, list(marks), label, gesture))

    def add_mark(self, layer_id: str, mark: Mark) -> None:
        layer = self._editable(layer_id, AnnotationLayer)
        self.set_marks(layer_id, [*layer.marks, mark], f"Add {mark.kind}")

    def replace_mark(self, layer_id: str, mark: Mark, gesture: object | None = None) -> None:
        layer = self._editable(layer_id, AnnotationLayer)
        marks = list(layer.marks)
        marks[layer.mark_index(mark.id)] = mark
        self.set_marks(layer_id, marks, f"Edit {mark.kind}", gesture)

    def remove_mark(self, layer_id: str, mark_id: str) -> None:
        layer = self._editable(layer_id, AnnotationLayer)
        marks = list(layer.marks)
        gone = marks.pop(layer.mark_index(mark_id))
        self.set_marks(layer_id, marks, f"Delete {gone.kind}")

    def set_selection(self, mask: np.ndarray | None, label: str = "Select") -> None:
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (self.height, self.width):
                raise ValueError(f"selection mask must be {self.height}×{self.width}, not {mask.shape}")
            mask = np.ascontiguousarray(mask, dtype=np.uint8)
            if not mask.any():
                mask = None
        old = self.selection
        if old is None and mask is None:
            return
        self.execute(C.SetSelection(old, mask, label))

    def resize_canvas(self, width: int, height: int, dx: int = 0, dy: int = 0, label: str = "Canvas size") -> None:
        """Make the canvas ``width`` × ``height`` with everything moved by (``dx``, ``dy``): one
        undo step. Nothing is lost: what falls outside stays in its layer, and comes back when
        the canvas grows again. The selection moves with the picture."""
        width, height, dx, dy = int(width), int(height), int(dx), int(dy)
        check_canvas_size(width, height)
        if (width, height, dx, dy) == (self.width, self.height, 0, 0):
            return
        new_sel = None
        if self.selection is not None:
            new_sel = np.zeros((height, width), np.uint8)
            src = Rect(0, 0, self.width, self.height).translated(dx, dy).intersect(Rect(0, 0, width, height))
            if not src.empty:
                new_sel[src.slices()] = self.selection[src.translated(-dx, -dy).slices()]
            if not new_sel.any():
                new_sel = None
        self.execute(C.ResizeCanvas(self.size, (width, height), (dx, dy), self.selection, new_sel, label))

    def crop_to_selection(self) -> None:
        """The canvas becomes the selection's bounding box (the selection is then dropped)."""
        if self.selection is None:
            raise CanvasError("select the part to keep first: Crop to selection needs a selection")
        box = self.selection_box()
        self.execute(C.ResizeCanvas(self.size, (box.w, box.h), (-box.x, -box.y), self.selection, None,
                                    "Crop to selection"))

    def add_reference(self, pixels: np.ndarray, name: str = "Reference") -> Reference:
        ref = Reference(check_rgba(pixels, "reference").copy(), name)
        self.execute(C.SetReferences(self.references, [*self.references, ref], f"Add reference {name}"))
        return ref

    def remove_reference(self, ref_id: str) -> None:
        new = [r for r in self.references if r.id != ref_id]
        if len(new) == len(self.references):
            raise KeyError(f"no reference with id {ref_id!r}")
        self.execute(C.SetReferences(self.references, new, "Remove reference"))

    def set_training_pairs(self, pairs: TrainingPairs, label: str = "Training pairs",
                           gesture: object | None = None) -> None:
        """Replace the training pairs kept with the document (one undo step; steps of one ``gesture`` merge)."""
        if not isinstance(pairs, TrainingPairs):
            raise TypeError("the training pairs are a canvas.pairs.TrainingPairs")
        if pairs != self.training_pairs:
            self.execute(C.SetTrainingPairs(self.training_pairs, pairs, label, gesture))

    def rasterize(self, layers: list[Layer]) -> tuple[np.ndarray, Rect]:
        """Composite ``layers`` (bottom→top, honouring their properties) inside their bounds."""
        rect = Rect(0, 0, 0, 0)
        for lyr in layers:
            rect = rect.union(lyr.bounds())
        buf = np.zeros((rect.h, rect.w, 4), np.float32)
        for lyr in layers:
            if not lyr.visible:
                continue
            inner = lyr.bounds()
            if inner.empty:
                continue
            composite_into(buf[inner.slices(rect.x, rect.y)], premultiplied_float(lyr.read(inner), lyr.opacity), lyr.blend)
        return straight_uint8(buf), rect

    def merge_down(self, layer_id: str) -> Layer:
        """Merge a layer into the one below it as one pixel layer (one undo step)."""
        i = self.index_of(layer_id)
        if i == 0:
            raise CanvasError("there is no layer below to merge into")
        upper, lower = self._layers[i], self._layers[i - 1]
        pixels, rect = self.rasterize([lower, upper])
        merged = PixelLayer(pixels, rect.x, rect.y, lower.name, role=lower.role,
                            provenance=lower.provenance, locked=False)
        self.execute(C.Macro([
            C.RemoveLayer(upper, i), C.RemoveLayer(lower, i - 1), C.AddLayer(merged, i - 1),
        ], f"Merge {upper.name} down"))
        return merged

    def flatten(self) -> Layer:
        """Replace the visible content layers by one pixel layer; other roles are kept above."""
        content = [lyr for lyr in self._layers if lyr.role == "content"]
        if not content:
            raise CanvasError("there are no content layers to flatten")
        pixels = self.render()
        flat = PixelLayer(pixels, 0, 0, "Flattened")
        cmds: list[C.Command] = []
        for lyr in reversed(content):
            cmds.append(C.RemoveLayer(lyr, self.index_of(lyr.id)))
        cmds.append(C.AddLayer(flat, 0))
        # RemoveLayer indices above are valid when applied top-down
        self.execute(C.Macro(cmds, "Flatten"))
        return flat

    # --- copies and comparison ---------------------------------------------------------------------
    def copy(self) -> Document:
        """An independent copy of the content (no history, no observers)."""
        dup = Document(self.width, self.height, undo_bytes=self.history.max_bytes)
        dup._layers = [lyr.copy() for lyr in self._layers]
        dup.selection = None if self.selection is None else self.selection.copy()
        dup.references = [r.copy() for r in self.references]
        dup.metadata = copy.deepcopy(self.metadata)
        dup.training_pairs = self.training_pairs  # immutable: shared
        return dup

    def content_equal(self, other: Document) -> bool:
        """Same size, layers (ids, properties, content), selection, references and metadata."""
        if self.size != other.size or len(self._layers) != len(other._layers):
            return False
        for a, b in zip(self._layers, other._layers, strict=True):
            if a.id != b.id or a.kind != b.kind or a.props() != b.props() or not a.content_equal(b):
                return False
        if (self.selection is None) != (other.selection is None):
            return False
        if self.selection is not None and not np.array_equal(self.selection, other.selection):
            return False
        if len(self.references) != len(other.references):
            return False
        for r1, r2 in zip(self.references, other.references, strict=True):
            if r1.id != r2.id or r1.name != r2.name or not np.array_equal(r1.pixels, r2.pixels):
                return False
        return self.metadata == other.metadata and self.training_pairs.same(other.training_pairs)
