"""Collage pieces from files and the clipboard, and File › Close: File › Place… puts an image in the
middle of the canvas, a picture bigger than the canvas is scaled to fit (its pixels kept), new
pieces go above the picture and its results whichever layer is selected, and Close asks to save and
starts again on the blank canvas."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from canvas.geometry import Rect
from canvas.layers import PieceLayer, PixelLayer
from desktop.qimage import rgba_to_qimage
from tests.desktop.conftest import photo


def _png(path, rgba):
    Image.fromarray(rgba, "RGBA").save(path)
    return str(path)


def _file_menu(window):
    return next(a.menu() for a in window.menuBar().actions() if a.menu() and a.menu().title() == "&File")


def _with_a_result(window) -> PixelLayer:
    """The picture, an edit result over it and the marks on top; the Background selected."""
    doc = window.document
    result = PixelLayer(photo(doc.width, doc.height), 0, 0, "Edit result", provenance={"backend": "classical"})
    doc.add_layer(result, 1)  # above the Background, under the marks
    bg = doc.layers[0]
    window.bridge.set_active(bg.id)
    return result


def test_place_is_in_the_file_menu_with_its_shortcut(window):
    menu = _file_menu(window)
    assert window.place_action in menu.actions() and window.close_action in menu.actions()
    assert window.place_action.shortcut().toString() == "Ctrl+Shift+P"
    assert window.close_action.shortcut().toString() == "Ctrl+W"
    # no other action of the window answers to the same keys
    mine = (window.place_action, window.close_action)
    keys = [s.toString() for a in window.findChildren(type(window.place_action)) if a not in mine
            for s in a.shortcuts()]
    assert "Ctrl+Shift+P" not in keys and "Ctrl+W" not in keys


def test_place_puts_an_image_in_the_middle_of_the_canvas_in_one_undo_step(window, tmp_path):
    img = photo(200, 100)
    path = _png(tmp_path / "bus.png", img)
    asked = []
    window.files.ask_open_path = lambda title, filter: asked.append(filter) or path
    doc = window.document
    before = [la.id for la in doc.layers]
    window.place_action.trigger()
    assert "*.png" in asked[0]  # the dialog offers images
    piece = window.bridge.active_layer()
    assert isinstance(piece, PieceLayer) and piece.name == "bus"
    assert (piece.transform.cx, piece.transform.cy) == pytest.approx((doc.width / 2, doc.height / 2))
    assert piece.transform.sx == piece.transform.sy == 1
    assert np.array_equal(piece.original, img)
    assert piece.bounds() == Rect(412, 334, 200, 100)
    assert window.view.tool.name == "move"
    doc.undo()
    assert [la.id for la in doc.layers] == before


def test_a_placed_image_bigger_than_the_canvas_is_scaled_to_fit_keeping_its_pixels(window, tmp_path):
    doc = window.document  # 1024 × 768
    img = photo(3000, 1000)
    window.files.ask_open_path = lambda *_a: _png(tmp_path / "wide.png", img)
    window.place_action.trigger()
    piece = window.bridge.active_layer()
    assert np.array_equal(piece.original, img)  # the piece keeps every pixel: only its transform scales
    assert piece.transform.sx == pytest.approx(1024 / 3000) and piece.transform.sy == piece.transform.sx
    assert Rect(0, 0, doc.width, doc.height).contains(piece.bounds())
    assert piece.bounds().w >= doc.width - 1  # as big as fits, not smaller
    assert "scaled to 34% to fit the canvas" in window.statusBar().currentMessage()


def test_a_damaged_file_is_said_and_nothing_changes(window, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot a picture at all")
    window.files.ask_open_path = lambda *_a: str(bad)
    errors = []
    window.notifier.error = errors.append
    doc = window.document
    layers, label = [la.id for la in doc.layers], doc.history.undo_label
    window.place_action.trigger()
    assert len(errors) == 1 and errors[0].startswith("Could not place the image:") and "broken.png" in errors[0]
    assert [la.id for la in doc.layers] == layers and doc.history.undo_label == label
    assert not window.is_modified()


def test_a_pasted_picture_bigger_than_the_canvas_is_scaled_to_fit(window):
    doc = window.document
    img = photo(2048, 1536)  # twice the canvas each way
    QApplication.clipboard().setImage(rgba_to_qimage(img, premultiply=False))
    window.paste_action.trigger()
    piece = window.bridge.active_layer()
    assert isinstance(piece, PieceLayer)
    assert piece.original.shape == img.shape  # the original is kept whole
    assert piece.transform.sx == piece.transform.sy == pytest.approx(0.5)
    b = piece.bounds()
    assert b.w <= doc.width + 1 and b.h <= doc.height + 1


def test_a_picture_that_fits_is_pasted_at_its_own_size(window):
    QApplication.clipboard().setImage(rgba_to_qimage(photo(300, 200), premultiply=False))
    window.paste_action.trigger()
    piece = window.bridge.active_layer()
    assert piece.transform.sx == piece.transform.sy == 1


def test_a_piece_pasted_with_the_background_selected_goes_above_the_results(window):
    doc = window.document
    result = _with_a_result(window)
    QApplication.clipboard().setImage(rgba_to_qimage(photo(120, 80), premultiply=False))
    window.paste_action.trigger()
    names = [la.name for la in doc.layers]
    assert names == ["Background", "Edit result", "Pasted", "Marks"]  # seen over the result, under the marks
    assert doc.index_of(window.bridge.active_id) == doc.index_of(result.id) + 1


def test_a_piece_placed_with_the_marks_selected_stays_under_the_marks(window, tmp_path):
    doc = window.document
    _with_a_result(window)
    window.bridge.set_active(doc.layers[-1].id)  # the marks layer, on top
    window.files.ask_open_path = lambda *_a: _png(tmp_path / "cat.png", photo(50, 50))
    window.place_action.trigger()
    assert [la.name for la in doc.layers] == ["Background", "Edit result", "cat", "Marks"]


def test_close_keeps_the_document_when_the_user_cancels(window):
    doc = window.document
    window.select_all_action.trigger()  # a change
    window.files.ask_unsaved = lambda: "cancel"
    window.close_action.trigger()
    assert window.document is doc and window.is_modified()


def test_close_with_ctrl_w_discards_and_starts_on_the_blank_canvas(window, tmp_path):
    window.files.ask_open_path = lambda *_a: _png(tmp_path / "cat.png", photo(50, 50))
    window.place_action.trigger()
    asked = []
    window.files.ask_unsaved = lambda: asked.append(1) or "discard"
    old = window.document
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert asked == [1]  # it asked first
    doc = window.document
    assert doc is not old and doc.size == (1024, 768)
    assert [(la.name, la.kind) for la in doc.layers] == [("Background", "pixel"), ("Marks", "annotation")]
    assert not window.is_modified() and not doc.history.can_undo
    assert window.windowTitle() == "Untitled[*] — Akapen" and window.files.path is None
    assert "Drop a photo here" in window.view.welcome  # as at start


def test_close_saves_first_when_asked(window, tmp_path):
    window.select_all_action.trigger()
    target = tmp_path / "kept.ora"
    window.files.ask_unsaved = lambda: "save"
    window.files.ask_save_path = lambda *_a: str(target)
    window.close_action.trigger()
    assert target.exists() and window.files.path is None and not window.is_modified()


def test_an_unchanged_document_closes_without_a_question(window):
    window.files.ask_unsaved = lambda: pytest.fail("nothing to save: no question")
    old = window.document
    window.close_action.trigger()
    assert window.document is not old


def test_cut_out_subject_is_greyed_on_a_plain_layer_and_on_marks_without_strokes(window):
    doc = window.document
    window.bridge.set_active(doc.layers[0].id)  # the Background
    assert not window.cut_out_action.isEnabled()
    window.bridge.set_active(doc.layers[-1].id)  # the marks, with no keep/remove strokes
    assert not window.cut_out_action.isEnabled()
    QApplication.clipboard().setImage(rgba_to_qimage(photo(60, 60), premultiply=False))
    window.paste_action.trigger()  # a piece, and it is the active layer
    assert window.cut_out_action.isEnabled()
    layer_menu = next(a.menu() for a in window.menuBar().actions() if a.menu() and a.menu().title() == "&Layer")
    assert layer_menu.toolTipsVisible()  # a greyed entry says why when pointed at


def test_the_piece_toolbar_buttons_follow_their_actions(window):
    QApplication.clipboard().setImage(rgba_to_qimage(photo(60, 60), premultiply=False))
    window.paste_action.trigger()  # the move tool: the piece buttons are shown in the options bar
    assert window.view.tool.name == "move"
    buttons = {b.defaultAction(): b for b in window.options_toolbar.piece_buttons}
    assert buttons[window.cut_out_action].isEnabled()
    assert not buttons[window.uncut_action].isEnabled()  # nothing was cut out: nothing to restore
    window.bridge.set_active(window.document.layers[0].id)  # the Background: Cut out subject greyed too
    window.set_tool("move")
    assert not buttons[window.cut_out_action].isEnabled() and not buttons[window.uncut_action].isEnabled()


def test_closing_drops_the_edit_panels_offer_to_cut_out_the_old_pieces(window, tmp_path):
    panel = window.edit_panel
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("refine-collage"))
    window.files.ask_open_path = lambda *_a: _png(tmp_path / "cat.png", photo(50, 50))
    window.place_action.trigger()  # an opaque rectangle: Refine collage offers to cut it out first
    assert panel.cutout_hint.isVisibleTo(panel) and "cat" in panel.cutout_hint.label.text()
    window.close_action.trigger()
    assert not panel.cutout_hint.isVisibleTo(panel)
