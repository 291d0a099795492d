"""The command stack: the one choke point for every visible change to a document.

A command knows how to ``do`` and ``undo`` itself on a document (through the raw mutators of
``canvas.document_state.DocumentState``, which ``Document`` builds on), how many bytes it holds,
and whether a following command can merge into it (consecutive dabs of one brush stroke,
consecutive nudges of one piece). Undo, the unsaved mark and autosave all hang off the stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from canvas.geometry import Rect
from canvas.layers import Layer, Reference, Transform
from canvas.marks import Mark
from canvas.tiles import TILE, tile_range, tile_rect

if TYPE_CHECKING:
    from canvas.document_state import DocumentState


class Command:
    label = "Edit"

    def do(self, doc: DocumentState) -> None:
        raise NotImplementedError

    def undo(self, doc: DocumentState) -> None:
        raise NotImplementedError

    def nbytes(self) -> int:
        return 256

    def merge(self, other: Command) -> bool:
        """Absorb ``other`` (already done) into self; True if merged."""
        return False


class CommandStack:
    """Undo/redo with a memory bound that drops the oldest steps, never the current state."""

    def __init__(self, max_bytes: int = 1 << 30, max_steps: int = 1000) -> None:
        self.max_bytes = max_bytes
        self.max_steps = max_steps
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._clean: int | None = 0  # len(_done) at the last save; None = unreachable
        self.dropped = 0

    # state -----------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_label(self) -> str | None:
        return self._done[-1].label if self._done else None

    @property
    def redo_label(self) -> str | None:
        return self._undone[-1].label if self._undone else None

    def labels(self) -> tuple[list[str], list[str]]:
        """(done bottom→top, undone next-to-redo first)."""
        return [c.label for c in self._done], [c.label for c in reversed(self._undone)]

    @property
    def index(self) -> int:
        return len(self._done)

    @property
    def is_clean(self) -> bool:
        return self._clean == len(self._done)

    def mark_clean(self) -> None:
        self._clean = len(self._done)

    def nbytes(self) -> int:
        return sum(c.nbytes() for c in self._done) + sum(c.nbytes() for c in self._undone)

    # operations ---------------------------------------------------------------------------
    def push(self, cmd: Command, merge: bool = True) -> None:
        """Record an already-done command."""
        if self._undone:
            self._undone.clear()
            if self._clean is not None and self._clean > len(self._done):
                self._clean = None
        if merge and self._done and self._clean != len(self._done) and self._done[-1].merge(cmd):
            pass
        else:
            self._done.append(cmd)
        self._trim()

    def pop_undo(self) -> Command | None:
        if not self._done:
            return None
        cmd = self._done.pop()
        self._undone.append(cmd)
        return cmd

    def pop_redo(self) -> Command | None:
        if not self._undone:
            return None
        cmd = self._undone.pop()
        self._done.append(cmd)
        return cmd

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._clean = 0

    def _trim(self) -> None:
        total = self.nbytes()
        while self._done and (total > self.max_bytes or len(self._done) > self.max_steps):
            if len(self._done) == 1 and len(self._done) <= self.max_steps:
                break  # keep at least the latest step, even if it alone is large
            old = self._done.pop(0)
            total -= old.nbytes()
            self.dropped += 1
            if self._clean is not None:
                self._clean = self._clean - 1 if self._clean > 0 else None


# --- layer structure --------------------------------------------------------------------
class AddLayer(Command):
    def __init__(self, layer: Layer, index: int) -> None:
        self.layer, self.index = layer, index
        self.label = f"Add {layer.name}"

    def do(self, doc):
        doc._insert(self.layer, self.index)

    def undo(self, doc):
        doc._remove(self.layer.id)

    def nbytes(self):
        return self.layer.nbytes() + 256


class RemoveLayer(Command):
    def __init__(self, layer: Layer, index: int) -> None:
        self.layer, self.index = layer, index
        self.label = f"Delete {layer.name}"

    def do(self, doc):
        doc._remove(self.layer.id)

    def undo(self, doc):
        doc._insert(self.layer, self.index)

    def nbytes(self):
        return self.layer.nbytes() + 256


class MoveLayer(Command):
    def __init__(self, layer_id: str, old: int, new: int, name: str) -> None:
        self.layer_id, self.old, self.new = layer_id, old, new
        self.label = f"Reorder {name}"

    def do(self, doc):
        doc._move(self.layer_id, self.new)

    def undo(self, doc):
        doc._move(self.layer_id, self.old)


class SetLayerProps(Command):
    def __init__(self, layer_id: str, old: dict[str, Any], new: dict[str, Any], label: str) -> None:
        self.layer_id, self.old, self.new = layer_id, old, new
        self.label = label

    def do(self, doc):
        doc._set_props(self.layer_id, self.new)

    def undo(self, doc):
        doc._set_props(self.layer_id, self.old)

    def merge(self, other):
        # dragging an opacity (or a piece's identity) slider makes one step, not a hundred
        if (
            isinstance(other, SetLayerProps)
            and other.layer_id == self.layer_id
            and set(other.new) == set(self.new)
            and set(self.new) in ({"opacity"}, {"identity"})
        ):
            self.new = other.new
            return True
        return False


# --- pixels -------------------------------------------------------------------------------
class Paint(Command):
    """Pixels written into a pixel layer, stored per touched tile (before and after).

    Each touched tile is stored whole (clipped to the layer), so consecutive paints with the
    same ``stroke`` token merge by keeping each tile's first "before" and latest "after": a
    long stroke is one undo step holding only the tiles it touched, never its bounding box.
    """

    def __init__(self, layer_id: str, stroke: object | None, label: str = "Paint") -> None:
        self.layer_id = layer_id
        self.stroke = stroke
        self.label = label
        self.tiles: dict[tuple[int, int], tuple[Rect, np.ndarray, np.ndarray]] = {}
        self.changed = Rect(0, 0, 0, 0)  # the pixels actually written (for redraw)

    @staticmethod
    def capture(layer, rect: Rect, patch: np.ndarray, stroke, label: str) -> Paint:
        """Record writing ``patch`` at ``rect`` (inside the layer); does not write it."""
        cmd = Paint(layer.id, stroke, label)
        cmd.changed = rect
        bounds = layer.bounds()
        txs, tys = tile_range(rect)
        for ty in tys:
            for tx in txs:
                part = tile_rect(tx, ty).intersect(bounds)
                before = layer.read(part).copy()
                after = before.copy()
                inner = part.intersect(rect)
                after[inner.slices(part.x, part.y)] = patch[inner.slices(rect.x, rect.y)]
                cmd.tiles[(tx, ty)] = (part, before, after)
        return cmd

    def rect(self) -> Rect:
        out = Rect(0, 0, 0, 0)
        for r, _, _ in self.tiles.values():
            out = out.union(r)
        return out

    def do(self, doc):
        doc._write_tiles(self.layer_id, [(r, a) for r, _, a in self.tiles.values()], self.changed)

    def undo(self, doc):
        doc._write_tiles(self.layer_id, [(r, b) for r, b, _ in self.tiles.values()], self.changed)

    def nbytes(self):
        return sum(b.nbytes + a.nbytes for _, b, a in self.tiles.values()) + 256

    def merge(self, other):
        if not (
            isinstance(other, Paint)
            and self.stroke is not None
            and other.stroke is self.stroke
            and other.layer_id == self.layer_id
        ):
            return False
        self.changed = self.changed.union(other.changed)
        for key, (r2, b2, a2) in other.tiles.items():
            if key in self.tiles:
                r1, b1, _ = self.tiles[key]
                self.tiles[key] = (r1, b1, a2)
            else:
                self.tiles[key] = (r2, b2, a2)
        return True


class SetPixels(Command):
    """Replace a pixel layer's whole raster (for example crop, merge or a filter)."""

    def __init__(self, layer_id: str, old: tuple[np.ndarray, int, int], new: tuple[np.ndarray, int, int], label: str):
        self.layer_id, self.old, self.new, self.label = layer_id, old, new, label

    def do(self, doc):
        doc._set_pixels(self.layer_id, *self.new)

    def undo(self, doc):
        doc._set_pixels(self.layer_id, *self.old)

    def nbytes(self):
        return self.old[0].nbytes + self.new[0].nbytes + 256


