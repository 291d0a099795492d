"""Cut a pasted piece's subject out of its own background: a soft alpha matte from GrabCut.

A photo pasted as a collage piece is usually a rectangle that carries its own background. The
piece's border is that background (GrabCut's "definitely background" seed), its inside is
"probably the subject", and the user's scribbles over the piece say more: strokes in a green
pen are "keep", strokes in any other colour are "remove". The matte is computed at a working
size of at most :data:`WORK_SIDE` pixels (GrabCut's cost grows with the pixel count), cleaned
of specks and pin-holes, brought back to the piece's size and given a soft edge.

The piece keeps its original pixels; the matte only multiplies their alpha (``PieceLayer.cutout``),
so a cut can be undone or replaced at any time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from canvas.errors import CanvasError
from canvas.marks import Mark, Stroke

WORK_SIDE = 640  # GrabCut runs at most this many pixels a side
ITERATIONS = 5
BORDER = 0.02  # of the piece's shorter side: the band seeded as background (at least 2 working pixels)
SPECK = 0.02  # parts of the subject smaller than this share of the largest are dropped
HOLE = 0.01  # holes smaller than this share of the subject are filled


class CutoutError(ValueError):
    """The piece cannot be cut out (too small, fully transparent, or no subject found)."""


class CutoutCancelled(Exception):
    """The cut-out was cancelled before its matte was done (nothing was changed)."""


@dataclass(frozen=True)
class Scribbles:
    """What the user's strokes say, in the piece's own pixel grid (bool arrays of its size)."""

    keep: np.ndarray
    remove: np.ndarray

    @property
    def empty(self) -> bool:
        return not (self.keep.any() or self.remove.any())


def is_keep_colour(color) -> bool:
    """A green pen says "keep": green clearly above red and blue."""
    r, g, b = (int(c) for c in color[:3])
    return g >= 100 and g - max(r, b) >= 60


def is_remove_colour(color) -> bool:
    """A blue pen says "remove": blue clearly above red and green. (The red pen is left to the model.)"""
    r, g, b = (int(c) for c in color[:3])
    return b >= 100 and b - max(r, g) >= 60


def is_scribble(mark: Mark) -> bool:
    """A freehand stroke in the keep (green) or remove (blue) pen: an instruction to the cut-out."""
    return isinstance(mark, Stroke) and (is_keep_colour(mark.color) or is_remove_colour(mark.color))


def opaque_rectangle(rgba: np.ndarray) -> bool:
    """True when the piece is an opaque rectangle (no alpha of its own): what Refine offers to cut out."""
    a = rgba[..., 3]
    return bool(a.size) and int(a.min()) >= 250


def scribbles_for(marks: list[Mark], to_piece: np.ndarray, size: tuple[int, int]) -> Scribbles:
    """Rasterise ``marks`` (canvas coordinates) into a piece of ``size`` (w, h).

    ``to_piece`` is the 3×3 map from canvas continuous coordinates to the piece's original
    continuous coordinates (the inverse of ``Transform.matrix``). Strokes keep their width
    as seen on the canvas.
    """
    w, h = size
    keep = np.zeros((h, w), np.uint8)
    remove = np.zeros((h, w), np.uint8)
    scale = float(np.sqrt(abs(np.linalg.det(to_piece[:2, :2])))) or 1.0
    for m in marks:
        pts = np.asarray(m.points(), np.float64).reshape(-1, 2)
        if not len(pts):
            continue
        mapped = (to_piece @ np.c_[pts, np.ones(len(pts))].T)[:2].T - 0.5  # continuous -> index
        if not is_scribble(m):
            continue
        target = keep if is_keep_colour(m.color) else remove
        thick = max(1, round(m.width * scale))
        poly = np.round(mapped * 16).astype(np.int32)  # 4 fractional bits
        if len(poly) == 1:
            cv2.circle(target, tuple(poly[0]), max(1, thick // 2) * 16, 1, -1, cv2.LINE_8, 4)
        else:
            cv2.polylines(target, [poly], bool(getattr(m, "closed", False)), 1, thick, cv2.LINE_8, 4)
    return Scribbles(keep.astype(bool), remove.astype(bool))


def cut_out(rgba: np.ndarray, scribbles: Scribbles | None = None, *, previous: np.ndarray | None = None,
            soft: float = 1.0, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
    """The subject of ``rgba`` (straight RGBA uint8) as a matte, uint8 of its height×width.

    ``previous`` (an earlier matte of the same piece) starts the cut from that answer, so strokes
    added after a first cut correct it instead of starting over. ``cancelled`` is asked between
    GrabCut's iterations; when it answers True, :class:`CutoutCancelled` is raised.

    Raises :class:`CutoutError` when there is nothing to cut (a tiny or transparent piece) or
    when no subject is left (the scribbles removed everything).
    """
    h, w = rgba.shape[:2]
    if min(h, w) < 8:
        raise CutoutError(f"the piece is {w}×{h} pixels; cutting out needs at least 8 pixels a side")
    alpha = rgba[..., 3]
    if not (alpha > 0).any():
        raise CutoutError("the piece is fully transparent: there is nothing to cut out")
    s = min(1.0, WORK_SIDE / max(h, w))
    ww, wh = max(8, round(w * s)), max(8, round(h * s))
    small = cv2.resize(np.ascontiguousarray(rgba[..., :3]), (ww, wh), interpolation=cv2.INTER_AREA)
    small = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    small_alpha = cv2.resize(alpha, (ww, wh), interpolation=cv2.INTER_AREA)

    seed = np.full((wh, ww), cv2.GC_PR_FGD, np.uint8)
    keep = remove = None
    if scribbles is not None and not scribbles.empty:
        keep = cv2.resize(scribbles.keep.astype(np.uint8), (ww, wh), interpolation=cv2.INTER_NEAREST) > 0
        remove = cv2.resize(scribbles.remove.astype(np.uint8), (ww, wh), interpolation=cv2.INTER_NEAREST) > 0
    if previous is not None and previous.shape == (h, w):
        # start from the last cut; a part it removed that a new "keep" stroke touches is open again
        was_bg = (cv2.resize(previous, (ww, wh), interpolation=cv2.INTER_AREA) < 128).astype(np.uint8)
        if keep is not None and keep.any():
            _, labels = cv2.connectedComponents(was_bg, connectivity=8)
            was_bg[np.isin(labels, np.unique(labels[keep & (labels > 0)]))] = 0
        seed[was_bg > 0] = cv2.GC_PR_BGD
    band = max(2, round(BORDER * min(ww, wh)))
    seed[:band, :] = seed[-band:, :] = cv2.GC_BGD
    seed[:, :band] = seed[:, -band:] = cv2.GC_BGD
    seed[small_alpha < 128] = cv2.GC_BGD  # the piece's own transparency is background already
    if keep is not None:
        seed[remove] = cv2.GC_BGD
        seed[keep] = cv2.GC_FGD  # the user's "keep" wins over the border
    if not ((seed == cv2.GC_PR_FGD) | (seed == cv2.GC_FGD)).any():
        raise CutoutError("nothing is left to be the subject: the strokes marked all of the piece as background")
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means start: the same piece cuts the same way every time
    try:  # one iteration at a time, the same as ITERATIONS in one call, so that a cancel is heard
        for k in range(ITERATIONS):
            if cancelled is not None and cancelled():
                raise CutoutCancelled("the cut-out was cancelled")
            cv2.grabCut(small, seed, None, bgd, fgd, 1, cv2.GC_INIT_WITH_MASK if k == 0 else cv2.GC_EVAL)
    except cv2.error as exc:  # a degenerate colour model (for example a single flat colour)
        raise CutoutError(f"the subject could not be told from its background ({exc.err or 'GrabCut failed'})") from None
    fg = ((seed == cv2.GC_FGD) | (seed == cv2.GC_PR_FGD)).astype(np.uint8)
    fg = _clean(fg, seed == cv2.GC_FGD, remove if remove is not None else None)
    if not fg.any():
        raise CutoutError("no subject was found: the whole piece looks like its own background. "
                          "Mark the subject with a green stroke and cut out again")
    # back to the piece's size; the edge gets a soft ramp of about ``soft`` working pixels
    up = cv2.resize(fg.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    sigma = max(0.6, soft * 0.5 / s)
    matte = cv2.GaussianBlur((up >= 0.5).astype(np.float32), (0, 0), sigma)
    matte = np.clip(np.rint(matte * 255), 0, 255).astype(np.uint8)
    matte[alpha == 0] = 0
    return matte


def _clean(fg: np.ndarray, sure: np.ndarray, removed: np.ndarray | None = None) -> np.ndarray:
    """Drop specks (small parts not marked "keep") and fill pin-holes in the subject (not those a
    "remove" stroke made)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = areas >= SPECK * areas.max()
        if sure.any():
            keep[np.unique(labels[sure & (labels > 0)]) - 1] = True
        fg = np.isin(labels, np.flatnonzero(keep) + 1).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(1 - fg, connectivity=4)
    if n > 1:
        x, y, ww, hh, area = (stats[1:, i] for i in range(5))
        touches = (x == 0) | (y == 0) | (x + ww == fg.shape[1]) | (y + hh == fg.shape[0])
        small = ~touches & (area < HOLE * max(1, int(fg.sum())))
        if removed is not None and removed.any():
            small[np.unique(labels[removed & (labels > 0)]) - 1] = False
        holes = np.flatnonzero(small) + 1
        if len(holes):
            fg[np.isin(labels, holes)] = 1
    return fg


