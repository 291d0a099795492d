"""The classical backend on real photographs, judged by measurable effects."""

import threading

import numpy as np
import pytest

from inference.classical import STYLES, ClassicalBackend
from inference.errors import Cancelled, InvalidRequest
from inference.progress import CancelToken
from inference.region import composite_over
from inference.request import EditRequest, MarkData, Piece, Reference
from tests.inference.photos import (
    astronaut,
    border_colour_gap,
    cat,
    coffee,
    collage,
    ellipse_mask,
    region_gap,
    seam_gradient,
)

BACKEND = ClassicalBackend()


def run(req, **kw):
    res = BACKEND.run(req, **kw)
    assert len(res.images) == 1
    return res, composite_over(req.image, res.images[0], res.rect)


# --- refine collage -----------------------------------------------------------------------------
def test_refine_blends_a_pasted_piece_into_its_surroundings():
    img, alpha, x, y = collage()
    full = Piece(alpha, x, y).full_mask(img.shape[:2])
    updates = []
    res, out = run(EditRequest(img, task="refine-collage", pieces=(Piece(alpha, x, y, "eye"),)),
                   progress=updates.append)
    # the seam is less visible: less gradient along the edge, smaller colour gap across it
    assert seam_gradient(out, full) < 0.8 * seam_gradient(img, full)
    assert border_colour_gap(out, full) < 0.7 * border_colour_gap(img, full)
    # the piece stays recognisable: its own detail (high-pass) is kept
    inside = full > 0
    def detail(a):
        g = a[..., :3].astype(np.float32).mean(axis=2)
        import cv2
        return (g - cv2.GaussianBlur(g, (0, 0), 3))[inside]
    assert np.corrcoef(detail(img), detail(out))[0, 1] > 0.9
    # it changed the piece, and nothing far from it: its box grown by 8 px, and below it its contact shadow
    assert np.abs(out[inside].astype(int) - img[inside]).mean() > 3
    ph, pw = alpha.shape
    reach = int(0.2 * ph)  # the soft shadow's reach below and beside the piece's lower part
    box = np.zeros(img.shape[:2], bool)
    box[y - 8:y + ph + 8] = False
    box[y - 8:y + ph // 2, x - 8:x + pw + 8] = True
    box[y + ph // 2:y + ph + 8 + reach, x - 8 - reach:x + pw + 8 + reach] = True
    assert np.array_equal(out[~box], img[~box])
    shade = box.copy()
    shade[y - 8:y + ph + 8] = False  # below the grown box: the shadow only darkens the scene there
    assert (out[shade][:, :3].astype(int).sum(axis=1) <= img[shade][:, :3].astype(int).sum(axis=1)).all()
    _, flat = run(EditRequest(img, task="refine-collage", pieces=(Piece(alpha, x, y, "eye"),), params={"shadow": 0}))
    box[:] = False  # without the shadow, only the box grown by 8 px
    box[y - 8:y + ph + 8, x - 8:x + pw + 8] = True
    assert np.array_equal(flat[~box], img[~box])
    assert updates[-1].step == updates[-1].total
    assert res.backend == "classical" and res.seeds == (None,)


def test_refine_handles_two_pieces_and_a_piece_at_the_image_edge():
    img, alpha, x, y = collage()
    edge_piece = cat()[100:200, 200:300]
    img[0:100, 0:100] = edge_piece
    pieces = (Piece(alpha, x, y, "eye"), Piece(np.full((100, 100), 255, np.uint8), 0, 0, "corner"))
    res, out = run(EditRequest(img, task="refine-collage", pieces=pieces))
    corner = pieces[1].full_mask(img.shape[:2])
    assert border_colour_gap(out, corner) < border_colour_gap(img, corner)


def test_refine_without_pieces_uses_the_selection_or_says_what_it_needs():
    img, alpha, x, y = collage()
    sel = Piece(alpha, x, y).full_mask(img.shape[:2])
    _, out = run(EditRequest(img, task="refine-collage", selection=sel))
    assert seam_gradient(out, sel) < seam_gradient(img, sel)
    with pytest.raises(InvalidRequest, match="collage pieces"):
        BACKEND.run(EditRequest(img, task="refine-collage"))


# --- remove ----------------------------------------------------------------------------------------
def _object_on_table():
    base = coffee()
    eye = cat()[70:150, 140:230]
    x, y = 470, 20
    obj = ellipse_mask(80, 90, 45, 40, 45, 40)
    sub = base[y:y + 80, x:x + 90]
    sub[obj > 0] = eye[obj > 0]
    mark = MarkData("ellipse", ((x - 6, y - 6), (x + 96, y + 86)), width=5, closed=True)
    return base, mark


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_remove_fills_the_marked_region_and_touches_nothing_outside(method):
    img, mark = _object_on_table()
    updates = []
    res, out = run(EditRequest(img, task="remove", marks=(mark,), params={"method": method}),
                   progress=updates.append)
    from inference.pen.annotations import marks_mask

    marked = marks_mask((mark,), img.shape[:2])
    assert region_gap(out, marked) < 0.5 * region_gap(img, marked)
    # outside the mark grown by the inpainting margin, every pixel is bit-identical
    import cv2
    grow = int(np.ceil(max(3.0, 0.004 * np.hypot(*img.shape[:2])))) + 1
    allowed = cv2.dilate(marked, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)) > 0
    assert np.array_equal(out[~allowed], img[~allowed])
    assert not np.array_equal(out[allowed], img[allowed])
    # the result layer only covers the marked area
    x, y, w, h = res.rect
    assert w < 150 and h < 150
    assert updates[-1].step == updates[-1].total


def test_remove_from_the_selection_when_there_are_no_marks():
    img, mark = _object_on_table()
    sel = np.zeros(img.shape[:2], np.uint8)
    sel[14:106, 464:566] = 255
    res, out = run(EditRequest(img, task="remove", selection=sel))
    assert region_gap(out, sel) < 0.5 * region_gap(img, sel)
    with pytest.raises(InvalidRequest, match="what to remove"):
        BACKEND.run(EditRequest(img, task="remove"))


# --- stylise ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("style", STYLES)
def test_stylise_changes_the_image_and_keeps_its_size(style):
    img = astronaut()
    res, out = run(EditRequest(img, task="stylise", params={"style": style}))
    assert res.rect == (0, 0, 512, 512) and out.shape == img.shape
    assert np.abs(out[..., :3].astype(int) - img[..., :3]).mean() > 4
    assert (out[..., 3] == 255).all()


def test_stylise_strength_blends_toward_the_input_and_unknown_styles_are_refused():
    img = astronaut()
    _, full = run(EditRequest(img, task="stylise", params={"style": "cartoon"}))
    _, half = run(EditRequest(img, task="stylise", strength=0.5, params={"style": "cartoon"}))
    d_full = np.abs(full[..., :3].astype(int) - img[..., :3]).mean()
    d_half = np.abs(half[..., :3].astype(int) - img[..., :3]).mean()
    assert 0.35 * d_full < d_half < 0.65 * d_full
    with pytest.raises(InvalidRequest, match="watercolour"):
        BACKEND.run(EditRequest(img, task="stylise", params={"style": "watercolour"}))


def test_stylise_of_a_large_image_goes_tile_by_tile_without_seams():
    import cv2
    big = cv2.resize(astronaut(), (2400, 1700), interpolation=cv2.INTER_CUBIC)
    updates = []
    res, out = run(EditRequest(big, task="stylise", params={"style": "detail"}), progress=updates.append)
    assert out.shape == big.shape
    assert updates[-1].total >= 6  # one step per tile
    # no visible seam along a tile border (x = 1024): the jump across it is like its neighbours'
    col = out[:, 1020:1029, :3].astype(float)
    jumps = np.abs(np.diff(col, axis=1)).mean(axis=(0, 2))
    assert jumps[3] < 2.0 * np.median(jumps)


# --- replace background ------------------------------------------------------------------------------
def test_replace_background_puts_the_reference_behind_the_subject():
    img = astronaut()
    sel = ellipse_mask(512, 512, 250, 300, 190, 250)  # roughly around the astronaut
    blue = np.zeros((64, 64, 4), np.uint8)
    blue[...] = (20, 120, 250, 255)
    res, out = run(EditRequest(img, task="replace-background", selection=sel, references=(Reference("sky", blue),)))
    for cy, cx in ((3, 3), (3, 508), (508, 3)):
        assert tuple(out[cy, cx]) == (20, 120, 250, 255)
    # the subject's face keeps its pixels
    face = (slice(90, 150), slice(190, 260))
    assert np.array_equal(out[face], img[face])
    # much of the old background is gone, the subject mostly stays
    is_blue = np.all(out[..., :3] == (20, 120, 250), axis=2)
    assert is_blue[sel == 0].mean() > 0.75
    assert is_blue[sel > 0].mean() < 0.5


def test_replace_background_seeded_by_a_pen_circle_with_a_photo_reference():
    img = astronaut()
    mark = MarkData("ellipse", ((60, 50), (440, 560)), width=6, closed=True)
    ref = coffee()
    res, out = run(EditRequest(img, task="replace-background", marks=(mark,), references=(Reference("cafe", ref),)))
    # the corners now show the café photo (covered and centred), not the astronaut's room
    import cv2
    scaled = cv2.resize(ref, (768, 512), interpolation=cv2.INTER_AREA)[:, 128:640]
    corner = (slice(0, 20), slice(0, 20))
    assert np.abs(out[corner].astype(int) - scaled[corner]).mean() < 2
    assert np.abs(img[corner].astype(int) - scaled[corner]).mean() > 20


def test_replace_background_needs_a_reference():
    with pytest.raises(InvalidRequest, match="reference image"):
        BACKEND.run(EditRequest(astronaut(), task="replace-background"))


# --- the contract: tasks, cancellation, progress ----------------------------------------------------
def test_the_classical_backend_does_not_pretend_to_read_instructions():
    with pytest.raises(InvalidRequest, match="does not read instructions"):
        BACKEND.run(EditRequest(astronaut(), "make it look like a Van Gogh"))
    with pytest.raises(InvalidRequest, match="no task"):
        BACKEND.run(EditRequest(astronaut(), task="teleport"))
    refs = tuple(Reference(f"r{i}", astronaut()) for i in range(2))
    with pytest.raises(InvalidRequest, match="at most 1"):
        BACKEND.run(EditRequest(astronaut(), task="replace-background", references=refs))


def test_cancel_mid_run_raises_and_reports_no_completion():
    tok = CancelToken()
    updates = []

    def progress(u):
        updates.append(u)
        if u.step == 3:  # in the middle of segmentation
            tok.cancel()

    req = EditRequest(astronaut(), task="replace-background", references=(Reference("r", coffee()),))
    with pytest.raises(Cancelled):
        BACKEND.run(req, progress, tok)
    assert updates and all(u.step < u.total for u in updates)
    assert max(u.step for u in updates) == 3


def test_cancel_from_another_thread_yields_nothing():
    import cv2
    big = cv2.resize(astronaut(), (3000, 3000))
    tok = CancelToken()
    started = threading.Event()
    outcome = {}

    def worker():
        try:
            outcome["result"] = BACKEND.run(EditRequest(big, task="stylise"), lambda u: started.set(), tok)
        except Cancelled as exc:
            outcome["cancelled"] = exc

    t = threading.Thread(target=worker)
    t.start()
    assert started.wait(60)
    tok.cancel()
    t.join(120)
    assert "cancelled" in outcome and "result" not in outcome


def test_cancelled_before_start():
    tok = CancelToken()
    tok.cancel()
    with pytest.raises(Cancelled):
        BACKEND.run(EditRequest(astronaut(), task="stylise"), None, tok)


def test_variations_are_honest():
    res, _ = run(EditRequest(astronaut(), task="stylise", variations=3))
    assert len(res.images) == 1
    assert any("1 result" in w for w in res.warnings)


# --- extend (outpaint) ----------------------------------------------------------------------------
def test_extend_fills_only_the_empty_canvas_and_continues_the_picture_at_its_edges():
    photo = coffee()[..., :3]
    ph, pw = photo.shape[:2]
    img = np.zeros((ph + 80, pw + 120, 4), np.uint8)  # the canvas grown: 60 px left and right, 40 top and bottom
    img[40 : 40 + ph, 60 : 60 + pw, :3] = photo
    img[40 : 40 + ph, 60 : 60 + pw, 3] = 255
    img[40 : 40 + ph, 60, 3] = 128  # a soft edge column stays on top of the fill
    updates = []
    res, out = run(EditRequest(img, task="extend"), progress=updates.append)
    layer = res.images[0]
    empty = img[..., 3] < 255
    assert (layer[..., 3] == np.where(empty, 255, 0)).all()  # covers the empty area, nothing else
    assert (out[..., 3] == 255).all()  # the picture is whole
    solid = img[..., 3] == 255
    assert np.array_equal(out[solid], img[solid])  # the picture's pixels are untouched
    # the soft column: the picture half on top of the fill (the fill there ≈ its neighbour column)
    col = out[40 : 40 + ph, 60, :3].astype(float)
    half = (photo[:, 0].astype(float) * 128 + out[40 : 40 + ph, 59, :3].astype(float) * 127) / 255
    assert np.abs(col - half).mean() < 6
    # next to the picture the fill continues it: far closer to the edge than the image's overall mean
    for outside, inside in (((slice(40, 40 + ph), 57), photo[:, 1]), ((slice(40, 40 + ph), 60 + pw + 2), photo[:, -1]),
                            ((37, slice(60, 60 + pw)), photo[0]), ((40 + ph + 2, slice(60, 60 + pw)), photo[-1])):
        got = out[outside][..., :3].astype(float)
        gap = np.abs(got - inside.astype(float)).mean()
        baseline = np.abs(photo.reshape(-1, 3).mean(axis=0) - inside.astype(float)).mean()
        assert gap < 0.5 * baseline, (gap, baseline)
    steps = [u.step for u in updates]
    assert steps == sorted(steps) and updates[-1].step == updates[-1].total


def test_extend_needs_an_empty_area_and_says_how_to_make_one():
    with pytest.raises(InvalidRequest, match="Canvas size"):
        BACKEND.run(EditRequest(coffee(), task="extend"))


def test_the_extend_preset_runs_on_the_classical_backend():
    from inference.presets import get_preset

    p = get_preset("extend")
    assert p.classical_task == "extend" and "empty" in p.instruction
