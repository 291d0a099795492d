"""Pen marks copied into a result — whole, in part, shifted, recoloured — are found and taken out; a red
object that was in the picture is not; what cannot be cleaned is said."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inference.pen import cleanup as MC
from tests.inference.photos import coffee

RED = (230, 30, 30, 255)


def overlay_of(shape, shift=(0, 0), colour=RED, part: float = 1.0) -> np.ndarray:
    """The red pen's marks as the canvas renders them: an ellipse and an arrow (anti-aliased)."""
    h, w = shape
    ov = np.zeros((h, w, 4), np.uint8)
    dx, dy = shift
    end = int(360 * part)
    cv2.ellipse(ov, (300 + dx, 180 + dy), (70, 45), 0, 0, end, colour, 6, cv2.LINE_AA)
    if part >= 1.0:
        cv2.arrowedLine(ov, (80 + dx, 330 + dy), (220 + dx, 220 + dy), colour, 6, cv2.LINE_AA, tipLength=0.2)
    return ov


def over(img: np.ndarray, ov: np.ndarray) -> np.ndarray:
    a = ov[..., 3:4].astype(np.float32) / 255
    out = img.copy()
    out[..., :3] = (ov[..., :3] * a + img[..., :3] * (1 - a) + 0.5).astype(np.uint8)
    return out


def mark_like(img: np.ndarray, drawn: np.ndarray, base: np.ndarray) -> int:
    """Pixels of ``img`` near the drawn marks that look like the red pen and were not so in ``base`` (the
    picture without marks: the coffee photo has a red-brown saucer of its own)."""
    def lab(a):
        return cv2.cvtColor(a[..., :3].astype(np.float32) / 255, cv2.COLOR_RGB2LAB)

    red = cv2.cvtColor(np.array([[RED[:3]]], np.float32) / 255, cv2.COLOR_RGB2LAB)[0, 0]
    band = cv2.dilate(drawn.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    reddish = np.linalg.norm(lab(img) - red, axis=2) < 40
    new = np.linalg.norm(lab(img) - lab(base), axis=2) > 10
    return int((reddish & new & band).sum())


@pytest.mark.parametrize("how", ["whole", "in part", "shifted", "recoloured"])
def test_copied_marks_are_found_and_restored_from_the_picture(how):
    photo = coffee()
    drawn = overlay_of(photo.shape[:2])
    copy = {"whole": overlay_of(photo.shape[:2]), "in part": overlay_of(photo.shape[:2], part=0.5),
            "shifted": overlay_of(photo.shape[:2], shift=(4, -3)),
            "recoloured": overlay_of(photo.shape[:2], colour=(205, 55, 45, 255))}[how]
    result = over(photo, copy)
    assert mark_like(result, drawn[..., 3] > 0, photo) > 500
    cleaned, c = MC.clean(result, photo, drawn, [RED], 6.0)
    assert c.removed > 500 and c.restored == c.removed and not c.warning()
    assert mark_like(cleaned, drawn[..., 3] > 0, photo) < 20
    off = np.abs(cleaned.astype(int) - photo.astype(int)).max(axis=2)
    assert (off > 1).sum() < 30 and (off > 0).mean() < 0.001  # the picture itself, restored (a recoloured
    # arrow tip can leave a few pixels: its blend with the background is too far from the pen's colour)
    assert "pen marks removed" in c.note()


def test_where_the_edit_changed_the_area_the_marks_are_inpainted_from_the_result():
    photo = coffee()
    drawn = overlay_of(photo.shape[:2])
    edited = photo.copy()
    edited[120:240, 220:380] = (40, 90, 200, 255)  # the model put something new where the ellipse was …
    result = over(edited, drawn)  # … and copied the marks on top
    cleaned, c = MC.clean(result, photo, drawn, [RED], 6.0)
    assert c.removed > 500 and c.restored < c.removed and c.remaining == 0
    # (inpainting fills from what is around, the saucer's red-brown included: a few reddish pixels are picture)
    assert mark_like(cleaned, drawn[..., 3] > 0, edited) < 80
    inside = cleaned[150:210, 260:340, :3].astype(int)
    assert np.abs(inside - np.array([40, 90, 200])).max() < 30  # the new content stays, without the red line


def test_a_red_object_of_the_picture_is_not_a_mark():
    photo = coffee()
    photo[170:200, 360:380] = RED  # something red that was there before, under the ellipse's line
    drawn = overlay_of(photo.shape[:2])
    cleaned, c = MC.clean(photo.copy(), photo, drawn, [RED], 6.0)  # the model copied no marks
    assert c.removed == 0 and np.array_equal(cleaned, photo)


def test_a_red_thing_the_model_made_near_the_marks_stays():
    """ "place a red bus at the red circle": a red blob inside the circle, touching its line, is not a mark."""
    photo = coffee()
    drawn = overlay_of(photo.shape[:2])
    edited = photo.copy()
    edited[150:215, 240:330] = RED  # the red "bus", as wide as the circle's line is thin
    cleaned, c = MC.clean(edited, photo, drawn, [RED], 6.0)
    assert (cleaned[160:205, 250:320] == edited[160:205, 250:320]).all()


def test_marks_that_stay_are_warned_about(monkeypatch):
    photo = coffee()
    edited = photo.copy()
    edited[100:260, 200:400] = (20, 140, 60, 255)  # the edit changed the area: the marks must be inpainted …
    drawn = overlay_of(photo.shape[:2])
    monkeypatch.setattr(MC.cv2, "inpaint", lambda img, mask, r, flags: img)  # … and inpainting fails to remove them
    _, c = MC.clean(over(edited, drawn), photo, drawn, [RED], 6.0)
    assert c.remaining > MC.LEFT_OVER and "may still show the pen marks" in c.warning()
