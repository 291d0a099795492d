"""Layer kinds: pixel layers, collage pieces and annotation layers.

Layers hold content and properties. They never change themselves behind the document's back:
every visible change goes through a command run by the document (``canvas.commands``), which
calls the small mutators here and then tells the projection and observers what changed.
"""

from __future__ import annotations

import copy
import math
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import cv2
import numpy as np

from canvas.blend import BLEND_MODES, premultiplied_float, straight_uint8
from canvas.cutout import opaque_rectangle
from canvas.draw import render_marks
from canvas.geometry import Rect, union_all
from canvas.imageio import MAX_PIXELS
from canvas.marks import Mark
from canvas.tiles import AlphaStats, tile_range

ROLES = ("content", "annotation", "reference")
EMPTY = Rect(0, 0, 0, 0)

# properties every layer has, with their validators
LAYER_PROPS = ("name", "visible", "opacity", "blend", "locked", "role", "provenance")
PIECE_PROPS = ("identity",)  # a collage piece's own: how much of it a refine must keep (0–1)
DEFAULT_IDENTITY = 0.85  # (as inference.request's: a refine keeps a piece recognisable unless told otherwise)


def new_layer_id() -> str:
    return uuid.uuid4().hex[:12]


def check_rgba(pixels: np.ndarray, what: str = "pixels") -> np.ndarray:
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise TypeError(f"{what} must be a uint8 numpy array")
    if pixels.ndim != 3 or pixels.shape[2] != 4:
        raise ValueError(f"{what} must have shape (height, width, 4), not {pixels.shape}")
    return pixels


def validate_prop(name: str, value: Any) -> Any:
    if name == "name":
        return str(value)
    if name in ("visible", "locked"):
        return bool(value)
    if name == "opacity":
        v = float(value)
        if not 0.0 <= v <= 1.0 or math.isnan(v):
            raise ValueError(f"opacity must be between 0 and 1, not {value!r}")
        return v
    if name == "blend":
        if value not in BLEND_MODES:
            raise ValueError(f"unknown blend mode {value!r}; one of {', '.join(BLEND_MODES)}")
        return value
    if name == "role":
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r}; one of {', '.join(ROLES)}")
        return value
    if name == "identity":
        v = float(value)
        if not 0.0 <= v <= 1.0 or math.isnan(v):
            raise ValueError(f"identity must be between 0 and 1, not {value!r}")
        return v
    if name == "provenance":
        if not isinstance(value, dict):
            raise ValueError("provenance must be a dict")
        return copy.deepcopy(value)
    raise ValueError(f"unknown layer property {name!r}")


class Layer:
    kind: ClassVar[str] = ""

    def __init__(
        self,
        name: str = "Layer",
        *,
        id: str | None = None,
        visible: bool = True,
        opacity: float = 1.0,
        blend: str = "normal",
        locked: bool = False,
        role: str = "content",
        provenance: dict | None = None,
    ) -> None:
        self.id = id or new_layer_id()
        self.name = validate_prop("name", name)
        self.visible = validate_prop("visible", visible)
        self.opacity = validate_prop("opacity", opacity)
        self.blend = validate_prop("blend", blend)
        self.locked = validate_prop("locked", locked)
        self.role = validate_prop("role", role)
        self.provenance = validate_prop("provenance", provenance or {})
        self.revision = 0  # bumped on every content change (used by caches and savers)
        self._stats: AlphaStats | None = None

    # --- content -------------------------------------------------------------------------
    def bounds(self) -> Rect:
        """Canvas rect covered by this layer's raster."""
        raise NotImplementedError

    def raster(self) -> tuple[np.ndarray, Rect]:
        """Straight uint8 RGBA raster and the canvas rect it covers (may be a cached view)."""
        raise NotImplementedError

    def read(self, rect: Rect) -> np.ndarray:
        """A view or copy of ``rect`` (which must lie inside ``bounds()``)."""
        pixels, r = self.raster()
        return pixels[rect.slices(r.x, r.y)]

    def read_padded(self, rect: Rect) -> np.ndarray:
        """A copy of ``rect``, transparent where the layer has no pixels."""
        out = np.zeros((rect.h, rect.w, 4), dtype=np.uint8)
        inner = rect.intersect(self.bounds())
        if not inner.empty:
            out[inner.slices(rect.x, rect.y)] = self.read(inner)
        return out

    def props(self) -> dict[str, Any]:
        return {p: copy.deepcopy(getattr(self, p)) for p in LAYER_PROPS}

    def tile_alpha(self, tx: int, ty: int) -> tuple[int, int]:
        """(max, min) alpha of this layer inside tile (tx, ty)."""
        if self._stats is None:
            pixels, r = self.raster()
            self._stats = AlphaStats(pixels[..., 3], r)
        return self._stats.get(tx, ty)

    def _content_changed(self, rect: Rect | None = None) -> None:
        self.revision += 1
        if rect is None or self._stats is None:
            self._stats = None
            return
        txs, tys = tile_range(rect)
        if len(txs) * len(tys) > 64:
            self._stats = None
            return
        pixels, r = self.raster()
        self._stats.update(lambda q: pixels[q.slices(r.x, r.y)][..., 3], [(x, y) for y in tys for x in txs])

    def copy(self, new_id: bool = False) -> Layer:
        dup = copy.copy(self)
        dup.provenance = copy.deepcopy(self.provenance)
        dup._stats = None
        dup._copy_content_from(self)
        if new_id:
            dup.id = new_layer_id()
        return dup

    def _copy_content_from(self, other: Layer) -> None:
        raise NotImplementedError

    def content_equal(self, other: Layer) -> bool:
        raise NotImplementedError

    def nbytes(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} id={self.id} bounds={self.bounds().as_tuple()}>"


