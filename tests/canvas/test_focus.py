"""The cached below/above path for one layer's opacity, blend mode and visibility (canvas.focus),
used where the compiled tile pass is off (the tests that look at the cache turn it off).

After every step of random sequences of property changes, layer edits, moves and undo/redo,
the projection must match a from-scratch composite within one level, and the steps that only
change one layer's properties must have gone through the cache (no tile recomposited).
"""

import numpy as np
import pytest

from canvas.blend import BLEND_MODES
from canvas.brush import Brush, dab
from canvas.composite import composite_rect
from canvas.document import Document
from canvas.layers import PieceLayer, PixelLayer, Transform
from canvas.tiles import TILE
from tests.canvas.helpers import random_rgba, reference_composite

W, H = 2 * TILE + 57, 2 * TILE + 23  # partial tiles at the right and bottom


def fresh(doc: Document) -> np.ndarray:
    return composite_rect([lyr for lyr in doc.layers if lyr.visible and lyr.role == "content"], doc.rect)


def assert_close(doc: Document) -> None:
    got, want = doc.render().astype(np.int16), fresh(doc).astype(np.int16)
    diff = np.abs(got - want)
    assert diff.max() <= 1, f"{int((diff > 1).any(-1).sum())} pixels off by up to {diff.max()} levels"


def blobs(rng, h, w, n=6, opaque_bg=False):
    """Soft, partly transparent strokes on transparent (as paint layers hold)."""
    px = np.zeros((h, w, 4), np.uint8)
    for _ in range(n):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        r = int(rng.integers(5, 60))
        yy, xx = np.ogrid[:h, :w]
        m = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        px[m, :3] = rng.integers(0, 256, 3)
        px[m, 3] = rng.integers(40, 256)
    if opaque_bg:
        px[..., 3] = 255
    return px


@pytest.fixture
def numpy_loops(monkeypatch):
    """The numpy / OpenCV paths, where the projection uses the Focus cache."""
    from canvas import kernels

    monkeypatch.setattr(kernels, "ENABLED", False)


def scene(rng, opaque_photo=True) -> Document:
    doc = Document(W, H)
    photo = random_rgba(rng, H, W, opaque=opaque_photo)
    doc.add_layer(PixelLayer(photo, name="photo"))
    doc.add_layer(PixelLayer(blobs(rng, H, W), name="paint", opacity=0.8))
    doc.add_layer(PixelLayer(random_rgba(rng, 130, 150), 150, 150, name="result", blend="screen"))
    doc.add_layer(PieceLayer(random_rgba(rng, 60, 80), Transform(cx=150, cy=120, rotation=20), name="piece"))
    doc.add_layer(PixelLayer(blobs(rng, H, W), name="top paint"))
    doc.history.clear()
    return doc


@pytest.mark.parametrize("opaque_photo", [True, False])
def test_opacity_drag_uses_the_cache_and_matches_a_fresh_composite(opaque_photo, numpy_loops):
    rng = np.random.default_rng(1)
    doc = scene(rng, opaque_photo)
    proj = doc.projection()
    proj.update()
    for name in ("photo", "paint", "result", "piece", "top paint"):
        layer = next(lyr for lyr in doc.layers if lyr.name == name)
        doc.set_layer_props(layer.id, opacity=0.3)  # the first change builds the cache
        proj.update()
        n0 = proj.tiles_composited
        for v in (0.0, 0.55, 1.0, 0.71):
            doc.set_layer_props(layer.id, opacity=v)
            assert_close(doc)
        doc.set_layer_props(layer.id, visible=False)
        assert_close(doc)
        doc.set_layer_props(layer.id, visible=True)
        assert_close(doc)
        assert proj.tiles_composited == n0, f"{name}: property changes recomposited tiles"
        assert proj._focus is not None and proj._focus.layer is layer


def test_every_blend_mode_through_the_cache_matches_the_float_reference(numpy_loops):
    rng = np.random.default_rng(2)
    doc = scene(rng)
    layer = doc.layers[1]  # paint: over the photo, under a screen layer and normal ones
    proj = doc.projection()
    for mode in BLEND_MODES[1:] + BLEND_MODES[:1]:
        doc.set_layer_props(layer.id, blend=mode, opacity=0.65)
        assert_close(doc)
        got, want = doc.render().astype(int), reference_composite(doc).astype(int)
        assert np.abs(got - want).max() <= 2
    assert proj._focus is not None and proj._focus.mode == "normal"


