"""Cutting a pasted piece's subject out of its own background: the matte against a known answer, the
keep/remove strokes, one undo step that keeps the original pixels, and the cut-out in the .ora."""

import io
import zipfile

import cv2
import numpy as np
import pytest

from canvas.cutout import CutoutError, cut_out, iou, opaque_rectangle, scribbles_for
from canvas.document import Document
from canvas.errors import CanvasError, OraError
from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Transform
from canvas.marks import Ellipse, Stroke
from canvas.ora import load_ora, save_ora
from tests.canvas import cutout_cases

GREEN, BLUE, RED = (20, 200, 40, 255), (30, 60, 230, 255), (230, 30, 30, 255)


@pytest.mark.parametrize("case", cutout_cases.simple(), ids=lambda c: c.name)
def test_the_subject_is_found_on_simple_backgrounds(case):
    matte = cut_out(case.piece)
    assert matte.shape == case.truth.shape and matte.dtype == np.uint8
    assert iou(matte, case.truth) >= 0.9
    edge = (matte > 0) & (matte < 255)
    solid = (matte >= 128).astype(np.uint8)
    outline = solid.sum() - cv2.erode(solid, np.ones((3, 3), np.uint8)).sum()
    assert edge.any() and edge.sum() <= 5 * outline  # a soft edge a few pixels wide, not a blur


def _logo_doc():
    case = cutout_cases.simple()[0]  # the logo on white
    h, w = case.truth.shape
    doc = Document(w + 40, h + 40)
    doc.add_layer(PixelLayer(np.full((h + 40, w + 40, 4), 90, np.uint8), name="scene"))
    doc.add_layer(PieceLayer.at(case.piece, 20, 20, name="logo"))
    return doc, doc.layers[1], case


def test_cut_out_is_one_undo_step_and_the_original_pixels_stay():
    doc, piece, case = _logo_doc()
    original = piece.original.copy()
    assert opaque_rectangle(piece.original)
    assert doc.cut_out(piece.id) == 0
    assert doc.history.undo_label == "Cut out logo"
    assert np.array_equal(piece.original, original)
    shown = piece.raster()[0][..., 3]
    assert iou(shown, case.truth) >= 0.9 and not opaque_rectangle(piece.pixels())
    flat = doc.render()
    assert (flat[30, 30, :3] == 90).all()  # the white around the logo is gone: the scene shows
    saved = piece.cutout
    doc.undo()
    assert piece.cutout is None and (piece.raster()[0][..., 3] == 255).all()
    doc.redo()
    assert np.array_equal(piece.cutout, saved)
    doc.set_cutout(piece.id, None)  # Layer › Restore Uncut Piece
    assert piece.cutout is None and doc.history.undo_label == "Restore uncut logo"
    assert np.array_equal(piece.raster()[0], original)


def test_a_blue_stroke_removes_and_a_green_stroke_keeps_and_the_strokes_are_used_up():
    doc, piece, case = _logo_doc()
    lg = case.piece
    orange = (lg[..., 0] > 200) & (lg[..., 1] > 100) & (lg[..., 1] < 180) & (lg[..., 2] < 100)
    green = (lg[..., 1] > 140) & (lg[..., 0] < 170) & (lg[..., 2] < 90) & (lg[..., 1] > lg[..., 0])
    assert orange.sum() > 20000 and green.sum() > 20000
    inner = cv2.erode(orange.astype(np.uint8), np.ones((31, 31), np.uint8)) > 0  # well inside the orange part
    ys, xs = np.nonzero(inner)
    # blue dabs of the pen on the orange part, in canvas coordinates (the piece sits at 20, 20)
    dabs = [Stroke(color=BLUE, width=12, points_=((float(x + 20), float(y + 20)),))
            for x, y in zip(xs[::1200], ys[::1200], strict=True)]
    assert len(dabs) >= 8
    marks = AnnotationLayer([*dabs, Ellipse(color=RED, p0=(30, 30), p1=(80, 80))], name="Marks")
    doc.add_layer(marks)
    assert doc.cut_out(piece.id) == len(dabs)
    matte = piece.cutout
    assert (matte[orange] >= 128).mean() < 0.2  # the orange part was removed
    assert (matte[green] >= 128).mean() > 0.9  # the green part stays
    assert [m.kind for m in marks.marks] == ["ellipse"]  # the red pen's mark is the model's: untouched
    # now keep the orange part again with a green stroke: the cut starts from the last one and follows it
    for d in dabs[::2]:
        doc.add_mark(marks.id, Stroke(color=GREEN, width=12, points_=d.points_))
    doc.cut_out(piece.id)
    assert (piece.cutout[orange] >= 128).mean() > 0.8
    doc.undo()
    assert np.array_equal(piece.cutout, matte) and len(marks.marks) == 1 + len(dabs[::2])  # strokes back


