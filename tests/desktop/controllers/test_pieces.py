"""Collage pieces made in the window: the selected part of a layer becomes a piece in place."""

from __future__ import annotations

import numpy as np

from canvas.geometry import Rect
from canvas.layers import PieceLayer
from tests.desktop.conftest import photo


def test_a_selected_part_becomes_a_piece_in_place_ready_to_move(window):
    doc = window.document
    bg = next(lyr for lyr in doc.layers if lyr.kind == "pixel")
    doc.set_layer_pixels(bg.id, photo(doc.width, doc.height))  # gradients: a misplaced piece would show
    window.bridge.set_active(bg.id)
    before = doc.render()
    yy, xx = np.mgrid[0 : doc.height, 0 : doc.width]
    doc.set_selection(np.where(((xx - 200) / 50) ** 2 + ((yy - 150) / 30) ** 2 <= 1, 255, 0).astype(np.uint8))
    window.piece_from_selection_action.trigger()
    piece = window.bridge.active_layer()
    assert isinstance(piece, PieceLayer) and piece.name == f"Piece of {bg.name}"
    assert piece.bounds() == Rect(150, 120, 101, 61)
    assert np.array_equal(doc.render(), before)  # the same pixels on top of themselves
    assert piece.original[30, 50, 3] == 255 and piece.original[0, 0, 3] == 0  # cut along the ellipse
    assert np.array_equal(piece.original[30, 50], before[150, 200])
    assert window.view.tool.name == "move" and doc.history.undo_label.startswith("Add")
    window.undo_action.trigger()
    assert piece.id not in [lyr.id for lyr in doc.layers]
