import numpy as np
import pytest

from canvas.brush import Brush, dab, stroke_points
from canvas.document import Document
from canvas.errors import CanvasError, LayerLockedError
from canvas.geometry import Rect
from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Transform
from canvas.marks import Arrow, Ellipse, Mark, Rectangle, Stroke, TextLabel
from tests.canvas.helpers import random_rgba, reference_composite, sample_document


def test_every_operation_undoes_to_the_first_pixels_and_redoes():
    doc = sample_document()
    first = doc.render(roles=("content", "annotation"))
    bg, paint, piece, _, marks = doc.layers
    doc.set_layer_props(paint.id, opacity=0.3, blend="screen")
    doc.move_layer(piece.id, 0)
    doc.set_transform(piece.id, Transform(cx=100, cy=100, sx=0.5, sy=0.5, rotation=45, flip_h=True))
    doc.add_mark(marks.id, Rectangle(p0=(5.0, 5.0), p1=(60.0, 40.0)))
    doc.remove_mark(marks.id, marks.marks[0].id)
    layer = doc.new_pixel_layer("ink")
    stroke = object()
    for x in range(20, 200, 7):
        dab(doc, layer.id, x, 50 + x / 3, Brush(size=16, color=(0, 0, 255)), stroke)
    doc.duplicate_layer(paint.id)
    doc.merge_down(layer.id)
    doc.set_selection(np.pad(np.full((50, 50), 255, np.uint8), ((10, 140), (10, 240))))
    doc.add_reference(random_rgba(np.random.default_rng(0), 16, 16), "ref")
    doc.remove_layer(bg.id)
    changed = doc.render(roles=("content", "annotation"))
    assert not np.array_equal(changed, first)
    steps = doc.history.index
    while doc.undo():
        pass
    assert np.array_equal(doc.render(roles=("content", "annotation")), first)
    assert doc.selection is None and doc.references == []
    assert not doc.modified
    for _ in range(steps):
        assert doc.redo()
    assert np.array_equal(doc.render(roles=("content", "annotation")), changed)


def test_brush_stroke_is_one_undo_step_and_stores_only_touched_tiles():
    doc = Document(2048, 2048)
    layer = doc.new_pixel_layer()
    doc.history.clear()
    stroke = object()
    b = Brush(size=20, color=(255, 0, 0))
    pts, _ = stroke_points(10, 10, 2000, 2000, b)
    for x, y in pts:
        dab(doc, layer.id, x, y, b, stroke)
    assert doc.history.index == 1
    assert doc.history.undo_label == "Brush stroke"
    # a diagonal stroke touches ~2 tiles per row of tiles, not the whole 2048² bounding box
    assert doc.history.nbytes() < 2 * 2048 * 2048 * 4 / 4
    assert layer.pixels[1000, 1000, 3] == 255
    doc.undo()
    assert layer.pixels[..., 3].max() == 0
    doc.redo()
    assert layer.pixels[1000, 1000, 3] == 255


def test_separate_strokes_are_separate_steps():
    doc = Document(100, 100)
    layer = doc.new_pixel_layer()
    s1, s2 = object(), object()
    dab(doc, layer.id, 20, 20, Brush(), s1)
    dab(doc, layer.id, 25, 20, Brush(), s1)
    dab(doc, layer.id, 60, 60, Brush(), s2)
    assert doc.history.labels()[0] == ["Add Layer", "Brush stroke", "Brush stroke"]


def test_eraser_clears_alpha():
    doc = Document(64, 64)
    layer = doc.add_layer(PixelLayer(np.full((64, 64, 4), 255, np.uint8)))
    dab(doc, layer.id, 32, 32, Brush(size=10, hardness=1.0, erase=True), object())
    assert layer.pixels[32, 32, 3] == 0 and layer.pixels[0, 0, 3] == 255


