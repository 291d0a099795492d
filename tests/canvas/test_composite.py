import numpy as np
import pytest

from canvas.blend import BLEND_MODES
from canvas.document import Document
from canvas.geometry import Rect
from canvas.layers import PixelLayer
from canvas.tiles import TILE
from tests.canvas.helpers import random_rgba, reference_composite, sample_document


@pytest.mark.parametrize("mode", BLEND_MODES)
def test_blend_modes_match_float_reference(mode):
    rng = np.random.default_rng(7)
    doc = Document(70, 50)
    doc.add_layer(PixelLayer(random_rgba(rng, 50, 70), name="base"))
    doc.add_layer(PixelLayer(random_rgba(rng, 30, 40), 10, 5, name="top", blend=mode, opacity=0.7))
    got = doc.render().astype(int)
    want = reference_composite(doc).astype(int)
    # colour of nearly transparent pixels is ill-defined; compare where the result has alpha
    visible = want[..., 3] >= 8
    assert np.abs(got[..., 3] - want[..., 3]).max() <= 1
    assert np.abs(got[visible][:, :3] - want[visible][:, :3]).max() <= 2


def test_soft_light_is_between_backdrop_and_source_extremes():
    doc = Document(4, 1)
    base = np.array([[[64, 64, 64, 255]] * 4], np.uint8)
    top = np.array([[[0, 0, 0, 255], [128, 128, 128, 255], [200, 200, 200, 255], [255, 255, 255, 255]]], np.uint8)
    doc.add_layer(PixelLayer(base))
    doc.add_layer(PixelLayer(top, blend="soft-light"))
    out = doc.render()[0, :, 0].astype(int)
    assert out[0] < 64 < out[3]
    assert abs(out[1] - 64) <= 1  # 50 % grey leaves the backdrop unchanged
    assert list(out) == sorted(out)


def test_no_dark_fringes_on_soft_edges():
    # white at alpha 1 over transparent, then that layer over white: the edge must stay white
    doc = Document(8, 1)
    doc.add_layer(PixelLayer(np.full((1, 8, 4), 255, np.uint8)))
    soft = np.zeros((1, 8, 4), np.uint8)
    soft[..., :3] = 255
    soft[0, :, 3] = np.arange(8) * 36
    doc.add_layer(PixelLayer(soft))
    assert (doc.render()[..., :3] == 255).all()


def test_full_document_matches_reference_including_pieces_and_marks():
    doc = sample_document()
    for roles in (("content",), ("annotation",), ("content", "annotation")):
        got = doc.render(roles=roles).astype(int)
        want = reference_composite(doc, roles).astype(int)
        visible = want[..., 3] >= 8
        assert np.abs(got[..., 3] - want[..., 3]).max() <= 1
        assert np.abs(got[visible][:, :3] - want[visible][:, :3]).max() <= 2


def test_annotation_layers_never_in_content_render():
    doc = sample_document()
    marks = doc.layers[-1]
    assert marks.role == "annotation"
    before = doc.render()
    doc.set_layer_props(marks.id, visible=False)
    assert np.array_equal(doc.render(), before)
    overlay_hidden = doc.render_annotations()
    assert overlay_hidden[..., 3].max() == 0


def test_small_change_recomposites_only_touched_tiles():
    doc = Document(8 * TILE, 8 * TILE)
    rng = np.random.default_rng(3)
    doc.add_layer(PixelLayer(random_rgba(rng, 8 * TILE, 8 * TILE, opaque=True)))
    top = doc.new_pixel_layer("top")
    proj = doc.projection()
    proj.update()
    n0 = proj.tiles_composited
    patch = np.full((10, 10, 4), 200, np.uint8)
    doc.paint(top.id, Rect(TILE - 5, TILE - 5, 10, 10), patch)  # straddles four tiles
    # dirty tracking is per 32 px block: only the blocks around the patch, split over 4 tiles
    assert proj.dirty_rect() == Rect(TILE - 32, TILE - 32, 64, 64)
    proj.update()
    assert proj.tiles_composited - n0 == 4
    assert np.array_equal(doc.render(), reference_composite(doc))


