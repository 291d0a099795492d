"""The classical style presets look like their names, on real photographs, judged by measurable properties
(issue 22: pencil gave a dark, blotchy, mostly black picture), and join seamlessly tile by tile."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inference.classical import STYLES, style_fn, tiled
from inference.progress import Reporter
from tests.inference.photos import astronaut, coffee

PHOTOS = {"astronaut": astronaut, "coffee": coffee}


def _photo(name: str) -> np.ndarray:
    return np.ascontiguousarray(PHOTOS[name]()[..., :3])


def _styled(name: str, style: str) -> tuple[np.ndarray, np.ndarray]:
    img = _photo(name)
    return img, style_fn(style, max(img.shape[:2]))(img)


def _edges(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(near an edge of the input, far from every edge)."""
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.5), 40, 100).astype(np.uint8)
    near = cv2.dilate(edges, np.ones((5, 5), np.uint8)) > 0
    far = cv2.dilate(edges, np.ones((15, 15), np.uint8)) == 0
    return near, far


def _fine_detail(rgb: np.ndarray) -> float:
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(g - cv2.GaussianBlur(g, (0, 0), 2)).mean())


def _low(rgb: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), 4)


def _specks(rgb: np.ndarray) -> int:
    """Dark dots: dark blobs of fewer than 12 pixels."""
    dark = (rgb.max(axis=2) < 50).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    return int((stats[1:, cv2.CC_STAT_AREA] < 12).sum())


@pytest.mark.parametrize("name", PHOTOS)
def test_pencil_is_grey_graphite_lines_on_mostly_white_paper(name):
    img, out = _styled(name, "pencil")
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()  # greyscale
    g = out[..., 0].astype(float)
    assert np.median(g) > 200  # mostly paper
    assert (g < 40).mean() < 0.05  # no large black areas
    near, far = _edges(img)
    assert g[far].mean() > 195  # flat parts of the photo are paper, whatever their colour
    assert g[near].mean() < g[far].mean() - 20  # the photo's edges are drawn as darker lines


@pytest.mark.parametrize("name", PHOTOS)
def test_cartoon_is_flat_colour_with_dark_outlines_and_no_specks(name):
    img, out = _styled(name, "cartoon")
    colours = lambda a: len(np.unique(a.reshape(-1, 3) // 4, axis=0))  # noqa: E731
    assert colours(out) < 0.05 * colours(img)  # flat colour regions
    grey_in = cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (0, 0), 3).astype(int)
    ink = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(int) < grey_in - 50  # much darker than the photo there
    near, far = _edges(img)
    assert ink[near].mean() > 0.08 and ink[far].mean() < 0.01  # outlines along the photo's edges, not elsewhere
    assert _specks(out) < 20  # texture does not become a spray of black dots


@pytest.mark.parametrize("name", PHOTOS)
def test_painterly_is_smoothed_colour_without_ink(name):
    img, out = _styled(name, "painterly")
    assert _fine_detail(out) < 0.9 * _fine_detail(img)  # brushed smooth, not sharpened
    assert np.abs(_low(out) - _low(img)).mean() < 12  # the photo's colours, where they were
    assert (out.max(axis=2) < 40).mean() < (img.max(axis=2) < 40).mean() + 0.01  # no black ink added
    assert _specks(out) <= _specks(img)


@pytest.mark.parametrize("name", PHOTOS)
def test_detail_enhances_detail_and_still_looks_like_the_photo(name):
    img, out = _styled(name, "detail")
    assert _fine_detail(out) > 1.5 * _fine_detail(img)
    assert np.corrcoef(_low(out).ravel(), _low(img).ravel())[0, 1] > 0.95


@pytest.fixture(scope="module")
def big() -> np.ndarray:
    return cv2.resize(_photo("astronaut"), (2400, 1700), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("style", STYLES)
def test_tiles_join_without_a_seam(big, style):
    fn = style_fn(style, max(big.shape[:2]))
    out = tiled(big, fn, Reporter(None, None, 100))
    whole = fn(big)
    diff = np.abs(out.astype(int) - whole.astype(int))
    assert diff.mean() < 0.05 and np.percentile(diff, 99.9) <= 2  # as if done in one piece
    if style == "pencil":  # a blur the tile overlap covers: the same, pixel for pixel
        assert diff.max() <= 1
    for axis, at in ((1, 1024), (0, 1024)):  # no jump along a tile border beside its neighbours'
        band = np.take(out, range(at - 4, at + 5), axis=axis).astype(float)
        jumps = np.abs(np.diff(band, axis=axis)).mean(axis=tuple(a for a in range(3) if a != axis))
        assert jumps[3] < 2.0 * np.median(jumps), (axis, jumps)
