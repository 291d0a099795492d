"""The glue (desktop/headless/edit_request.py, Qt-free): document → request → classical → new layer."""

import json

import numpy as np
import pytest

from canvas.document import Document
from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer
from canvas.marks import Arrow, Ellipse
from desktop.headless.edit_request import apply_result, build_request
from inference.classical import ClassicalBackend
from inference.errors import Cancelled
from inference.progress import CancelToken
from tests.inference.photos import cat, coffee, ellipse_mask


def collage_document():
    base = coffee()
    doc = Document.assemble(600, 400, [PixelLayer(base, name="photo")])
    eye = cat()[60:220, 120:300].copy()
    eye[..., 3] = ellipse_mask(160, 180, 90, 80, 90, 80)
    doc.add_layer(PieceLayer.at(eye, 350, 200, name="eye"))
    ear = cat()[0:90, 300:400].copy()
    doc.add_layer(PieceLayer.at(ear, 40, 250, name="ear"))
    marks = AnnotationLayer([Ellipse(p0=(470.0, 20.0), p1=(570.0, 110.0)), Arrow(start=(100, 100), end=(200, 150))],
                            name="pen")
    doc.add_layer(marks)
    doc.add_reference(cat(), "chelsea")
    doc.history.clear()
    return doc


def test_build_request_copies_what_the_backend_needs():
    doc = collage_document()
    req = build_request(doc, "make it natural", "refine-collage", ClassicalBackend.capabilities)
    assert np.array_equal(req.image, doc.render())
    assert not np.array_equal(req.image, doc.render(roles=("content", "annotation")))  # no pen in the image
    assert req.annotation_overlay is not None and req.annotation_overlay[20:110, 470:570, 3].any()
    assert [m.kind for m in req.marks] == ["ellipse", "arrow"]
    assert [p.name for p in req.pieces] == ["eye", "ear"]
    assert req.pieces[0].rect == (350, 200, 180, 160)
    assert not any(p.outline for p in req.pieces)  # neither is cut out
    ear = next(lyr for lyr in doc.layers if lyr.name == "ear")
    ear.set_cutout(np.where(np.arange(100)[None, :] < 60, 255, 0).astype(np.uint8).repeat(90, axis=0))
    cut = build_request(doc, "make it natural", "refine-collage", ClassicalBackend.capabilities)
    assert [p.outline for p in cut.pieces] == [False, True]  # a cut-out's edge is its subject's contour
    ear.set_cutout(None)
    assert [r.label for r in req.references] == ["chelsea"]
    assert req.selection is None
    doc.set_selection(ellipse_mask(400, 600, 300, 200, 50, 50))
    assert build_request(doc, "", "stylise").selection is not None
    assert build_request(doc, "", "stylise", use_selection=False).selection is None


def test_refine_result_becomes_one_undoable_layer_with_provenance():
    doc = collage_document()
    before = doc.render()
    pen = doc.layers[-1]
    req = build_request(doc, "make this collage a natural photo", "refine-collage", ClassicalBackend.capabilities)
    seen = []
    res = ClassicalBackend().run(req, seen.append)
    assert seen[-1].step == seen[-1].total
    layer = apply_result(doc, req, res)
    names = [lyr.name for lyr in doc.layers]
    assert names.index(layer.name) == names.index("ear") + 1 and names[-1] == "pen"  # above the pieces, below the pen
    assert not doc.layer(pen.id).visible  # hidden, not deleted
    prov = layer.provenance
    assert prov["instruction"] == "make this collage a natural photo" and prov["task"] == "refine-collage"
    assert prov["backend"] == "classical" and prov["model"].startswith("OpenCV")
    assert prov["references"] == ["chelsea"] and prov["parameters"]["strength"] == 1.0
    assert prov["duration"] >= 0 and json.loads(json.dumps(prov)) == prov
    assert not np.array_equal(doc.render(), before)
    assert doc.history.undo_label.startswith("Edit")
    doc.undo()  # one step takes it all back
    assert layer.id not in [lyr.id for lyr in doc.layers] and doc.layer(pen.id).visible
    assert np.array_equal(doc.render(), before)
    doc.redo()
    assert doc.layers[names.index(layer.name)].id == layer.id and not doc.layer(pen.id).visible


