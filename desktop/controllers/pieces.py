"""Collage pieces: added from images (cascaded, one undo step), made from the selected part of
a layer (Ctrl+J), flipped and reset from the Layer menu and the piece options."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF

from canvas import commands as C
from canvas.layers import PieceLayer, Transform

CASCADE = 24  # canvas pixels between pieces dropped or pasted together


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
