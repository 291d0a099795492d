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


def _pasted_logo(window):
    from tests.canvas import cutout_cases

    case = cutout_cases.simple()[0]  # the logo flattened onto white: an opaque rectangle
    doc = window.document
    small = case.piece[::2, ::2].copy()  # 325 px: the window's document is small
    piece = PieceLayer.at(small, 20, 20, name="logo")
    doc.add_layer(piece)
    window.bridge.set_active(piece.id)
    return piece, case.truth[::2, ::2]


def _cut(qtbot, window, trigger) -> None:
    """Start a cut-out (it runs on a thread) and wait until it is applied."""
    trigger()
    qtbot.waitUntil(lambda: not window.pieces.cutting, timeout=30000)


def test_cut_out_subject_from_the_layer_menu_and_the_layers_panel(qtbot, window):
    from canvas.cutout import iou

    piece, truth = _pasted_logo(window)
    panel = window.layers_panel
    assert panel.cutout_button.isVisibleTo(panel) and panel.cutout_button.text() == "Cut out subject"
    assert not window.uncut_action.isEnabled()  # nothing to restore yet
    panel.cutout_button.click()
    assert window.pieces.cutting and "Cutting out “logo”" in window.statusBar().currentMessage()
    assert piece.cutout is None  # not yet: the window goes on while it is computed
    qtbot.waitUntil(lambda: not window.pieces.cutting, timeout=30000)
    assert piece.cutout is not None and iou(piece.cutout, truth) >= 0.9
    assert window.document.history.undo_label == "Cut out logo"
    assert window.uncut_action.isEnabled()
    assert "keep (green) or remove (blue) pen" in window.statusBar().currentMessage()
    window.uncut_action.trigger()
    assert piece.cutout is None and not window.uncut_action.isEnabled()
    window.undo_action.trigger()
    assert piece.cutout is not None
    window.bridge.set_active(window.document.layers[0].id)  # a pixel layer: no piece buttons
    assert not panel.cutout_button.isVisibleTo(panel)
    # on a plain layer Cut out subject is greyed, and says why
    assert not window.cut_out_action.isEnabled()
    assert "works on a collage piece" in window.cut_out_action.statusTip()
    assert "works on a collage piece" in window.cut_out_action.toolTip()
    window.bridge.set_active(piece.id)
    assert window.cut_out_action.isEnabled() and "Cut the active piece" in window.cut_out_action.toolTip()


def test_the_keep_and_remove_pens_are_the_pen_in_green_and_blue(window):
    from canvas.cutout import is_keep_colour, is_remove_colour

    window.keep_pen_action.trigger()
    assert window.view.tool.name == "pen" and is_keep_colour(window.options.mark_color)
    window.remove_pen_action.trigger()
    assert window.view.tool.name == "pen" and is_remove_colour(window.options.mark_color)


def test_refine_collage_offers_to_cut_out_an_opaque_rectangle(qtbot, window):
    panel = window.edit_panel
    hint = panel.cutout_hint
    piece, _ = _pasted_logo(window)
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("remove"))
    assert not hint.isVisibleTo(panel)  # not while the task is another one
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("refine-collage"))
    assert hint.isVisibleTo(panel) and "“logo” is a rectangle" in hint.label.text()
    _cut(qtbot, window, hint.button.click)
    assert piece.cutout is not None and not hint.isVisibleTo(panel)
    window.undo_action.trigger()  # back to the rectangle: the offer is back
    assert hint.isVisibleTo(panel)


def test_cutting_again_after_drawing_with_the_remove_pen_finds_the_piece(qtbot, window):
    from canvas.marks import Stroke
    from tests.desktop.conftest import drag

    piece, truth = _pasted_logo(window)
    _cut(qtbot, window, window.cut_out_action.trigger)
    first = piece.cutout.copy()
    window.remove_pen_action.trigger()
    lg = piece.original
    orange = (lg[..., 0] > 200) & (lg[..., 1] > 100) & (lg[..., 1] < 180) & (lg[..., 2] < 100)
    ys, xs = np.nonzero(orange)
    i = len(xs) // 2
    x, y = float(xs[i] + 20), float(ys[i] + 20)  # the piece sits at (20, 20)
    drag(window.view, [(x - 4, y), (x, y + 3), (x + 4, y)])  # a real stroke with the mouse
    marks = window.bridge.active_layer()
    assert marks.kind == "annotation" and isinstance(marks.marks[-1], Stroke)
    _cut(qtbot, window, window.cut_out_action.trigger)  # the marks layer is active: the piece under the strokes
    assert "following 1 stroke" in window.statusBar().currentMessage()
    assert not np.array_equal(piece.cutout, first) and not marks.marks


def test_a_piece_deleted_while_it_is_cut_out_is_said_and_nothing_else_changes(qtbot, window):
    piece, _ = _pasted_logo(window)
    doc = window.document
    errors = []
    window.notifier.error = errors.append
    window.cut_out_action.trigger()
    doc.remove_layer(piece.id)  # while the matte is computed
    qtbot.waitUntil(lambda: not window.pieces.cutting, timeout=30000)
    assert errors == ["Could not cut out “logo”: “logo” was deleted while it was being cut out"]
    assert doc.history.undo_label.startswith("Delete")  # no cut-out step was added
    doc.undo()
    assert doc.layers[-1].cutout is None


def test_a_cut_out_can_be_cancelled_and_nothing_changes(qtbot, window):
    piece, _ = _pasted_logo(window)
    doc = window.document
    label = doc.history.undo_label
    assert not window.cancel_cut_action.isEnabled()  # nothing to cancel
    window.cut_out_action.trigger()
    button = window.pieces._cancel_button
    assert window.cancel_cut_action.isEnabled() and button is not None and button.isVisibleTo(window.statusBar())
    button.click()  # before the matte is applied (that happens on the GUI thread, after this)
    assert window.statusBar().currentMessage() == "Cancelling the cut-out…"
    qtbot.waitUntil(lambda: not window.pieces.cutting, timeout=30000)
    assert piece.cutout is None and doc.history.undo_label == label
    assert window.statusBar().currentMessage() == "Cut-out cancelled; nothing was changed."
    assert not window.cancel_cut_action.isEnabled() and window.pieces._cancel_button is None
    _cut(qtbot, window, window.cut_out_action.trigger)  # a cut afterwards is not cancelled
    assert piece.cutout is not None


def test_grabcut_stops_between_its_iterations_when_cancelled():
    import pytest

    from canvas.cutout import ITERATIONS, CutoutCancelled, cut_out
    from tests.canvas import cutout_cases

    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2  # after two iterations

    with pytest.raises(CutoutCancelled):
        cut_out(cutout_cases.simple()[0].piece[::2, ::2].copy(), cancelled=cancelled)
    assert len(asked) == 3 < ITERATIONS + 1
