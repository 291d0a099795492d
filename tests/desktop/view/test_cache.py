"""The view's QImage mirror of a projection (desktop.view.cache): premultiplied in place, with
the compiled pass and with numpy, after whole and partial changes, and its mip levels."""

import cv2
import numpy as np
import pytest

from canvas.blend import premultiply_uint8
from canvas.document import Document
from canvas.geometry import Rect
from canvas.layers import PixelLayer
from desktop.qimage import qimage_to_rgba
from desktop.view.cache import ProjectionCache
from tests.canvas.helpers import random_rgba


def image_pixels(img) -> np.ndarray:
    """The premultiplied bytes of a Format_RGBA8888_Premultiplied image, as stored."""
    h, w = img.height(), img.width()
    rows = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h).reshape(h, -1)
    return rows[:, : w * 4].reshape(h, w, 4).copy()


def area_level(full: np.ndarray, f: int) -> np.ndarray:
    """OpenCV's area average by ``f`` of premultiplied pixels, transparent past the edge."""
    h, w = full.shape[:2]
    padded = np.zeros((-(-h // f) * f, -(-w // f) * f, 4), np.uint8)
    padded[:h, :w] = full
    return cv2.resize(padded, (padded.shape[1] // f, padded.shape[0] // f), interpolation=cv2.INTER_AREA)


@pytest.fixture(params=["compiled", "numpy"])
def loops(request, monkeypatch):
    """Both ways: the compiled passes of canvas.kernels (when numba is on) and numpy / OpenCV."""
    from canvas import kernels

    if request.param == "numpy":
        monkeypatch.setattr(kernels, "ENABLED", False)
    elif not kernels.enabled():
        pytest.skip("the numba loops are off (numba not installed, or AKAPEN_NO_NUMBA=1)")
    return request.param


def test_the_image_holds_the_premultiplied_projection_after_every_change(qapp, loops):
    rng = np.random.default_rng(21)
    doc = Document(301, 203)
    doc.add_layer(PixelLayer(random_rgba(rng, 203, 301)))
    top = doc.add_layer(PixelLayer(random_rgba(rng, 80, 90), 30, 40, opacity=0.7))
    proj = doc.projection(("content",))
    cache = ProjectionCache(proj)
    cache.sync()
    assert np.array_equal(image_pixels(cache.image), premultiply_uint8(proj.pixels))
    before = image_pixels(cache.image)
    doc.set_layer_props(top.id, opacity=0.2)
    changed = cache.sync()
    now = image_pixels(cache.image)
    assert np.array_equal(now, premultiply_uint8(proj.pixels))
    outside = np.ones(now.shape[:2], bool)
    outside[changed.slices()] = False
    assert outside.any() and np.array_equal(now[outside], before[outside])  # only the changed part written
    assert not np.array_equal(now, before)
    # what Qt reads back from the image is the straight composite, within premultiplied rounding
    straight = qimage_to_rgba(cache.image).astype(int)
    seen = proj.pixels[..., 3] >= 64
    assert np.abs(straight[seen] - proj.pixels[seen].astype(int)).max() <= 2


def test_mip_levels_follow_changes(qapp, loops):
    rng = np.random.default_rng(22)
    doc = Document(257, 190)  # not a multiple of 2 or 4: the last blocks are partly outside
    doc.add_layer(PixelLayer(random_rgba(rng, 190, 257)))
    top = doc.add_layer(PixelLayer(random_rgba(rng, 60, 60), 100, 50))
    proj = doc.projection(("content",))
    cache = ProjectionCache(proj)
    cache.sync()
    for k in (1, 2):
        got = image_pixels(cache.level(k)).astype(int)
        want = area_level(premultiply_uint8(proj.pixels), 1 << k).astype(int)
        assert got.shape == want.shape and np.abs(got - want).max() <= 1, k
    first = image_pixels(cache.level(1))
    doc.paint(top.id, Rect(100, 50, 20, 20), np.full((20, 20, 4), 255, np.uint8))
    cache.sync()
    again = image_pixels(cache.level(1))
    want = area_level(premultiply_uint8(proj.pixels), 2)
    assert np.abs(again.astype(int) - want).max() <= 1 and not np.array_equal(again, first)
    changed = np.any(again != first, axis=2)
    rows, cols = np.nonzero(changed)
    assert rows.min() >= 25 and rows.max() < 35 and cols.min() >= 50 and cols.max() < 60  # only the painted part
    assert np.array_equal(image_pixels(cache.image), premultiply_uint8(proj.pixels))  # full size caught up when asked
