"""The red pen per model family: each family's way of being given the marks (drawn in, a second image, a
mask, a green fill, the region), the words the model reads, switching the way, and what Backend.run does
after a model: its drift and colour taken out, the marks it copied removed."""

from __future__ import annotations

import numpy as np
import pytest

from inference.backend import Capabilities
from inference.diffusion import BACKENDS, backend_class
from inference.errors import InvalidRequest
from inference.pen import annotations
from inference.pen import strategies as MS
from tests.inference.drift_backend import RED, DriftBackend, marked_request
from tests.inference.test_mark_cleanup import mark_like


def caps_of(family: str) -> Capabilities:
    return backend_class(family)(None).capabilities


def test_every_family_has_strategies_with_wording():
    words = MS.wording()
    for name, fam in MS.FAMILIES.items():
        assert fam.strategies and set(fam.strategies) <= set(MS.STRATEGIES), name
        for s in fam.strategies:
            assert {"label", "instruction", "describe"} <= set(words[s])
            assert "{" not in MS.label(s, name) and "{" not in MS.describe(s, name)
    for family in BACKENDS:  # every diffusers family but the layer split says how it reads the pen
        caps = caps_of(family)
        if family == "qwen-image-layered":
            assert caps.marks is None and not caps.aligns
        else:
            assert caps.marks == family and caps.aligns


@pytest.mark.parametrize("family, strategy", [
    ("qwen-image-edit", "draw"), ("qwen-image-edit-plus", "extra_image"), ("flux2", "extra_image"),
    ("flux2-klein", "extra_image"), ("flux-fill", "mask"), ("flux-kontext", "region"),
    ("instruct-pix2pix", "region"), ("chronoedit", "region"), ("omnigen", "region"), ("framepack", "region"),
])
def test_each_family_gets_the_marks_its_way(family, strategy):
    req = marked_request()
    out, warns = annotations.prepare(req, caps_of(family))
    assert out.mark_strategy == strategy and not warns
    red_at = (135, 300)  # on the ellipse's top edge
    if strategy == "draw":
        assert tuple(out.image[red_at]) == RED[:3] + (255,) or out.image[red_at][0] > 200
        assert "red marks drawn on the picture" in out.instruction and "must not appear" in out.instruction
    else:
        assert np.array_equal(out.image, req.image)  # the picture itself stays clean
    if strategy == "extra_image":
        assert out.references[0].label == "marks" and out.references[0].image[red_at][0] > 200
        said = "Picture 2 is Picture 1" if family == "qwen-image-edit-plus" else "Image 2 is image 1"
        assert f"circle. {said} with red marks" in out.instruction and "do not draw the marks" in out.instruction
    if strategy == "mask":
        assert out.annotation_mask[180, 300] == 255 and out.annotation_mask[20, 20] == 0
    if strategy == "region":
        assert out.selection is not None and out.selection[180, 300] == 255 and out.selection[20, 20] == 0
        assert "circled in red" in out.instruction
    assert out.instruction.startswith("put a blue ball in the circle")


def test_the_way_can_be_switched_and_a_way_the_model_cannot_take_falls_back():
    req = marked_request(mark_strategy="green")
    out, warns = annotations.prepare(req, caps_of("flux2-klein"))
    assert out.mark_strategy == "green" and not warns
    assert tuple(out.image[180, 300, :3]) == (0, 255, 0) and tuple(out.image[20, 20]) == tuple(req.image[20, 20])
    assert "Fill the green spaces according to the image." in out.instruction
    out, warns = annotations.prepare(marked_request(mark_strategy="draw"), caps_of("qwen-image-edit-plus"))
    assert out.mark_strategy == "draw" and not out.references and out.image[135, 300, 0] > 200
    # a model without room for another image gets the marks drawn in, one without a mask the region
    out, warns = annotations.prepare(marked_request(mark_strategy="extra_image"), caps_of("qwen-image-edit"))
    assert out.mark_strategy == "draw" and "no more images" in warns[0]
    out, warns = annotations.prepare(marked_request(mark_strategy="mask"), caps_of("flux-kontext"))
    assert out.mark_strategy == "region" and "no mask" in warns[0]
    with pytest.raises(InvalidRequest, match="unknown way to give the marks"):
        marked_request(mark_strategy="telepathy")


def test_chronoedit_with_its_paint_brush_lora_reads_the_marks_drawn_in():
    assert MS.default("chronoedit") == "region"
    assert MS.default("chronoedit", [("/loras/chronoedit-paint-brush.safetensors", 1.0)]) == "draw"
    out, _ = annotations.prepare(marked_request(loras=(("/l/ChronoEdit_Paint_Brush.safetensors", 1.0),)),
                                 caps_of("chronoedit"))
    assert out.mark_strategy == "draw"


def test_a_backend_without_strategies_keeps_its_own_ways():
    req = marked_request()
    out, _ = annotations.prepare(req, Capabilities(native_annotations=True))  # as the classical backend is
    assert out.mark_strategy is None and out.annotation_use == {"draw"}
    # a strategy backend told the ways by hand (the panel's Custom, --annotation-use) takes them
    out, _ = annotations.prepare(marked_request(annotation_use={"phrase"}), caps_of("qwen-image-edit"))
    assert out.mark_strategy is None and np.array_equal(out.image, req.image) and "circled in red" in out.instruction