# --- pieces and marks ---------------------------------------------------------------------
class SetTransform(Command):
    def __init__(self, layer_id: str, old: Transform, new: Transform, label: str, gesture: object | None = None):
        self.layer_id, self.old, self.new, self.label, self.gesture = layer_id, old, new, label, gesture

    def do(self, doc):
        doc._set_transform(self.layer_id, self.new)

    def undo(self, doc):
        doc._set_transform(self.layer_id, self.old)

    def merge(self, other):
        if (
            isinstance(other, SetTransform)
            and self.gesture is not None
            and other.gesture is self.gesture
            and other.layer_id == self.layer_id
        ):
            self.new = other.new
            return True
        return False


class SetCutout(Command):
    """Cut a piece out with a matte, or un-cut it (None); the piece's original pixels never change."""

    def __init__(self, layer_id: str, old: np.ndarray | None, new: np.ndarray | None, label: str):
        self.layer_id, self.old, self.new, self.label = layer_id, old, new, label

    def do(self, doc):
        doc._set_cutout(self.layer_id, self.new)

    def undo(self, doc):
        doc._set_cutout(self.layer_id, self.old)

    def nbytes(self):
        return sum(m.nbytes for m in (self.old, self.new) if m is not None) + 256


class SetMarks(Command):
    def __init__(self, layer_id: str, old: list[Mark], new: list[Mark], label: str, gesture: object | None = None):
        self.layer_id, self.old, self.new, self.label, self.gesture = layer_id, list(old), list(new), label, gesture

    def do(self, doc):
        doc._set_marks(self.layer_id, self.new)

    def undo(self, doc):
        doc._set_marks(self.layer_id, self.old)

    def merge(self, other):
        if (
            isinstance(other, SetMarks)
            and self.gesture is not None
            and other.gesture is self.gesture
            and other.layer_id == self.layer_id
        ):
            self.new = other.new
            return True
        return False