def test_removal_through_the_document_changes_only_the_marked_area():
    doc = Document.assemble(600, 400, [PixelLayer(coffee(), name="photo")])
    eye = cat()[70:150, 140:230].copy()
    doc.add_layer(PieceLayer.at(eye, 480, 25, name="eye"))
    doc.add_layer(AnnotationLayer([Ellipse(p0=(470.0, 15.0), p1=(580.0, 115.0))], name="pen"))
    before = doc.render()
    req = build_request(doc, "", "remove", ClassicalBackend.capabilities)
    layer = apply_result(doc, req, ClassicalBackend().run(req))
    after = doc.render()
    x, y, w, h = layer.bounds().as_tuple()
    outside = np.ones((400, 600), bool)
    outside[y:y + h, x:x + w] = False
    assert np.array_equal(after[outside], before[outside])
    assert w < 140 and h < 130


def test_a_cancelled_job_adds_nothing():
    doc = collage_document()
    index = doc.history.index
    req = build_request(doc, "", "refine-collage")
    tok = CancelToken()

    def progress(u):
        if u.step >= 2:
            tok.cancel()

    with pytest.raises(Cancelled):
        ClassicalBackend().run(req, progress, tok)
    assert doc.history.index == index and len(doc.layers) == 4


def test_apply_result_refuses_a_stale_request():
    doc = collage_document()
    req = build_request(doc, "", "stylise")
    res = ClassicalBackend().run(req)
    small = Document.assemble(100, 100, [PixelLayer(coffee()[:100, :100])])
    from canvas.errors import CanvasError
    with pytest.raises(CanvasError, match="changed size"):
        apply_result(small, req, res)


def test_a_step_preview_goes_where_the_result_will_go():
    from desktop.headless.edit_request import place_preview
    from inference.request import EditRequest

    image = np.full((100, 200, 4), 255, np.uint8)
    sel = np.zeros((100, 200), np.uint8)
    sel[20:40, 50:90] = 255
    green = np.tile(np.array([0, 255, 0, 255], np.uint8), (20, 30, 1))  # the crop worked on at half size
    # a region edit: the crop (40, 10, 60, 40) around the selection; only the selection shows
    req = EditRequest(image, "x", selection=sel, origin=(5, 7))
    shown, rect = place_preview(req, green, (40, 10, 60, 40))
    assert rect == (45, 17, 60, 40)  # in canvas pixels: the request's origin added
    assert shown.shape == green.shape and green[..., 3].min() == 255  # the backend's picture is untouched
    # preview pixel (r, c) covers crop pixels (2r, 2c): selection rows 10..29, columns 10..49 of the crop
    assert shown[7, 7, 3] == 255 and shown[12, 22, 3] == 255  # preview rows 5..14, columns 5..24
    assert shown[2, 2, 3] == 0 and shown[17, 27, 3] == 0
    # a whole-image edit shows all of it
    shown, rect = place_preview(EditRequest(image, "x"), green, (0, 0, 200, 100))
    assert rect == (0, 0, 200, 100) and shown is green


def test_a_style_result_is_named_as_the_task_box_names_it():
    pixels = np.full((48, 64, 4), 255, np.uint8)
    pixels[10:30, 10:40, :3] = (40, 80, 160)
    doc = Document.assemble(64, 48, [PixelLayer(pixels, name="Background")])
    backend = ClassicalBackend()
    request = build_request(doc, "", "stylise", backend.capabilities, params={"style": "pencil"})
    layer = apply_result(doc, request, backend.run(request))
    assert layer.name == "Style: pencil"
    other = build_request(doc, "", "remove", backend.capabilities, mask=np.pad(np.full((8, 8), 255, np.uint8),
                                                                              ((20, 20), (28, 28))))
    assert apply_result(doc, other, backend.run(other)).name == "Remove"
