"""Collage refine that keeps every piece recognisable: the classical refine's figures on real photographs
(tests/inference/collage_cases.py) as thresholds, and each piece's identity strength honoured by the
classical backend and by a model (a tiny diffusers family through the app's own path)."""

from __future__ import annotations

import numpy as np
import pytest

from canvas.document import Document
from canvas.layers import PieceLayer, PixelLayer
from desktop.headless.edit_request import apply_result, build_request
from inference.classical import ClassicalBackend
from inference.collage.identity import interior
from inference.errors import InvalidRequest
from inference.region import composite_over
from inference.request import EditRequest, Piece
from tests.inference import collage_cases as CC

NAMES = [c[0] for c in CC.CASES]


def refine(c: CC.Collage, identity: float | None = None, **params) -> np.ndarray:
    pieces = c.pieces if identity is None else tuple(Piece(p.mask, p.x, p.y, p.name, identity) for p in c.pieces)
    res = ClassicalBackend().run(EditRequest(c.image, task="refine-collage", pieces=pieces, params=params))
    return composite_over(c.image, res.images[0], res.rect)


@pytest.mark.parametrize("name", NAMES)
def test_the_light_is_harmonised_without_bleaching_the_piece(name):
    c = CC.make(name)
    out = refine(c)
    m = CC.measure(c, out)
    assert m["gap_after"] <= 0.4 * m["gap_before"], m  # the colour step at the edge falls by ≥ 60 %
    assert m["spread_kept"] >= 0.85, m  # the piece's own chroma spread stays
    assert m["seam_after"] <= 0.5 * m["seam_before"], m  # the seam's gradient falls (as the old refine's did)
    assert CC.changed_far(c.image, out, c.solid, 80) == 0  # nothing changes away from the piece


def test_identity_decides_how_much_of_the_interior_the_classical_refine_may_change():
    c = CC.make("cup-on-astronaut")
    size = max(c.pieces[0].mask.shape)
    deep = interior(c.pieces[0].full_mask(c.image.shape[:2]), 0.12 * size + 3) >= 1
    diff = {}
    for t in (1.0, 0.85, 0.0):
        out = refine(c, identity=t)
        diff[t] = np.abs(out[..., :3].astype(int) - c.image[..., :3].astype(int)).max(axis=2)[deep].mean()
    assert diff[1.0] <= 1.0  # at 100 % the interior is the collage's own pixels
    assert diff[1.0] < diff[0.85] < diff[0.0] and diff[0.0] > 10  # lower: more of the scene's light, then repainted
    with pytest.raises(InvalidRequest, match="identity must be between 0 and 1"):
        Piece(c.pieces[0].mask, 0, 0, "p", 1.2)


def test_a_cut_out_keeps_its_contour_and_takes_the_light():
    """A cut-out (Piece.outline) has no pasted background at its edge: the refine must not wash its
    contour into the scene (it made a vivid cut-out look half transparent), only harmonise its light."""
    results = {}
    for outline in (False, True):
        c = CC.cutout_disc(outline)
        out = refine(c)
        m = CC.measure(c, out)
        size = max(c.pieces[0].mask.shape)
        full = c.pieces[0].full_mask(c.image.shape[:2])
        near_edge = (interior(full, 3) >= 1) & ~(interior(full, 0.12 * size) >= 1)
        change = np.abs(out[..., :3].astype(int) - c.image[..., :3].astype(int)).max(axis=2)[near_edge].mean()
        results[outline] = (m, change)
        assert CC.changed_far(c.image, out, c.solid, 80) == 0
    (plain, plain_change), (cut, cut_change) = results[False], results[True]
    assert cut["gap_after"] >= 0.7 * cut["gap_before"], cut  # the contour stays
    assert plain["gap_after"] < 0.5 * plain["gap_before"]  # what a pasted rectangle's edge gets
    assert cut_change < 0.5 * plain_change, (cut_change, plain_change)  # no washed band inside the edge
    assert cut["spread_kept"] >= 0.9, cut
    assert cut["interior_diff"] > 1.0  # its light still moved toward the scene's


@pytest.fixture(scope="module")
def tiny_kontext(tmp_path_factory):
    from tests.inference import tiny_pipelines as tp

    return tp.save_tiny("flux-kontext", tmp_path_factory.mktemp("kontext") / "tiny-kontext")


def test_a_model_refine_keeps_each_piece_as_its_identity_says_and_records_it(tiny_kontext):
    """A tiny random Kontext repaints everything; the pieces' interiors come back as their strengths say."""
    from inference.diffusion import backend_for_model

    rng = np.random.default_rng(4)
    bg = np.full((32, 32, 4), 255, np.uint8)
    bg[..., :3] = rng.integers(0, 256, (32, 32, 3))
    doc = Document(32, 32)
    doc.add_layer(PixelLayer(bg, name="scene"))
    piece = np.full((20, 20, 4), 255, np.uint8)
    piece[..., :3] = (220, 40, 60)
    piece[5:15, 5:15, :3] = (30, 200, 90)
    keep = doc.add_layer(PieceLayer.at(piece, 6, 6, name="kept"))
    backend = backend_for_model(tiny_kontext, working_size=32)
    collage = doc.render()
    full = np.zeros((32, 32), np.uint8)
    full[keep.bounds().slices()] = keep.read(keep.bounds())[..., 3]
    deep = interior(full, 4.0) >= 1  # 4 px in from the piece's edge (the edge is the model's)

    def run(identity: float):
        doc.layers[1].identity = identity
        req = build_request(doc, "Make this collage a natural photograph", params={"refine": True}, steps=2,
                            seed=3)
        res = backend.run(req)
        return req, res, composite_over(req.image, res.images[0], res.rect)

    req, res, out = run(1.0)
    inside = np.abs(out[..., :3].astype(int) - collage[..., :3].astype(int)).max(axis=2)[deep]
    assert inside.max() <= 1, res.notes  # at 100 % the piece's interior is the collage's
    assert any(n.startswith("piece identity: kept: 100 % kept") for n in res.notes)
    layer = apply_result(doc, req, res)
    assert layer.provenance["pieces"] == [{"name": "kept", "identity": 1.0}]
    doc.undo()
    _, res0, out0 = run(0.0)
    inside0 = np.abs(out0[..., :3].astype(int) - collage[..., :3].astype(int)).max(axis=2)[deep]
    assert inside0.mean() > 20  # at 0 the model may repaint it (and the random model does)
    assert not any(n.startswith("piece identity") for n in res0.notes)
    # an edit that is not a refine leaves the pieces to the model
    doc.layers[1].identity = 1.0
    req = build_request(doc, "anything", steps=2, seed=3)
    res = backend.run(req)
    assert not any(n.startswith("piece identity") for n in res.notes) and not req.params.get("refine")