def test_a_keep_stroke_rescues_a_subject_cut_by_the_edge():
    case = cutout_cases.hard()[-1]  # the cat's face runs off the bottom of the photo
    h, w = case.truth.shape
    plain = iou(cut_out(case.piece), case.truth)
    stroke = Stroke(color=GREEN, width=8, points_=((w * 0.3, h - 3.0), (w * 0.7, h - 3.0)))
    marked = scribbles_for([stroke], np.eye(3), (w, h))
    better = iou(cut_out(case.piece, marked), case.truth)
    assert marked.keep[h - 3, w // 2] and not marked.remove.any()
    assert better > plain and better >= 0.95


def test_strokes_follow_the_pieces_transform():
    tf = Transform(cx=200, cy=150, sx=2.0, sy=2.0, rotation=90, flip_h=True)
    w, h = 60, 40
    to_piece = np.linalg.inv(tf.matrix(w, h))
    target = np.array([45.5, 10.5, 1.0])  # the centre of piece pixel (45, 10)
    cx, cy, _ = tf.matrix(w, h) @ target
    s = scribbles_for([Stroke(color=GREEN, width=2, points_=((cx, cy),))], to_piece, (w, h))
    ys, xs = np.nonzero(s.keep)
    assert abs(xs.mean() - 45) <= 1 and abs(ys.mean() - 10) <= 1


def test_what_cannot_be_cut_out_says_why():
    doc = Document(40, 40)
    doc.add_layer(PieceLayer.at(np.zeros((30, 30, 4), np.uint8), 0, 0, name="empty"))
    doc.add_layer(PieceLayer.at(np.full((5, 30, 4), 255, np.uint8), 0, 0, name="sliver"))
    with pytest.raises(CanvasError, match="transparent"):
        doc.cut_out(doc.layers[0].id)
    with pytest.raises(CanvasError, match="at least 8 pixels"):
        doc.cut_out(doc.layers[1].id)
    with pytest.raises(CanvasError, match="only|not a piece"):
        doc.add_layer(PixelLayer(np.zeros((4, 4, 4), np.uint8), name="px"))
        doc.cut_out(doc.layers[2].id)
    with pytest.raises(CutoutError):
        cut_out(np.full((20, 20, 4), 255, np.uint8),
                scribbles_for([Stroke(color=BLUE, width=60, points_=((0.0, 10.0), (20.0, 10.0)))], np.eye(3), (20, 20)))
    assert len(doc.history.labels()[0]) == 3  # the three layers were added; nothing else happened


def test_the_cut_out_round_trips_through_ora_and_a_bad_one_is_a_clear_error(tmp_path):
    doc, piece, _ = _logo_doc()
    doc.cut_out(piece.id)
    path = tmp_path / "cut.ora"
    save_ora(doc, path)
    back = load_ora(path)
    assert np.array_equal(back.layers[1].cutout, piece.cutout)
    assert np.array_equal(back.layers[1].original, piece.original)
    assert np.array_equal(back.render(), doc.render())
    # a cut-out of the wrong size inside the file
    raw = io.BytesIO()
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(raw, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("-cutout.png"):
                from canvas.imageio import encode_png

                data = encode_png(np.full((10, 10, 4), 255, np.uint8), 1)
            zout.writestr(info, data)
    bad = tmp_path / "bad.ora"
    bad.write_bytes(raw.getvalue())
    with pytest.raises(OraError, match="cut-out of 10×10"):
        load_ora(bad)