def _unchanged(shape, border=14):
    """Where the drift backend changed nothing: away from the ellipse, the ball and the edges."""
    import cv2

    m = np.ones(shape, np.uint8)
    cv2.ellipse(m, (300, 180), (70 + 16, 45 + 16), 0, 0, 360, 0, -1)
    m[:border], m[-border:], m[:, :border], m[:, -border:] = 0, 0, 0, 0
    return m.astype(bool)


def test_a_drifting_model_result_is_aligned_and_rid_of_the_marks_it_copied():
    DriftBackend.seen.clear()
    req = marked_request()
    res = DriftBackend().run(req)
    seen = DriftBackend.seen[-1]
    assert seen.image[135, 300, 0] > 200  # it was shown the marks drawn in (qwen-image-edit's way) …
    assert "must not appear" in res.instruction_used
    out = np.asarray(res.images[0])
    assert res.rect == (0, 0, req.width, req.height)
    keep = _unchanged(req.shape)
    diff = np.abs(out[..., :3].astype(int) - req.image[..., :3].astype(int)).max(axis=2)
    assert np.median(diff[keep]) <= 1 and np.mean(diff[keep]) < 2.0  # … its drift and colour cast are gone
    ball = out[180, 300, :3].astype(int)
    assert ball[2] > 180 and ball[0] < 90  # the edit is there
    drawn = req.annotation_overlay[..., 3] > 32
    assert mark_like(out, drawn, req.image) < 40  # and the red ellipse it copied is not
    assert any(n.startswith("aligned:") for n in res.notes)
    assert any("pen marks removed" in n for n in res.notes)
    assert "align" in res.timings


def test_align_off_pastes_the_model_result_as_it_came():
    req = marked_request(align=False)
    res = DriftBackend().run(req)
    out = np.asarray(res.images[0])
    keep = _unchanged(req.shape)
    diff = np.abs(out[..., :3].astype(int) - req.image[..., :3].astype(int)).max(axis=2)
    assert np.mean(diff[keep]) > 5  # the drift and the colour cast stay
    assert not any(n.startswith("aligned") for n in res.notes)


def test_variations_each_get_their_own_notes():
    class Two(DriftBackend):
        name = "test-drift-2"

        def edit(self, request, reporter):
            (a,), seeds, w = super().edit(request, reporter)
            return [a, request.image.copy()], [1, 2], w

    res = Two().run(marked_request(variations=2))
    assert len(res.images) == 2
    assert any(n.startswith("result 1: aligned") for n in res.notes)
    assert any(n.startswith("result 2: ") for n in res.notes)


def test_the_classical_backend_is_not_aligned():
    from inference.classical import ClassicalBackend

    caps = ClassicalBackend.capabilities
    assert not caps.aligns and caps.marks is None
    res = ClassicalBackend().run(marked_request(task="remove", instruction=""))
    assert not res.notes and "align" not in res.timings


@pytest.fixture(scope="module")
def tiny_klein(tmp_path_factory):
    from tests.inference import tiny_pipelines as tp

    return tp.save_tiny("flux2-klein", tmp_path_factory.mktemp("klein") / "tiny-klein")


def test_klein_reads_a_mask_from_the_marks_on_its_inpainting_pipeline(tiny_klein, monkeypatch):
    """FLUX.2 klein with the "mask" way runs diffusers' Flux2KleinInpaintPipeline, built on the loaded
    model's own components, with the marked area as its mask; its default way sends the marked picture
    as image 2."""
    import cv2

    from inference.diffusion import backend_for_model, runtime
    from inference.diffusion.flux2 import inpaint_class
    from inference.request import EditRequest, MarkData

    if inpaint_class() is None:
        pytest.skip("this diffusers has no Flux2KleinInpaintPipeline")
    calls = []
    real = runtime.call

    def spy(loaded, kwargs, *a, **kw):
        calls.append((type(loaded.pipe).__name__, kwargs))
        return real(loaded, kwargs, *a, **kw)

    monkeypatch.setattr(runtime, "call", spy)
    img = np.full((64, 64, 4), 255, np.uint8)
    img[..., :3] = np.random.default_rng(0).integers(0, 256, (64, 64, 3))
    overlay = np.zeros_like(img)
    cv2.ellipse(overlay, (32, 32), (14, 10), 0, 0, 360, RED, 3)
    mark = MarkData("ellipse", ((18, 22), (46, 42)), width=3, color=RED, closed=True)
    backend = backend_for_model(tiny_klein, working_size=64)
    assert backend.capabilities.takes_mask and "mask" in MS.offered("flux2-klein", backend.capabilities)
    req = EditRequest(img, "a blue ball", marks=(mark,), annotation_overlay=overlay, steps=2, seed=1,
                      mark_strategy="mask")
    res = backend.run(req)
    name, kwargs = calls[-1]
    assert name == "Flux2KleinInpaintPipeline"
    mask = np.asarray(kwargs["mask_image"])
    assert mask[32, 32] == 255 and mask[2, 2] == 0 and kwargs["image_reference"] is None
    assert res.images[0].shape[2] == 4
    res = backend.run(EditRequest(img, "a blue ball", marks=(mark,), annotation_overlay=overlay, steps=2, seed=1))
    name, kwargs = calls[-1]
    assert name == "Flux2KleinPipeline" and len(kwargs["image"]) == 2  # the clean picture, the marked one
    assert np.asarray(kwargs["image"][1])[22, 32, 0] > 200 and "Image 2 is image 1" in kwargs["prompt"]
    assert res.instruction_used == kwargs["prompt"]
