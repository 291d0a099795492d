"""Collage pieces: added from images (cascaded, one undo step), made from the selected part of
a layer (Ctrl+J), flipped and reset from the Layer menu and the piece options, cut out of their
own background (with the keep and remove pens) and restored uncut."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from canvas import commands as C
from canvas.errors import CanvasError
from canvas.layers import PieceLayer, Transform

CASCADE = 24  # canvas pixels between pieces dropped or pasted together
KEEP_PEN = (20, 200, 40, 255)  # canvas.cutout reads green strokes as "keep" …
REMOVE_PEN = (30, 90, 235, 255)  # … and blue ones as "remove"
CORRECT = ("To correct it, draw with the keep pen (green) over what belongs to the subject and the remove pen "
           "(blue) over what does not, then cut out again.")


class PiecesController:
    def __init__(self, window) -> None:
        self.window = window

    def active_piece(self) -> PieceLayer | None:
        layer = self.window.bridge.active_layer()
        return layer if isinstance(layer, PieceLayer) else None

    def flip_piece(self, axis: str) -> None:
        piece = self.active_piece()
        if piece is None:
            self.window.show_hint("Select a collage piece to flip it.")
            return
        tf = piece.transform
        new = Transform(tf.cx, tf.cy, tf.sx, tf.sy, tf.rotation,
                        (not tf.flip_h) if axis == "h" else tf.flip_h, (not tf.flip_v) if axis == "v" else tf.flip_v)
        self.window.document.set_transform(piece.id, new, label="Flip")

    def reset_piece(self) -> None:
        piece = self.active_piece()
        if piece is None:
            self.window.show_hint("Select a collage piece to reset its transform.")
            return
        self.window.document.reset_transform(piece.id)

    def cut_out(self) -> None:
        """Layer › Cut out subject: the active piece's subject as its alpha (one undo step)."""
        piece = self.active_piece()
        if piece is None:
            self.window.show_hint("Select a collage piece to cut its subject out of its background.")
            return
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            used = self.window.document.cut_out(piece.id)  # CanvasError: said by the action's guard
        finally:
            QApplication.restoreOverrideCursor()
        strokes = f", following {used} stroke{'s' if used != 1 else ''}" if used else ""
        self.window.show_hint(f"“{piece.name}” cut out{strokes}. {CORRECT} "
                              "Layer › Restore uncut piece brings the whole picture back.")

    def cut_out_pieces(self, ids: list[str]) -> None:
        """Refine collage's offer: cut out several pieces, each its own undo step; one that fails is said."""
        done, failed = [], []
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            for lid in ids:
                layer = next((la for la in self.window.document.layers if la.id == lid), None)
                if not isinstance(layer, PieceLayer):
                    continue
                try:
                    self.window.document.cut_out(lid)
                    done.append(layer.name)
                except CanvasError as exc:
                    failed.append(f"“{layer.name}”: {exc}")
        finally:
            QApplication.restoreOverrideCursor()
        if failed:
            self.window.notifier.error("Some pieces could not be cut out — " + "; ".join(failed))
        if done:
            self.window.show_hint(f"Cut out {', '.join(f'“{n}”' for n in done)}. {CORRECT}")

    def restore_uncut(self) -> None:
        piece = self.active_piece()
        if piece is None or piece.cutout is None:
            self.window.show_hint("Select a collage piece that was cut out to restore it uncut.")
            return
        self.window.document.set_cutout(piece.id, None)

    def cutout_pen(self, keep: bool) -> None:
        """The pen, in the colour the cut-out reads as keep (green) or remove (blue)."""
        self.window.options.set(mark_color=KEEP_PEN if keep else REMOVE_PEN)
        self.window.set_tool("pen")
        what = "what belongs to the subject" if keep else "what should be cut away"
        self.window.show_hint(f"Draw over {what}, then Layer › Cut out subject. "
                              "The strokes are used up by the cut.")

    def insert_index(self) -> int:
        """Where a new piece goes: just above the active layer (on top without one)."""
        active = self.window.bridge.active_layer()
        doc = self.window.document
        if active is None:
            return len(doc.layers)
        return doc.index_of(active.id) + 1

    def add_pieces(self, images: list[tuple[np.ndarray, str]], centre: QPointF) -> list[PieceLayer]:
        """Add images as collage pieces centred at canvas ``centre`` (cascaded), one undo step."""
        if not images:
            return []
        doc = self.window.document
        index = self.insert_index()
        pieces = []
        for i, (pixels, name) in enumerate(images):
            cx, cy = centre.x() + i * CASCADE, centre.y() + i * CASCADE
            pieces.append(PieceLayer(pixels, Transform(cx=cx, cy=cy), name))
        if len(pieces) == 1:
            doc.add_layer(pieces[0], index)
        else:
            doc.execute(C.Macro([C.AddLayer(p, index + i) for i, p in enumerate(pieces)],
                                f"Add {len(pieces)} pieces"))
            self.window.bridge.set_active(pieces[-1].id)
        return pieces

    def piece_from_selection(self) -> None:
        """The active layer inside the selection (all of it without one) as a new collage piece
        in the same place: the picture looks the same until the piece is moved."""
        window = self.window
        active = window.bridge.active_layer()
        if active is None:
            window.show_hint("Pick the layer to take the piece from in the Layers panel.")
            return
        pixels, rect = window.document.copy_pixels(active.id)  # CanvasError: said by the action's guard
        name = f"Piece of {active.name}"
        piece = PieceLayer(pixels, Transform(cx=rect.x + rect.w / 2, cy=rect.y + rect.h / 2), name)
        window.document.add_layer(piece, self.insert_index())
        window.set_tool("move")
        window.show_hint(f"“{name}”: drag it to move it, its corners and edges to scale it.")