def test_opaque_layer_hides_everything_below_per_tile():
    doc = Document(2 * TILE, TILE)
    rng = np.random.default_rng(4)
    doc.add_layer(PixelLayer(random_rgba(rng, TILE, 2 * TILE)))
    cover = np.zeros((TILE, 2 * TILE, 4), np.uint8)
    cover[:, :TILE] = (10, 20, 30, 255)  # opaque over the first tile only
    doc.add_layer(PixelLayer(cover))
    out = doc.render()
    assert (out[:, :TILE] == (10, 20, 30, 255)).all()
    assert np.abs(out.astype(int) - reference_composite(doc).astype(int)).max() <= 1


def test_render_rect_outside_canvas_is_transparent():
    doc = sample_document()
    out = doc.render(Rect(-10, -10, 20, 20))
    assert out.shape == (20, 20, 4)
    assert (out[:10, :, 3] == 0).all() and (out[:, :10, 3] == 0).all()
    assert np.array_equal(out[10:, 10:], doc.render()[:10, :10])


def test_stack_of_normal_layers_over_opaque_photo_matches_reference():
    rng = np.random.default_rng(11)
    doc = Document(2 * TILE + 17, TILE + 9)
    doc.add_layer(PixelLayer(random_rgba(rng, TILE + 9, 2 * TILE + 17, opaque=True)))
    for i in range(5):
        doc.add_layer(PixelLayer(random_rgba(rng, 90, 150), 13 * i, 7 * i, opacity=0.3 + 0.15 * i))
    doc.add_layer(PixelLayer(random_rgba(rng, 60, 60), 40, 30, blend="screen"))
    doc.add_layer(PixelLayer(random_rgba(rng, 60, 60), 70, 50))
    got = doc.render().astype(int)
    want = reference_composite(doc).astype(int)
    assert (got[..., 3] == 255).all()
    assert np.abs(got - want).max() <= 1


def test_add_reads_svg_plus_as_krita_and_gimp_do(tmp_path):
    """An "add" (svg:plus) layer at 80 % over an opaque photo: Krita's Addition composited over,
    (1 - a)·cb + a·min(1, cb + cs) — not the Porter-Duff plus min(1, cb + a·cs) MyPaint reads.
    The pixels are chosen where the two readings differ (cb + cs > 1): up to 41 levels apart."""
    import zipfile

    from canvas.imageio import decode_png
    from canvas.ora import load_ora, save_ora

    cb = np.array([51, 128, 200, 255, 0], np.float64)  # backdrop, one value per pixel (grey)
    cs = np.array([255, 200, 128, 255, 255], np.float64)  # the add layer, fully opaque pixels
    a = 0.8
    krita = (1 - a) * cb + a * np.minimum(cb + cs, 255)
    porter_duff = np.minimum(cb + a * cs, 255)
    assert np.abs(krita - porter_duff).max() > 30  # the case the issue measured in Krita

    doc = Document(5, 1)
    grey = lambda v: np.dstack([v, v, v, np.full(5, 255)]).astype(np.uint8).reshape(1, 5, 4)  # noqa: E731
    doc.add_layer(PixelLayer(grey(cb), name="photo"))
    doc.add_layer(PixelLayer(grey(cs), name="glow", blend="add", opacity=a))
    got = doc.render()[0, :, 0].astype(float)
    assert np.abs(got - krita).max() <= 1

    path = tmp_path / "add.ora"
    save_ora(doc, path)
    with zipfile.ZipFile(path) as zf:
        assert b'composite-op="svg:plus"' in zf.read("stack.xml")
        merged = decode_png(zf.read("mergedimage.png"), "mergedimage.png")
    assert np.abs(merged[0, :, 0].astype(float) - krita).max() <= 1  # what other programs show first
    assert np.array_equal(load_ora(path).render(), doc.render())


