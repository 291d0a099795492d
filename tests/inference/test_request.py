"""The request and result: plain frozen data, validated with errors a person can act on."""

import json

import numpy as np
import pytest

from inference.errors import InvalidRequest
from inference.request import EditRequest, EditResult, MarkData, Piece, Reference


def img(h=32, w=48):
    a = np.zeros((h, w, 4), np.uint8)
    a[..., 3] = 255
    return a


def test_request_copies_and_freezes_its_arrays():
    src = img()
    req = EditRequest(src, "make it blue", task=None)
    src[0, 0] = 7  # the document changes after the request was made
    assert req.image[0, 0, 0] == 0
    with pytest.raises(ValueError):
        req.image[0, 0, 0] = 1
    with pytest.raises(AttributeError):
        req.instruction = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        req.params["k"] = 1  # type: ignore[index]


@pytest.mark.parametrize("kwargs, words", [
    ({"image": np.zeros((4, 4, 3), np.uint8)}, "RGBA"),
    ({"image": np.zeros((4, 4, 4), np.float32)}, "RGBA"),
    ({"selection": np.zeros((5, 5), np.uint8)}, "selection"),
    ({"annotation_use": frozenset({"draw", "telepathy"})}, "telepathy"),
    ({"region": "selection"}, "nothing is selected"),
    ({"seed": -1}, "seed"),
    ({"seed": True}, "seed"),
    ({"steps": 0}, "steps"),
    ({"guidance": float("nan")}, "guidance"),
    ({"strength": 1.5}, "strength"),
    ({"variations": 0}, "variations"),
    ({"size_policy": "huge"}, "size policy"),
    ({"loras": (("a.safetensors",),)}, "LoRA"),
    ({"references": (np.zeros((2, 2, 4), np.uint8),)}, "Reference"),
])
def test_invalid_requests_say_what_is_wrong(kwargs, words):
    kw = {"image": img()} | kwargs
    with pytest.raises(InvalidRequest, match=words):
        EditRequest(**kw)


def test_empty_selection_counts_as_none_and_describe_is_json():
    req = EditRequest(img(), "x", selection=np.zeros((32, 48), np.uint8), seed=5, loras=(("l.safetensors", 0.8),),
                      references=(Reference("cat", img(8, 8)),), params={"style": "pencil"})
    assert req.selection is None
    d = req.describe()
    assert json.loads(json.dumps(d)) == d
    assert d["seed"] == 5 and d["loras"] == [["l.safetensors", 0.8]] and d["params"] == {"style": "pencil"}


def test_marks_and_pieces_are_plain_data():
    m = MarkData("ellipse", [(1, 2), (11, 12)], width=4, closed=True)
    assert m.bbox() == (-1.0, 0.0, 13.0, 14.0)
    t = m.transformed(-1, -2, 2.0)
    assert t.points == ((0.0, 0.0), (20.0, 20.0)) and t.width == 8.0
    with pytest.raises(InvalidRequest):
        MarkData("blob", ((0, 0),))
    p = Piece(np.full((3, 4), 255, np.uint8), 46, 30)
    full = p.full_mask((32, 48))
    assert full.sum() == 255 * 2 * 2  # clipped at the image edge


def test_result_checks_its_images_against_its_rect():
    a = np.zeros((10, 20, 4), np.uint8)
    r = EditResult((a,), (1, 2, 20, 10), (None,), {"x": 0.5, "y": 0.25}, "b", "m")
    assert r.duration == pytest.approx(0.75)
    with pytest.raises(ValueError):
        EditResult((a,), (0, 0, 10, 10), (None,), {}, "b", "m")
    with pytest.raises(ValueError):
        EditResult((), (0, 0, 10, 10), (), {}, "b", "m")