def test_undo_memory_bound_drops_oldest_keeps_current_state():
    doc = Document(256, 256, undo_bytes=600_000)
    layer = doc.new_pixel_layer()
    for i in range(10):
        doc.paint(layer.id, Rect(0, 0, 256, 256), np.full((256, 256, 4), i * 20, np.uint8))
    assert doc.history.nbytes() <= 600_000 or doc.history.index == 1
    assert doc.history.dropped > 0
    assert layer.pixels[0, 0, 0] == 180  # the current state is untouched
    n = 0
    while doc.undo():
        n += 1
    assert n < 11
    assert layer.pixels[0, 0, 0] == 180 - 20 * n


def test_modified_mark_follows_history():
    doc = sample_document()
    assert not doc.modified
    lyr = doc.new_pixel_layer()
    assert doc.modified
    doc.undo()
    assert not doc.modified
    doc.redo()
    doc.mark_clean()
    assert not doc.modified
    doc.undo()
    assert doc.modified
    doc.set_layer_props(doc.layers[0].id, name="x")  # new branch: the clean state is unreachable
    assert doc.modified
    assert lyr.id not in [x.id for x in doc.layers]


def test_opacity_drag_merges_into_one_step():
    doc = sample_document()
    lid = doc.layers[1].id
    for v in np.linspace(0.1, 0.9, 20):
        doc.set_layer_props(lid, opacity=float(v))
    assert doc.history.index == 1
    doc.undo()
    assert doc.layers[1].opacity == pytest.approx(0.8)