def test_fused_loops_match_the_numpy_paths(monkeypatch):
    """canvas.kernels (numba) and the numpy / OpenCV paths give the same picture within a level."""
    from canvas import kernels

    if not kernels.ENABLED:
        pytest.skip("the numba loops are off (numba not installed, or AKAPEN_NO_NUMBA=1)")
    rng = np.random.default_rng(12)
    for opaque in (True, False):
        doc = Document(2 * TILE + 17, TILE + 9)
        doc.add_layer(PixelLayer(random_rgba(rng, TILE + 9, 2 * TILE + 17, opaque=opaque)))
        for i, mode in enumerate(["normal", "normal", "multiply", "normal", "soft-light", "normal"]):
            doc.add_layer(PixelLayer(random_rgba(rng, 90, 150), 13 * i - 5, 7 * i, opacity=0.3 + 0.12 * i, blend=mode))
        fused = doc.render().astype(int)
        with monkeypatch.context() as m:
            m.setattr(kernels, "ENABLED", False)
            plain = Document.copy(doc).render().astype(int)
        assert np.abs(fused - plain).max() <= 1
        want = reference_composite(doc).astype(int)
        visible = want[..., 3] >= 8
        assert np.abs(fused[..., 3] - want[..., 3]).max() <= 1
        assert np.abs(fused[visible][:, :3] - want[visible][:, :3]).max() <= 2


@pytest.mark.parametrize("mode", BLEND_MODES)
def test_compiled_tile_pass_matches_the_numpy_path_in_every_mode(mode, monkeypatch):
    """canvas.kernels in each blend mode: over an opaque backdrop after normal layers (straight
    colour, then premultiplied from the mode layer on) and over a translucent one, with a
    normal layer above, parts of tiles covered; against the numpy path and the float reference."""
    from canvas import kernels

    if not kernels.enabled():
        pytest.skip("the numba loops are off (numba not installed, or AKAPEN_NO_NUMBA=1)")
    rng = np.random.default_rng(13)
    for opaque in (True, False):
        doc = Document(2 * TILE + 17, TILE + 9)
        doc.add_layer(PixelLayer(random_rgba(rng, TILE + 9, 2 * TILE + 17, opaque=opaque)))
        doc.add_layer(PixelLayer(random_rgba(rng, 90, 150), 20, 10, opacity=0.6))
        doc.add_layer(PixelLayer(random_rgba(rng, 100, 200), 40, 5, opacity=0.7, blend=mode))
        doc.add_layer(PixelLayer(random_rgba(rng, 50, 60), 100, 30, opacity=0.9))
        fused = doc.render().astype(int)
        with monkeypatch.context() as m:
            m.setattr(kernels, "ENABLED", False)
            plain = Document.copy(doc).render().astype(int)
        visible = plain[..., 3] >= 8
        assert np.abs(fused[..., 3] - plain[..., 3]).max() <= 1
        assert np.abs(fused[visible][:, :3] - plain[visible][:, :3]).max() <= 1
        want = reference_composite(doc).astype(int)
        assert np.abs(fused[..., 3] - want[..., 3]).max() <= 1
        assert np.abs(fused[visible][:, :3] - want[visible][:, :3]).max() <= 2


def test_with_the_tile_pass_a_property_change_recomposites_only_where_the_layer_is():
    from canvas import kernels

    if not kernels.enabled():
        pytest.skip("the numba loops are off (numba not installed, or AKAPEN_NO_NUMBA=1)")
    rng = np.random.default_rng(15)
    doc = Document(4 * TILE, 4 * TILE)
    doc.add_layer(PixelLayer(random_rgba(rng, 4 * TILE, 4 * TILE, opaque=True)))
    small = doc.add_layer(PixelLayer(random_rgba(rng, 40, 50), TILE + 10, TILE + 10))
    proj = doc.projection()
    proj.update()
    for props in [{"opacity": 0.3}, {"opacity": 0.6}, {"blend": "screen"}, {"visible": False}]:
        n0 = proj.tiles_composited
        doc.set_layer_props(small.id, **props)
        proj.update()
        assert proj.tiles_composited - n0 == 1, props  # its one tile, every time
        assert proj._focus is None
        want = reference_composite(doc).astype(int)
        assert np.abs(doc.render().astype(int) - want).max() <= 1


