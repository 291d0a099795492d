"""Drag and drop, copy and paste: images become collage pieces, a dropped .ora opens."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from canvas.geometry import Rect
from canvas.layers import PieceLayer
from desktop.qimage import rgba_to_qimage
from tests.desktop.conftest import photo


def drop_files(view, paths, canvas_pt):
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    wp = view.to_widget(QPointF(*canvas_pt))
    enter = QDragEnterEvent(wp.toPoint(), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view, enter)
    assert enter.isAccepted()
    ev = QDropEvent(wp, Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view, ev)


def write_png(path, rgba):
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def test_dropped_file_becomes_a_piece_at_the_drop_point(window, tmp_path):
    img = photo(40, 30)
    p = write_png(tmp_path / "bus.png", img)
    drop_files(window.view, [p], (300, 200))
    doc = window.document
    piece = doc.layers[-1] if isinstance(doc.layers[-1], PieceLayer) else next(
        lyr for lyr in doc.layers if isinstance(lyr, PieceLayer))
    assert piece.name == "bus"
    assert (piece.transform.cx, piece.transform.cy) == pytest.approx((300, 200))
    assert np.array_equal(piece.original, img)
    assert window.bridge.active_id == piece.id and window.view.tool.name == "move"


def test_several_dropped_files_are_one_undo_step(window, tmp_path):
    paths = [write_png(tmp_path / f"p{i}.png", photo(20 + i, 20)) for i in range(3)]
    doc = window.document
    n = len(doc.layers)
    drop_files(window.view, paths, (100, 100))
    assert len(doc.layers) == n + 3
    doc.undo()
    assert len(doc.layers) == n


def test_corrupt_dropped_file_shows_an_error_and_changes_nothing(window, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png at all")
    doc = window.document
    before = doc.copy()
    undo_before = doc.history.labels()
    drop_files(window.view, [bad], (100, 100))
    assert doc.content_equal(before)
    assert doc.history.labels() == undo_before
    level, text = window.notifier.history[-1]
    assert level == "error" and "broken.png" in text
    assert window.banner.isVisible() and "broken.png" in window.banner.text()


def test_dropping_an_ora_opens_it(window, tmp_path):
    from canvas.ora import save_ora
    from desktop.controllers.files import default_document

    other = default_document(300, 200)
    path = tmp_path / "other.ora"
    save_ora(other, path)
    drop_files(window.view, [path], (10, 10))
    assert window.document.size == (300, 200)
    assert window.files.path == str(path)


def test_paste_from_the_clipboard_keeps_alpha_and_centres_the_piece(window):
    img = photo(50, 40, alpha=True)
    QApplication.clipboard().setImage(rgba_to_qimage(img, premultiply=False))
    centre = window.view.centre_canvas_point()
    window.paste_action.trigger()
    piece = window.bridge.active_layer()
    assert isinstance(piece, PieceLayer) and piece.name == "Pasted"
    assert (piece.transform.cx, piece.transform.cy) == pytest.approx((centre.x(), centre.y()))
    assert piece.original[20, 25, 3] == 0  # the transparent hole survived
    assert piece.original[2, 2, 3] == 100
    assert np.array_equal(piece.original[30:, :, :], img[30:, :, :])


def clipboard_pixels() -> np.ndarray:
    from canvas.imageio import load_image
    from desktop.qimage import qimage_to_png_bytes

    return load_image(qimage_to_png_bytes(QApplication.clipboard().image()))


def test_copy_the_layer_or_the_picture_inside_the_selection_and_paste_it_back_in_place(window):
    doc = window.document
    piece = doc.add_layer(PieceLayer.at(photo(60, 40), 100, 80, "Piece"))
    sel = np.zeros((doc.height, doc.width), np.uint8)
    sel[90:110, 120:200] = 255  # half on the piece, half beside it
    doc.set_selection(sel)
    try:
        window.bridge.set_active(piece.id)
        window.copy_action.trigger()
        got = clipboard_pixels()
        assert got.shape == (20, 80, 4)
        assert np.array_equal(got[:, :40], piece.read_padded(Rect(120, 90, 40, 20)))  # the piece's pixels
        assert (got[:, 40:] == 0).all()  # beside the piece: transparent
        assert "Copied 80×20 px" in window.statusBar().currentMessage()
        window.copy_merged_action.trigger()
        merged = clipboard_pixels()
        assert np.array_equal(merged, doc.render(Rect(120, 90, 80, 20)))
        # pasted back where it was copied from, pixel for pixel
        before = doc.render()
        window.paste_action.trigger()
        pasted = window.bridge.active_layer()
        assert isinstance(pasted, PieceLayer) and pasted.bounds() == Rect(120, 90, 80, 20)
        assert np.array_equal(doc.render(), before)  # the same pixels on top of themselves
        # an elliptic selection: outside it, nothing is copied
        yy, xx = np.mgrid[0 : doc.height, 0 : doc.width]
        doc.set_selection(np.where(((xx - 130) / 20) ** 2 + ((yy - 100) / 10) ** 2 <= 1, 255, 0).astype(np.uint8))
        window.copy_merged_action.trigger()
        oval = clipboard_pixels()
        assert oval.shape[:2] == (21, 41) and oval[0, 0, 3] == 0 and oval[10, 20, 3] == 255
        # nothing there: said, and the clipboard keeps what it had
        empty = doc.new_pixel_layer("Empty")
        window.bridge.set_active(empty.id)
        window.copy_action.trigger()
        assert any("nothing to copy" in text for _lvl, text in window.notifier.history)
        assert np.array_equal(clipboard_pixels(), oval)
    finally:
        QApplication.clipboard().clear()


def test_a_copy_from_elsewhere_is_pasted_in_the_middle_of_the_view(window):
    doc = window.document
    window.copy_merged_action.trigger()  # the whole canvas, no selection
    assert clipboard_pixels().shape[:2] == (doc.height, doc.width)
    other = photo(30, 20)
    QApplication.clipboard().setImage(rgba_to_qimage(other, premultiply=False))
    centre = window.view.centre_canvas_point()
    window.paste_action.trigger()
    piece = window.bridge.active_layer()
    assert (piece.transform.cx, piece.transform.cy) == pytest.approx((centre.x(), centre.y()))
    QApplication.clipboard().clear()


def test_paste_png_bytes_from_another_app(window):
    from canvas.imageio import encode_png

    img = photo(16, 16, alpha=True)
    md = QMimeData()
    md.setData("image/png", encode_png(img))
    QApplication.clipboard().setMimeData(md)
    try:
        window.clipboard.paste()
        assert np.array_equal(window.bridge.active_layer().original, img)
    finally:
        QApplication.clipboard().clear()