class PixelLayer(Layer):
    """RGBA pixels placed at an offset: painting and AI results."""

    kind = "pixel"

    def __init__(self, pixels: np.ndarray, x: int = 0, y: int = 0, name: str = "Layer", **kw) -> None:
        super().__init__(name, **kw)
        self.pixels = check_rgba(pixels)
        self.x, self.y = int(x), int(y)

    @classmethod
    def blank(cls, width: int, height: int, name: str = "Layer", **kw) -> PixelLayer:
        return cls(np.zeros((height, width, 4), dtype=np.uint8), 0, 0, name, **kw)

    def bounds(self) -> Rect:
        return Rect(self.x, self.y, self.pixels.shape[1], self.pixels.shape[0])

    def raster(self) -> tuple[np.ndarray, Rect]:
        return self.pixels, self.bounds()

    def write(self, rect: Rect, patch: np.ndarray) -> None:
        """Replace ``rect`` (inside bounds) with ``patch``. Called by commands only."""
        self.pixels[rect.slices(self.x, self.y)] = patch
        self._content_changed(rect)

    def set_pixels(self, pixels: np.ndarray, x: int, y: int) -> None:
        self.pixels = check_rgba(pixels)
        self.x, self.y = int(x), int(y)
        self._content_changed()

    def _copy_content_from(self, other: Layer) -> None:
        self.pixels = other.pixels.copy()  # type: ignore[attr-defined]

    def content_equal(self, other: Layer) -> bool:
        return (
            isinstance(other, PixelLayer)
            and self.bounds() == other.bounds()
            and np.array_equal(self.pixels, other.pixels)
        )

    def nbytes(self) -> int:
        return self.pixels.nbytes


@dataclass(frozen=True)
class Transform:
    """Where a collage piece sits: its centre on the canvas, scale, rotation and flips.

    Rotation is in degrees, clockwise on screen. Flips apply to the original before scale
    and rotation. Rendering always starts again from the original pixels.
    """

    cx: float = 0.0
    cy: float = 0.0
    sx: float = 1.0
    sy: float = 1.0
    rotation: float = 0.0
    flip_h: bool = False
    flip_v: bool = False

    def __post_init__(self) -> None:
        for v in (self.cx, self.cy, self.sx, self.sy, self.rotation):
            if not math.isfinite(v):
                raise ValueError("a transform needs finite numbers")
        if abs(self.sx) < 1e-4 or abs(self.sy) < 1e-4:
            raise ValueError("a piece cannot be scaled to nothing")

    def to_dict(self) -> dict[str, Any]:
        return {
            "cx": self.cx, "cy": self.cy, "sx": self.sx, "sy": self.sy,
            "rotation": self.rotation, "flip_h": self.flip_h, "flip_v": self.flip_v,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Transform:
        return Transform(
            cx=float(d.get("cx", 0.0)), cy=float(d.get("cy", 0.0)),
            sx=float(d.get("sx", 1.0)), sy=float(d.get("sy", 1.0)),
            rotation=float(d.get("rotation", 0.0)),
            flip_h=bool(d.get("flip_h", False)), flip_v=bool(d.get("flip_v", False)),
        )

    def matrix(self, w: int, h: int) -> np.ndarray:
        """3x3 map from original continuous coordinates to canvas continuous coordinates."""
        fx = -1.0 if self.flip_h else 1.0
        fy = -1.0 if self.flip_v else 1.0
        t = math.radians(self.rotation)
        c, s = math.cos(t), math.sin(t)
        to_centre = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]], dtype=np.float64)
        scale = np.diag([fx * self.sx, fy * self.sy, 1.0])
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)
        place = np.array([[1, 0, self.cx], [0, 1, self.cy], [0, 0, 1]], dtype=np.float64)
        return place @ rot @ scale @ to_centre

    def is_integer_translation(self, w: int, h: int) -> bool:
        return (
            self.sx == 1.0 and self.sy == 1.0 and self.rotation % 360 == 0
            and not self.flip_h and not self.flip_v
            and float(self.cx - w / 2).is_integer() and float(self.cy - h / 2).is_integer()
        )


