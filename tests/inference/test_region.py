"""Region edits: full detail inside the selection, bit-identical outside it."""

import cv2
import numpy as np
import pytest

from inference.backend import Backend, Capabilities
from inference.classical import ClassicalBackend
from inference.region import (
    change_mask,
    composite_over,
    crop_request,
    feather,
    mask_bbox,
    plan_region,
    resize_rgba,
)
from inference.request import EditRequest, MarkData, Piece
from tests.inference.photos import astronaut, ellipse_mask


class Invert(Backend):
    """A stand-in model: inverts colours at its working size and records what it was given."""

    name = "invert-test"
    capabilities = Capabilities(working_size=512, size_multiple=16, upscale_regions=True, takes_mask=True)

    def __init__(self):
        self.seen = []

    def edit(self, request, reporter):
        self.seen.append(request)
        reporter.phase("invert")
        out = request.image.copy()
        out[..., :3] = 255 - out[..., :3]
        reporter.advance()
        return [out], [request.seed], []


@pytest.fixture(scope="module")
def canvas_4k():
    return resize_rgba(astronaut(), (4096, 4096))


def test_region_edit_of_a_4096_canvas_touches_nothing_outside_the_selection(canvas_4k):
    sel = ellipse_mask(4096, 4096, 2900, 1200, 420, 300)
    req = EditRequest(canvas_4k, task="stylise", selection=sel, params={"style": "cartoon"})
    res = ClassicalBackend().run(req)
    out = composite_over(canvas_4k, res.images[0], res.rect)
    outside = sel == 0
    assert np.array_equal(out[outside], canvas_4k[outside])
    inside = cv2.erode(sel, np.ones((61, 61), np.uint8)) > 0
    assert np.abs(out[inside][:, :3].astype(int) - canvas_4k[inside][:, :3]).mean() > 5
    # the layer covers just the selection, at full resolution (not a downscaled canvas)
    assert res.rect == mask_bbox(sel)
    assert res.images[0].shape[:2] == (600, 840)


def test_a_model_sees_the_crop_at_its_working_size_and_the_result_comes_back_in_place(canvas_4k):
    sel = np.zeros((4096, 4096), np.uint8)
    sel[1000:1800, 2000:3000] = 255
    mark = MarkData("ellipse", ((2200, 1100), (2600, 1500)), closed=True)
    b = Invert()
    res = b.run(EditRequest(canvas_4k, "invert", selection=sel, marks=(mark,)))
    seen = b.seen[-1]
    assert max(seen.shape) == 512 and seen.width % 16 == 0 and seen.height % 16 == 0
    # the marks and the selection were moved and scaled with the crop
    assert seen.selection is not None and seen.selection.any()
    (x0, y0), _ = seen.marks[0].points
    x, y, w, h = plan_region(sel, 512, multiple=16, upscale=True).crop
    s = seen.width / w
    assert (x0, y0) == pytest.approx(((2200 - x) * s, (1100 - y) * s))
    assert seen.annotation_mask is not None  # "mask" is what this backend takes
    out = composite_over(canvas_4k, res.images[0], res.rect)
    assert np.array_equal(out[sel == 0], canvas_4k[sel == 0])
    core = (slice(1100, 1700), slice(2100, 2900))
    expected = 255 - canvas_4k[core][..., :3].astype(int)
    assert np.abs(out[core][..., :3].astype(int) - expected).mean() < 12  # a resampled inversion


def test_whole_image_edits_are_scaled_to_the_working_size_and_back():
    img = resize_rgba(astronaut(), (1024, 768))
    b = Invert()
    res = b.run(EditRequest(img, "invert"))
    assert max(b.seen[-1].shape) == 512
    assert res.rect == (0, 0, 1024, 768) and res.images[0].shape == (768, 1024, 4)
    res_w = b.run(EditRequest(img, "invert", size_policy="working"))
    assert res_w.images[0].shape[:2] == b.seen[-1].shape and res_w.scale == pytest.approx(0.5)