def test_each_way_of_applying_is_exercised(numpy_loops):
    """Dense opaque tiles (int16, a block write), dense translucent tiles (float), sparse opaque
    pixels (int16), sparse translucent pixels (float) and tiles under a non-normal layer
    (recomposited) all occur and match."""
    rng = np.random.default_rng(3)
    doc = scene(rng, opaque_photo=True)
    proj = doc.projection()
    photo, paint = doc.layers[0], doc.layers[1]
    doc.set_layer_props(paint.id, opacity=0.45)  # a single change: recomposited as any change
    assert_close(doc)
    assert proj._focus is None
    doc.set_layer_props(paint.id, opacity=0.4)  # a second one: the cache
    assert_close(doc)
    f = proj._focus
    assert f.layer is paint and len(f.idx_o) > 0 and len(f.idx_g) == 0
    doc.set_layer_props(photo.id, opacity=0.75)
    doc.set_layer_props(photo.id, opacity=0.7)  # nothing under the photo: translucent whole tiles
    assert_close(doc)
    assert len(proj._focus.dense_g) > 0 and len(proj._focus.fallback) > 0  # the screen layer
    cover = doc.add_layer(PixelLayer(blobs(rng, H, W, opaque_bg=True), name="opaque cover"), 1)
    doc.set_layer_props(photo.id, opacity=0.55)
    doc.set_layer_props(photo.id, opacity=0.5)  # under an opaque cover: opaque whole tiles
    assert_close(doc)
    assert len(proj._focus.dense) > 0
    doc.set_layer_props(photo.id, visible=False)
    assert_close(doc)
    doc.set_layer_props(cover.id, blend="screen")
    doc.set_layer_props(cover.id, blend="multiply")  # over the photo: sparse, mode-sensitive
    assert_close(doc)
    doc2 = scene(np.random.default_rng(4), opaque_photo=False)
    doc2.render()
    doc2.set_layer_props(doc2.layers[1].id, opacity=0.45)
    doc2.set_layer_props(doc2.layers[1].id, opacity=0.4)
    assert_close(doc2)
    assert len(doc2.projection()._focus.idx_g) > 0


@pytest.fixture(params=["fused", "numpy"])
def loops(request, monkeypatch):
    """Both ways of computing: the numba loops (when installed) and the numpy / OpenCV paths."""
    from canvas import kernels

    if request.param == "numpy":
        monkeypatch.setattr(kernels, "ENABLED", False)
    elif not kernels.ENABLED:
        pytest.skip("the numba loops are off (numba not installed, or AKAPEN_NO_NUMBA=1)")
    return request.param


def test_random_sequences_of_changes_edits_moves_and_undo(loops):
    for seed in range(6 if loops == "fused" else 3):
        rng = np.random.default_rng(100 + seed)
        doc = scene(rng, opaque_photo=bool(seed % 2))
        doc.render()
        for step in range(40):
            layers = doc.layers
            layer = layers[int(rng.integers(len(layers)))]
            op = rng.choice(["opacity", "opacity", "opacity", "mode", "visible", "paint", "move", "undo", "redo",
                             "transform", "add"])
            if op == "opacity":
                doc.set_layer_props(layer.id, opacity=float(rng.uniform(0, 1)))
            elif op == "mode":
                doc.set_layer_props(layer.id, blend=str(rng.choice(BLEND_MODES)))
            elif op == "visible":
                doc.set_layer_props(layer.id, visible=not layer.visible)
            elif op == "paint" and isinstance(layer, PixelLayer):
                b = layer.bounds()
                dab(doc, layer.id, float(rng.uniform(b.x, b.right)), float(rng.uniform(b.y, b.bottom)),
                    Brush(size=float(rng.uniform(4, 50)), color=tuple(int(c) for c in rng.integers(0, 256, 3)),
                          erase=bool(rng.random() < 0.3)), stroke=object())
            elif op == "move":
                doc.move_layer(layer.id, int(rng.integers(len(layers))))
            elif op == "undo":
                doc.undo()
            elif op == "redo":
                doc.redo()
            elif op == "transform" and isinstance(layer, PieceLayer):
                doc.set_transform(layer.id, Transform(cx=float(rng.uniform(0, W)), cy=float(rng.uniform(0, H)),
                                                      rotation=float(rng.uniform(-90, 90))))
            elif op == "add":
                doc.add_layer(PixelLayer(blobs(rng, 100, 120, n=2), int(rng.integers(-50, W)),
                                         int(rng.integers(-50, H)), name=f"new {step}"))
            if rng.random() < 0.7:  # sometimes several changes before the picture is shown
                assert_close(doc)
        assert_close(doc)
        while doc.undo():
            pass
        assert_close(doc)


def test_a_change_not_yet_shown_survives_a_switch_to_another_layer(loops):
    rng = np.random.default_rng(5)
    doc = scene(rng)
    a, b = doc.layers[1], doc.layers[4]
    doc.set_layer_props(a.id, opacity=0.2)
    doc.render()
    doc.set_layer_props(a.id, opacity=0.9)  # pending, not rendered
    doc.set_layer_props(b.id, opacity=0.1)  # a new focus: a's change must still be shown
    assert_close(doc)
    doc.set_layer_props(a.id, opacity=0.5)
    paint_rect = a.bounds()
    doc.paint(a.id, paint_rect, np.full((paint_rect.h, paint_rect.w, 4), 90, np.uint8))  # drops the cache
    assert_close(doc)


def test_a_layer_too_big_to_cache_is_recomposited(monkeypatch, numpy_loops):
    import canvas.composite as composite

    monkeypatch.setattr(composite, "MAX_FOCUS_BYTES", 3 << 20)  # 3 MiB: the paint layer needs 4.5, the piece 2
    doc = scene(np.random.default_rng(6))
    proj = doc.projection()
    paint = doc.layers[1]
    for v in (0.2, 0.4, 0.6, 0.9):
        n0 = proj.tiles_composited
        doc.set_layer_props(paint.id, opacity=v)
        assert_close(doc)
        assert proj._focus is None and proj.tiles_composited > n0
    piece = doc.layers[3]  # small enough
    doc.set_layer_props(piece.id, opacity=0.3)
    doc.set_layer_props(piece.id, opacity=0.4)
    assert_close(doc)
    assert proj._focus is not None and proj._focus.layer is piece