MAX_PIECE_SIDE = 32767  # OpenCV's warpAffine renders at most SHRT_MAX pixels a side
MAX_PIECE_PIXELS = MAX_PIXELS  # as many as a canvas holds
MAX_PIECE_CENTRE = float(1 << 24)


def piece_rect(w: int, h: int, tf: Transform) -> Rect:
    """The canvas rect a ``w``×``h`` original covers through ``tf`` (what :func:`render_piece` renders)."""
    if tf.is_integer_translation(w, h):
        return Rect(int(tf.cx - w / 2), int(tf.cy - h / 2), w, h)
    corners = tf.matrix(w, h) @ np.array([[0, w, w, 0], [0, 0, h, h], [1, 1, 1, 1]], dtype=np.float64)
    return Rect.from_bounds(corners[0].min(), corners[1].min(), corners[0].max(), corners[1].max())


def check_piece(w: int, h: int, tf: Transform) -> None:
    """ValueError when a piece this size, through ``tf``, would be too big to render (or lies too far away)."""
    if abs(tf.cx) > MAX_PIECE_CENTRE or abs(tf.cy) > MAX_PIECE_CENTRE:
        raise ValueError(f"a piece centred at ({tf.cx:.0f}, {tf.cy:.0f}) lies too far from the canvas")
    if tf.is_integer_translation(w, h):
        return  # drawn as it is, no resampling
    if max(abs(tf.sx) * w, abs(tf.sy) * h) > 2 * MAX_PIECE_SIDE:  # before any arithmetic can overflow
        raise ValueError(f"a piece scaled ×{max(abs(tf.sx), abs(tf.sy)):.3g} would be larger than "
                         f"{MAX_PIECE_SIDE} pixels a side")
    r = piece_rect(w, h, tf)
    if max(r.w, r.h) > MAX_PIECE_SIDE or r.area > MAX_PIECE_PIXELS:
        raise ValueError(f"a piece rendered {r.w}×{r.h} would be larger than Akapen draws a piece "
                         f"({MAX_PIECE_SIDE} pixels a side, {MAX_PIECE_PIXELS / 1e6:.0f} million in all)")


def render_piece(original: np.ndarray, tf: Transform) -> tuple[np.ndarray, Rect]:
    """Render ``original`` (straight RGBA) through ``tf``: premultiplied resampling, no fringes."""
    h, w = original.shape[:2]
    if tf.is_integer_translation(w, h):
        return original, piece_rect(w, h, tf)
    src = original
    ax, ay = abs(tf.sx), abs(tf.sy)
    pre_x = pre_y = 1.0
    if min(ax, ay) < 0.5:
        # shrink with area averaging first: warpAffine alone would alias badly
        nw, nh = max(1, round(w * ax)), max(1, round(h * ay))
        src = cv2.resize(original, (nw, nh), interpolation=cv2.INTER_AREA)
        pre_x, pre_y = nw / w, nh / h
    m = tf.matrix(w, h) @ np.diag([1 / pre_x, 1 / pre_y, 1.0])
    rect = piece_rect(w, h, tf)
    # continuous -> index coordinates on both sides, then shift into the output rect
    to_idx = np.array([[1, 0, -0.5 - rect.x], [0, 1, -0.5 - rect.y], [0, 0, 1]])
    from_idx = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    mi = (to_idx @ m @ from_idx)[:2]
    out = cv2.warpAffine(
        premultiplied_float(src), mi, (max(rect.w, 1), max(rect.h, 1)), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0),
    )
    return straight_uint8(out), rect