@pytest.mark.parametrize("radius", [3, 8, 20])
def test_feather_fades_inside_and_never_reaches_outside(radius):
    m = ellipse_mask(200, 200, 100, 100, 60, 60)
    f = feather(m, radius)
    assert (f[m == 0] == 0).all() and (f <= m).all()
    assert f[100, 100] == 255
    edge = (m > 0) & (cv2.erode(m, np.ones((3, 3), np.uint8)) == 0)
    assert f[edge].max() < 128


def test_change_mask_keeps_what_changed_and_drops_resampling_noise():
    before = astronaut()
    rng = np.random.default_rng(1)
    after = before.copy()
    after[..., :3] = np.clip(after[..., :3].astype(int) + rng.integers(-3, 4, after[..., :3].shape), 0, 255)
    blob = ellipse_mask(512, 512, 300, 300, 40, 30) > 0
    after[blob, :3] = (0, 255, 0)
    m = change_mask(before, after)
    assert (m[blob] == 255).mean() > 0.99
    far = cv2.dilate(blob.astype(np.uint8), np.ones((61, 61), np.uint8)) == 0
    assert (m[far] == 0).mean() > 0.99


class Drift(Backend):
    """Changes one blob and drifts everything else a little, like a model would."""

    name = "drift-test"
    capabilities = Capabilities()

    def edit(self, request, reporter):
        out = request.image.copy()
        out[..., :3] = np.clip(out[..., :3].astype(int) + 2, 0, 255).astype(np.uint8)
        out[200:260, 300:360, :3] = (255, 0, 255)
        reporter.advance()
        return [out], [7], []


def test_the_change_mask_option_leaves_untouched_areas_bit_identical():
    img = astronaut()
    res = Drift().run(EditRequest(img, "paint a square", change_mask=True))
    out = composite_over(img, res.images[0], res.rect)
    assert (out[210:250, 310:350, :3] == (255, 0, 255)).all()
    x, y, w, h = res.rect
    assert w < 150 and h < 150  # only the changed neighbourhood is in the layer
    assert np.array_equal(out[:150], img[:150])
    res_all = Drift().run(EditRequest(img, "paint a square"))
    assert res_all.rect == (0, 0, 512, 512)


def test_crop_request_moves_pieces_and_keeps_the_origin():
    img = astronaut()
    sel = np.zeros((512, 512), np.uint8)
    sel[100:200, 300:400] = 255
    piece = Piece(np.full((50, 50), 255, np.uint8), 320, 120, "p")
    req = EditRequest(img, "x", selection=sel, pieces=(piece,), origin=(10, 20))
    plan = plan_region(sel, None, margin=0.25, min_margin=32)
    assert plan.crop == (268, 68, 164, 164)
    c = crop_request(req, plan)
    assert c.origin == (10 + 268, 20 + 68)
    assert c.pieces[0].rect == (320 - 268, 120 - 68, 50, 50)
    assert np.array_equal(c.image, img[68:232, 268:432])


def test_composite_over_keeps_base_pixels_where_the_layer_is_transparent():
    base = astronaut()
    layer = np.zeros((10, 10, 4), np.uint8)
    layer[2:5, 2:5] = (1, 2, 3, 255)
    out = composite_over(base, layer, (100, 100, 10, 10))
    assert (out[102:105, 102:105] == (1, 2, 3, 255)).all()
    untouched = np.ones((512, 512), bool)
    untouched[102:105, 102:105] = False
    assert np.array_equal(out[untouched], base[untouched])


def test_progress_of_a_region_edit_counts_the_crop_and_reaches_total(canvas_4k):
    sel = ellipse_mask(4096, 4096, 1000, 1000, 200, 200)
    seen = []
    ClassicalBackend().run(EditRequest(canvas_4k, task="stylise", selection=sel), seen.append)
    steps = [u for u in seen if not u.phase_start]
    assert {u.total for u in steps} == {4}  # prepare, one tile, finish; not the 16 tiles of the whole canvas
    assert [u.step for u in steps] == [1, 2, 3, 4]