def iou(matte: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two mattes, each thresholded at half."""
    a, b = matte >= 128, truth >= 128
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@dataclass(frozen=True)
class CutPlan:
    """A cut-out to be computed (``compute()``, safe on another thread: the arrays are never written in
    place) and then applied by ``Document.apply_cut_out``."""

    layer_id: str
    name: str
    original: np.ndarray
    previous: np.ndarray | None
    scribbles: Scribbles
    used: dict[str, list[str]]

    def compute(self, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        """The matte; CanvasError when there is nothing to cut or no subject is found,
        CutoutCancelled when ``cancelled`` answers True before it is done."""
        try:
            return cut_out(self.original, self.scribbles, previous=self.previous, cancelled=cancelled)
        except CutoutError as exc:
            raise CanvasError(str(exc)) from None


def piece_scribbles(piece, annotation_layers) -> tuple[Scribbles, dict[str, list[str]]]:
    """The keep/remove strokes over ``piece`` (a PieceLayer) in visible, unlocked ``annotation_layers``,
    in the piece's pixel grid, and the ids of the strokes used, per layer id."""
    h, w = piece.original.shape[:2]
    box = piece.bounds()
    used: dict[str, list[str]] = {}
    marks: list[Mark] = []
    for layer in annotation_layers:
        if not layer.visible or layer.locked:
            continue
        mine = [m for m in layer.marks if is_scribble(m) and not m.bounds().intersect(box).empty]
        if mine:
            used[layer.id] = [m.id for m in mine]
            marks.extend(mine)
    to_piece = np.linalg.inv(piece.transform.matrix(w, h))
    return scribbles_for(marks, to_piece, (w, h)), used