class PieceLayer(Layer):
    """A collage piece: the original pixels and a transform, re-rendered from the original."""

    kind = "piece"

    def __init__(self, original: np.ndarray, transform: Transform | None = None, name: str = "Piece", *,
                 identity: float = DEFAULT_IDENTITY, cutout: np.ndarray | None = None, **kw) -> None:
        super().__init__(name, **kw)
        self.identity = validate_prop("identity", identity)
        self.original = check_rgba(original, "piece pixels")
        h, w = original.shape[:2]
        self.transform = transform or Transform(cx=w / 2, cy=h / 2)
        check_piece(w, h, self.transform)
        self.cutout: np.ndarray | None = None  # a matte over the original's alpha; None: not cut out
        self._pixels: np.ndarray | None = None
        self._opaque: bool | None = None  # the original is an opaque rectangle (it never changes in place)
        self._cache: tuple[np.ndarray, Rect] | None = None
        if cutout is not None:
            self.set_cutout(cutout, notify=False)

    @classmethod
    def at(cls, original: np.ndarray, x: float, y: float, name: str = "Piece", **kw) -> PieceLayer:
        """A piece whose untransformed top-left corner is at canvas (x, y)."""
        h, w = original.shape[:2]
        return cls(original, Transform(cx=x + w / 2, cy=y + h / 2), name, **kw)

    def pixels(self) -> np.ndarray:
        """What the piece shows before its transform: the original, its alpha times the cut-out's matte."""
        if self.cutout is None:
            return self.original
        if self._pixels is None:
            px = self.original.copy()
            px[..., 3] = (px[..., 3].astype(np.uint16) * self.cutout + 127) // 255
            self._pixels = px
        return self._pixels

    def opaque_original(self) -> bool:
        """The original is an opaque rectangle (a photo with its own background), whatever its cut-out."""
        if self._opaque is None:
            self._opaque = opaque_rectangle(self.original)
        return self._opaque

    def raster(self) -> tuple[np.ndarray, Rect]:
        if self._cache is None:
            self._cache = render_piece(self.pixels(), self.transform)
        return self._cache

    def bounds(self) -> Rect:
        return self.raster()[1]

    def set_cutout(self, matte: np.ndarray | None, notify: bool = True) -> None:
        """Cut the piece out with ``matte`` (uint8, the original's height×width), or un-cut it (None)."""
        if matte is not None:
            matte = np.asarray(matte)
            if matte.dtype != np.uint8 or matte.shape != self.original.shape[:2]:
                raise ValueError(f"a cut-out matte is uint8 of the piece's size {self.original.shape[1]}×"
                                 f"{self.original.shape[0]}, not {matte.dtype} {matte.shape}")
            matte = np.ascontiguousarray(matte)
            matte.flags.writeable = False
        self.cutout = matte
        self._pixels = None
        self._cache = None
        if notify:
            self._content_changed()

    def set_transform(self, tf: Transform) -> None:
        check_piece(self.original.shape[1], self.original.shape[0], tf)
        self.transform = tf
        self._cache = None
        self._content_changed()

    def _copy_content_from(self, other: Layer) -> None:
        self.original = other.original.copy()  # type: ignore[attr-defined]
        self.cutout = other.cutout  # type: ignore[attr-defined]  # read-only: shared safely
        self._pixels = None
        self._opaque = None
        self._cache = None

    def content_equal(self, other: Layer) -> bool:
        return (
            isinstance(other, PieceLayer)
            and self.transform == other.transform
            and np.array_equal(self.original, other.original)
            and (self.cutout is None) == (other.cutout is None)
            and (self.cutout is None or np.array_equal(self.cutout, other.cutout))
        )

    def nbytes(self) -> int:
        return self.original.nbytes + (0 if self.cutout is None else 2 * self.cutout.nbytes)


class AnnotationLayer(Layer):
    """Vector marks (pen strokes, arrows, ellipses, rectangles, text), rendered anti-aliased."""

    kind = "annotation"

    def __init__(self, marks: list[Mark] | None = None, name: str = "Marks", **kw) -> None:
        kw.setdefault("role", "annotation")
        super().__init__(name, **kw)
        self.marks: list[Mark] = list(marks or [])
        self._cache: tuple[np.ndarray, Rect] | None = None
        self.clip: Rect | None = None  # the document's canvas: marks are drawn only where they can be seen

    def set_clip(self, rect: Rect | None) -> None:
        if rect != self.clip:
            self.clip = rect
            self._cache = None

    def raster(self) -> tuple[np.ndarray, Rect]:
        if self._cache is None:
            rect = union_all(m.bounds() for m in self.marks)
            if self.clip is not None:
                rect = rect.intersect(self.clip)
            self._cache = (render_marks(self.marks, rect), rect) if not rect.empty else (
                np.zeros((0, 0, 4), np.uint8), EMPTY)
        return self._cache

    def bounds(self) -> Rect:
        return self.raster()[1]

    def mark_index(self, mark_id: str) -> int:
        for i, m in enumerate(self.marks):
            if m.id == mark_id:
                return i
        raise KeyError(f"no mark {mark_id!r} on layer {self.name!r}")

    def set_marks(self, marks: list[Mark]) -> None:
        self.marks = list(marks)
        self._cache = None
        self._content_changed()

    def _copy_content_from(self, other: Layer) -> None:
        self.marks = list(other.marks)  # type: ignore[attr-defined]
        self._cache = None

    def content_equal(self, other: Layer) -> bool:
        return isinstance(other, AnnotationLayer) and self.marks == other.marks


@dataclass
class Reference:
    """An extra input image for the model; never composited into the canvas."""

    pixels: np.ndarray
    name: str = "Reference"
    id: str = field(default_factory=new_layer_id)

    def copy(self) -> Reference:
        return replace(self, pixels=self.pixels.copy())