@pytest.mark.parametrize("mode", ["multiply", "soft-light", "difference"])
def test_a_bottom_layer_in_any_mode_shows_as_normal(mode):
    """Over nothing a blend mode makes no difference: a bottom layer in another mode gives the
    same picture as in "normal", opaque (the opaque-backdrop shortcut) or translucent."""
    rng = np.random.default_rng(14)
    for opacity in (1.0, 0.8):
        doc = Document(2 * TILE + 17, TILE + 9)
        bottom = doc.add_layer(PixelLayer(random_rgba(rng, TILE + 9, 2 * TILE + 17, opaque=True), opacity=opacity))
        doc.add_layer(PixelLayer(random_rgba(rng, 90, 150), 13, 7, opacity=0.6))
        doc.add_layer(PixelLayer(random_rgba(rng, 60, 60), 40, 30, blend="screen"))
        normal = doc.render()
        doc.set_layer_props(bottom.id, blend=mode)
        assert np.array_equal(doc.render(), normal)
        want = reference_composite(doc).astype(int)
        visible = want[..., 3] >= 8
        assert np.abs(doc.render()[visible].astype(int) - want[visible]).max() <= 1


def test_the_compiled_pass_refuses_a_source_whose_shapes_disagree():
    """It reads layers through raw addresses: a raster or statistics not of the layer's bounds is an
    error before any of it is read, not a read past the end."""
    from types import SimpleNamespace

    from canvas import kernels

    if not kernels.enabled():
        pytest.skip("the numba loops are off (numba not installed, or AKAPEN_NO_NUMBA=1)")
    good = dict(x0=0, y0=0, x1=10, y1=10, tx0=0, ty0=0, opacity=1.0, blend="normal",
                pixels=np.zeros((10, 10, 4), np.uint8), amax=np.zeros((1, 1), np.uint8), amin=np.zeros((1, 1), np.uint8))
    kernels.Batch([SimpleNamespace(**good)])
    for bad in ({"pixels": np.zeros((10, 9, 4), np.uint8)}, {"pixels": np.zeros((10, 10, 4), np.uint16)},
                {"amax": np.zeros((2, 1), np.uint8)}, {"x1": 300}):
        with pytest.raises(ValueError, match="do not match its bounds"):
            kernels.Batch([SimpleNamespace(**{**good, **bad})])


def test_a_large_update_spread_over_threads_matches_the_numpy_path(monkeypatch):
    """At 16 dirty parts and more the compiled pass runs as a few calls in the pool, each taking
    whole tile rows; partial parts (a rectangle invalidated across tiles) too."""
    from canvas import kernels

    if not kernels.enabled():
        pytest.skip("the numba loops are off (numba not installed, or AKAPEN_NO_NUMBA=1)")
    rng = np.random.default_rng(16)
    doc = Document(5 * TILE + 31, 4 * TILE + 9)
    doc.add_layer(PixelLayer(random_rgba(rng, 4 * TILE + 9, 5 * TILE + 31, opaque=True)))
    for i, mode in enumerate(["normal", "screen", "normal", "multiply", "normal"]):
        h, w = int(rng.integers(60, 400)), int(rng.integers(60, 500))
        doc.add_layer(PixelLayer(random_rgba(rng, h, w), int(rng.integers(-50, 5 * TILE)),
                                 int(rng.integers(-50, 4 * TILE)), opacity=0.5 + 0.1 * i, blend=mode))
    proj = doc.projection()
    with monkeypatch.context() as m:
        m.setattr(kernels, "ENABLED", False)
        want = Document.copy(doc).render().astype(int)
    n0 = proj.tiles_composited
    got = doc.render().astype(int)
    assert proj.tiles_composited - n0 >= 16  # the threaded path
    visible = want[..., 3] >= 8
    assert np.abs(got[..., 3] - want[..., 3]).max() <= 1
    assert np.abs(got[visible][:, :3] - want[visible][:, :3]).max() <= 1
    proj.invalidate(Rect(70, 40, 3 * TILE, 3 * TILE))  # parts of tiles over three tile rows
    proj.pixels[...] = 0  # whatever is recomposited must be written anew
    proj.update()
    inside = np.zeros(got.shape[:2], bool)
    inside[32:40 + 3 * TILE + 24, 64:70 + 3 * TILE + 26] = True  # the dirty rectangle, snapped to 32 px blocks
    again = proj.pixels.astype(int)
    assert np.abs(again[inside] - got[inside]).max() == 0