# --- document-level -----------------------------------------------------------------------
class SetSelection(Command):
    def __init__(self, old: np.ndarray | None, new: np.ndarray | None, label: str = "Select"):
        self.old, self.new, self.label = old, new, label

    def do(self, doc):
        doc._set_selection(self.new)

    def undo(self, doc):
        doc._set_selection(self.old)

    def nbytes(self):
        return sum(m.nbytes for m in (self.old, self.new) if m is not None) + 256


class ResizeCanvas(Command):
    """The canvas becomes ``new`` (w, h) with every layer moved by ``shift``; the selection is
    ``new_selection`` (None: none). Layers keep the pixels that fall outside."""

    def __init__(self, old: tuple[int, int], new: tuple[int, int], shift: tuple[int, int],
                 old_selection: np.ndarray | None, new_selection: np.ndarray | None, label: str):
        self.old, self.new, self.shift, self.label = old, new, shift, label
        self.old_selection, self.new_selection = old_selection, new_selection

    def do(self, doc):
        doc._resize(self.new, self.shift, self.new_selection)

    def undo(self, doc):
        doc._resize(self.old, (-self.shift[0], -self.shift[1]), self.old_selection)

    def nbytes(self):
        return sum(m.nbytes for m in (self.old_selection, self.new_selection) if m is not None) + 256


class SetReferences(Command):
    def __init__(self, old: list[Reference], new: list[Reference], label: str):
        self.old, self.new, self.label = list(old), list(new), label

    def do(self, doc):
        doc._set_references(self.new)

    def undo(self, doc):
        doc._set_references(self.old)

    def nbytes(self):
        return sum(r.pixels.nbytes for r in self.new) + 256


class SetTrainingPairs(Command):
    """The training pairs kept with the document. Steps with one ``gesture`` (typing the shared instruction)
    merge into one; the arrays of pairs both sets hold are shared, so a step costs only what it added."""

    def __init__(self, old, new, label: str, gesture: object | None = None):
        self.old, self.new, self.label, self.gesture = old, new, label, gesture

    def do(self, doc):
        doc._set_training_pairs(self.new)

    def undo(self, doc):
        doc._set_training_pairs(self.old)

    def nbytes(self):  # the pairs only one side holds (added, or removed and kept for undo)
        old, new = {id(p): p for p in self.old.pairs}, {id(p): p for p in self.new.pairs}
        return sum(p.nbytes for k, p in (old | new).items() if (k in old) != (k in new)) + 256

    def merge(self, other):
        if isinstance(other, SetTrainingPairs) and self.gesture is not None and other.gesture == self.gesture:
            self.new = other.new
            return True
        return False


class Macro(Command):
    """Several commands done and undone as one step (merge down, flatten, insert a result)."""

    def __init__(self, commands: list[Command], label: str):
        self.commands, self.label = commands, label

    def do(self, doc):
        for c in self.commands:
            c.do(doc)

    def undo(self, doc):
        for c in reversed(self.commands):
            c.undo(doc)

    def nbytes(self):
        return sum(c.nbytes() for c in self.commands)


__all__ = [
    "TILE", "Command", "CommandStack", "AddLayer", "RemoveLayer", "MoveLayer", "SetLayerProps",
    "Paint", "SetPixels", "SetTransform", "SetCutout", "SetMarks", "SetSelection", "SetReferences", "Macro",
]
