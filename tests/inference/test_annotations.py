"""Pen marks turned into masks, drawn overlays, references and grounded phrases."""

import numpy as np

from inference.backend import Capabilities
from inference.pen.annotations import (
    annotation_mask,
    colour_name,
    draw_overlay,
    grounded_phrase,
    is_loop,
    marks_mask,
    position_words,
    prepare,
)
from inference.request import EditRequest, MarkData
from tests.inference.photos import astronaut

RED = (230, 30, 30, 255)


def loop(cx, cy, r, n=40):
    t = np.linspace(0, 2 * np.pi, n)
    return MarkData("stroke", tuple(zip(cx + r * np.cos(t), cy + r * np.sin(t), strict=True)), width=5)


def test_closed_shapes_are_filled_open_strokes_are_thick_arrows_and_text_are_not_areas():
    shape = (200, 300)
    ell = MarkData("ellipse", ((20, 20), (80, 60)), width=4, closed=True)
    m = marks_mask((ell,), shape)
    assert m[40, 50] == 255 and m[100, 150] == 0
    stroke = MarkData("stroke", ((150, 100), (250, 100)), width=10)
    m = marks_mask((stroke,), shape)
    assert m[100, 200] == 255 and m[97, 200] == 255 and m[110, 200] == 0
    arrow = MarkData("arrow", ((10, 190), (100, 150)), width=6)
    text = MarkData("text", ((200, 20),), text="bus here")
    assert not marks_mask((arrow, text), shape).any()
    circled = loop(150, 100, 40)
    assert is_loop(circled)
    m = marks_mask((circled,), shape)
    assert m[100, 150] == 255  # the inside of a freehand loop counts
    assert not is_loop(stroke)


def test_grounded_phrase_describes_where_the_marks_are():
    shape = (600, 900)
    ell = MarkData("ellipse", ((40, 30), (200, 150)), color=RED, closed=True)
    assert grounded_phrase((ell,), shape) == "(the area circled in red, in the upper left of the image)"
    box = MarkData("rectangle", ((700, 450), (880, 590)), color=(30, 60, 220, 255), closed=True)
    arrow = MarkData("arrow", ((450, 500), (450, 310)), color=RED)
    text = grounded_phrase((box, arrow), shape)
    assert "boxed in blue, in the lower right" in text and "arrow points to, in the centre" in text
    assert grounded_phrase((), shape) == ""
    assert position_words(450, 20, 900, 600) == "top"
    assert position_words(20, 300, 900, 600) == "left side"
    assert colour_name((20, 20, 25)) == "black"


def test_prepare_applies_each_annotation_use():
    img = astronaut()
    ell = MarkData("ellipse", ((300, 40), (420, 160)), width=6, closed=True)
    overlay = np.zeros_like(img)
    overlay[40:46, 300:420] = RED
    base = dict(image=img, instruction="put a moon here", marks=(ell,), annotation_overlay=overlay)
    caps = Capabilities(max_references=2, takes_mask=True)

    req, warns = prepare(EditRequest(**base, annotation_use={"draw"}), caps)
    assert tuple(req.image[42, 350]) == RED and req.instruction == "put a moon here" and not warns
    req, _ = prepare(EditRequest(**base, annotation_use={"phrase"}), caps)
    assert req.instruction.startswith("put a moon here (the area circled in red, in the upper right")
    assert np.array_equal(req.image, img)
    req, _ = prepare(EditRequest(**base, annotation_use={"mask"}), caps)
    assert req.annotation_mask[100, 360] == 255 and req.annotation_mask[300, 100] == 0
    req, _ = prepare(EditRequest(**base, annotation_use={"reference"}), caps)
    assert [r.label for r in req.references] == ["annotations"]
    assert tuple(req.references[0].image[42, 350]) == RED
    _, warns = prepare(EditRequest(**base, annotation_use={"mask"}), Capabilities())
    assert warns and "no mask" in warns[0]


def test_defaults_follow_the_capabilities():
    img = astronaut()
    ell = MarkData("ellipse", ((300, 40), (420, 160)), closed=True)
    overlay = np.zeros_like(img)
    overlay[40:46, 300:420] = RED
    req = EditRequest(img, "x", marks=(ell,), annotation_overlay=overlay)
    native, _ = prepare(req, Capabilities(native_annotations=True))
    assert native.annotation_use == {"draw"} and tuple(native.image[42, 350]) == RED
    text_only, _ = prepare(req, Capabilities())
    assert text_only.annotation_use == {"phrase"} and np.array_equal(text_only.image, img)


def test_painted_annotations_without_vectors_still_give_a_mask():
    img = astronaut()
    overlay = np.zeros_like(img)
    import cv2
    cv2.circle(overlay, (200, 200), 50, RED, 4)
    m = annotation_mask(EditRequest(img, "x", annotation_overlay=overlay))
    assert m[200, 200] == 255 and m[20, 20] == 0
    drawn = draw_overlay(img, overlay)
    assert tuple(drawn[200, 250]) == RED and np.array_equal(drawn[200, 200], img[200, 200])