def test_locked_layer_refuses_changes():
    doc = sample_document()
    bg = doc.layers[0]
    doc.set_layer_props(bg.id, locked=True)
    with pytest.raises(LayerLockedError, match="locked"):
        doc.paint(bg.id, Rect(0, 0, 4, 4), np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(CanvasError):
        doc.set_transform(bg.id, Transform())  # wrong kind


def test_invalid_properties_are_refused():
    doc = sample_document()
    lid = doc.layers[0].id
    for bad in ({"opacity": 1.5}, {"blend": "glow"}, {"role": "mask"}):
        with pytest.raises(ValueError):
            doc.set_layer_props(lid, **bad)
    assert doc.history.index == 0


def test_events_named_before_and_after():
    doc = Document(10, 10)
    seen = []
    disconnect = doc.events.connect(lambda ev: seen.append(ev.kind))
    lyr = doc.new_pixel_layer()
    doc.set_layer_props(lyr.id, visible=False)
    doc.undo()
    assert seen[:4] == ["inserting", "inserted", "history", "changed"]
    disconnect()
    doc.redo()
    assert seen.count("changed") == 2  # the undo emitted one; nothing after disconnect


def test_pieces_rerender_from_original_so_repeated_transforms_never_blur():
    rng = np.random.default_rng(5)
    original = random_rgba(rng, 33, 47, opaque=True)
    doc = Document(200, 200)
    piece = doc.add_layer(PieceLayer.at(original, 40, 50))
    first = doc.render()
    gesture = object()
    tf = piece.transform
    for i in range(36):
        tf = Transform(cx=tf.cx + 1, cy=tf.cy, sx=0.3 + i / 40, sy=0.5, rotation=10 * (i + 1), flip_v=bool(i % 2))
        doc.set_transform(piece.id, tf, gesture)
    assert doc.history.index == 2  # the add, and one gesture
    doc.set_transform(piece.id, Transform(cx=40 + 47 / 2, cy=50 + 33 / 2))
    assert np.array_equal(doc.render(), first)
    assert np.array_equal(piece.original, original)


def test_piece_render_has_no_dark_fringe():
    # a white piece with a soft alpha edge, rotated, over white stays white
    px = np.zeros((40, 40, 4), np.uint8)
    px[..., :3] = 255
    px[5:35, 5:35, 3] = 255
    doc = Document(100, 100)
    doc.add_layer(PixelLayer(np.full((100, 100, 4), 255, np.uint8)))
    doc.add_layer(PieceLayer(px, Transform(cx=50, cy=50, rotation=33, sx=1.7, sy=1.7)))
    assert doc.render()[..., :3].min() >= 254


def test_piece_flip_mirrors_pixels():
    px = np.zeros((2, 3, 4), np.uint8)
    px[..., 3] = 255
    px[0, 0, 0] = 255
    doc = Document(3, 2)
    p = doc.add_layer(PieceLayer.at(px, 0, 0))
    doc.set_transform(p.id, Transform(cx=1.5, cy=1.0, flip_h=True))
    out = doc.render()
    assert out[0, 2, 0] == 255 and out[0, 0, 0] == 0


def test_marks_serialise_exactly():
    marks = [
        Stroke(points_=((1.5, 2.0), (3.0, 4.25))),
        Arrow(start=(0.0, 0.0), end=(10.0, 5.0), color=(0, 0, 255, 200), width=3.0),
        Ellipse(p0=(5.0, 5.0), p1=(1.0, 9.0)),
        Rectangle(p0=(0.0, 0.0), p1=(4.0, 4.0)),
        TextLabel(pos=(3.0, 3.0), text="bus here\nplease", size=18.0),
    ]
    for m in marks:
        assert Mark.from_dict(m.to_dict()) == m
    with pytest.raises(ValueError):
        Mark.from_dict({"kind": "blob"})
    with pytest.raises(ValueError):
        Mark.from_dict({"kind": "arrow", "color": [300, 0, 0]})


def test_annotation_rendering_is_antialiased_and_where_drawn():
    doc = Document(200, 120)
    layer = doc.add_layer(AnnotationLayer([Arrow(start=(20.0, 60.0), end=(180.0, 60.0), width=6.0)]))
    ov = doc.render_annotations()
    alpha = ov[..., 3]
    assert alpha[60, 100] == 255 and alpha[40, 100] == 0
    assert ((alpha > 0) & (alpha < 255)).sum() > 50  # soft edges exist
    assert (ov[alpha == 255][:, :3] == (230, 30, 30)).all()
    assert alpha[:, 160:170].sum() > 2 * alpha[:, 100:110].sum()  # the head is wider than the shaft
    assert layer.role == "annotation"


def test_merge_down_and_flatten_match_composite():
    doc = sample_document()
    before = doc.render()
    top_content = doc.layers[3]
    merged = doc.merge_down(top_content.id)
    assert merged.kind == "pixel"
    assert np.abs(doc.render().astype(int) - before.astype(int)).max() <= 2
    flat = doc.flatten()
    assert [lyr.role for lyr in doc.layers] == ["content", "annotation"]
    assert np.array_equal(flat.pixels, doc.render())
    doc.undo()
    doc.undo()
    assert np.array_equal(doc.render(), before)
    with pytest.raises(CanvasError, match="below"):
        doc.merge_down(doc.layers[0].id)


def test_selection_mask_and_copy():
    doc = sample_document()
    assert doc.selection_mask().min() == 255
    m = np.zeros((doc.height, doc.width), np.uint8)
    m[5:10, 5:10] = 255
    doc.set_selection(m)
    assert doc.selection_mask().sum() == 25 * 255
    with pytest.raises(ValueError):
        doc.set_selection(np.zeros((3, 3), np.uint8))
    dup = doc.copy()
    assert dup.content_equal(doc)
    doc.paint(doc.layers[0].id, Rect(0, 0, 2, 2), np.zeros((2, 2, 4), np.uint8))
    assert not dup.content_equal(doc)
    assert np.array_equal(dup.render(), reference_composite(dup))


def test_dabs_of_one_event_equal_painting_them_one_by_one():
    from canvas.brush import dabs

    pts = [(10.0 + 3.3 * i, 20.0 + 1.7 * i) for i in range(12)]
    b = Brush(size=14, hardness=0.4, opacity=0.6, color=(20, 120, 220))
    one, many = Document(80, 60), Document(80, 60)
    l1, l2 = one.new_pixel_layer(), many.new_pixel_layer()
    s1, s2 = object(), object()
    for x, y in pts:
        dab(one, l1.id, x, y, b, s1, pressure=0.8)
    dabs(many, l2.id, pts, b, s2, pressure=0.8)
    assert np.array_equal(l1.pixels, l2.pixels)
    assert many.history.labels()[0] == ["Add Layer", "Brush stroke"]
    mask = np.zeros((60, 80), np.uint8)
    mask[:, :30] = 255  # a selection: the dabs stay inside it
    assert l2.pixels[10, 70, 3] == 0 and l2.pixels[52, 20, 3] == 0  # untouched so far
    dabs(many, l2.id, [(70.0, 10.0), (20.0, 52.0)], Brush(size=10), object(), mask=mask)
    assert l2.pixels[10, 70, 3] == 0 and l2.pixels[52, 20, 3] == 255


def test_canvas_size_moves_everything_and_loses_nothing():
    doc = sample_document(np.random.default_rng(5))
    w, h = doc.size
    before = doc.render()
    marks_before = doc.render_annotations()
    sel = np.zeros((h, w), np.uint8)
    sel[20:60, 30:90] = 255
    doc.set_selection(sel)
    proj = doc.projection()
    # grow by 40 left / 30 top and 10 right / 20 bottom: the old picture sits at (40, 30)
    doc.resize_canvas(w + 50, h + 50, 40, 30)
    assert doc.size == (w + 50, h + 50) and doc.history.undo_label == "Canvas size"
    assert doc.projection() is proj and proj.pixels.shape == (h + 50, w + 50, 4)
    grown = doc.render()
    assert np.array_equal(grown[30 : 30 + h, 40 : 40 + w], before)
    assert (grown[:30, :, 3] == 0).all() and (grown[:, :40, 3] == 0).all()  # new canvas is transparent
    assert np.array_equal(grown, reference_composite(doc))
    assert np.array_equal(doc.render_annotations()[30 : 30 + h, 40 : 40 + w], marks_before)
    assert np.array_equal(doc.selection[30 : 30 + h, 40 : 40 + w], sel)
    # shrink to a window inside: what falls outside stays in the layers
    doc.resize_canvas(100, 80, -60, -50)
    assert np.array_equal(doc.render(), before[20:100, 20:120])
    doc.undo()
    assert np.array_equal(doc.render(), grown)
    doc.undo()
    assert doc.size == (w, h) and np.array_equal(doc.render(), before) and np.array_equal(doc.selection, sel)
    doc.redo()
    assert np.array_equal(doc.render(), grown)
    with pytest.raises(CanvasError):
        doc.resize_canvas(0, 10)


def test_crop_to_selection_keeps_the_selected_box_and_round_trips_through_ora(tmp_path):
    from canvas.ora import load_ora, save_ora

    doc = sample_document(np.random.default_rng(6))
    before = doc.render()
    with pytest.raises(CanvasError, match="needs a selection"):
        doc.crop_to_selection()
    yy, xx = np.mgrid[0 : doc.height, 0 : doc.width]
    doc.set_selection(np.where(((xx - 150) / 60) ** 2 + ((yy - 100) / 40) ** 2 <= 1, 255, 0).astype(np.uint8))
    doc.crop_to_selection()
    assert doc.size == (121, 81) and doc.selection is None  # the ellipse's bounding box
    assert doc.history.undo_label == "Crop to selection"
    assert np.array_equal(doc.render(), before[60:141, 90:211])
    save_ora(doc, tmp_path / "crop.ora")
    back = load_ora(tmp_path / "crop.ora")
    assert back.size == doc.size and np.array_equal(back.render(), doc.render())
    back.resize_canvas(300, 200, 90, 60)  # grows back: nothing was lost
    assert np.array_equal(back.render(), before)
    doc.undo()
    assert np.array_equal(doc.render(), before) and doc.selection is not None


def test_a_canvas_is_never_bigger_than_its_own_file_can_be_read_back():
    from canvas.imageio import MAX_PIXELS

    with pytest.raises(CanvasError, match="million pixels"):
        Document(20000, 20000)  # 400 MP: saved, it could not be opened again
    doc = Document(100, 100)
    with pytest.raises(CanvasError, match="million pixels"):
        doc.resize_canvas(30000, 30000)
    assert doc.size == (100, 100) and not doc.history.can_undo  # nothing happened
    side = int(MAX_PIXELS ** 0.5)
    Document(side, 1).resize_canvas(side, side)  # the limit itself is allowed (no pixels allocated yet)
