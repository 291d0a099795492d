"""Annotation marks: the red pen's vectors. Immutable values; editing makes a new mark.

Coordinates are canvas pixels (floats). Colours are straight RGBA tuples of 0-255 ints.
Every mark serialises to a plain JSON dict and back exactly.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

from canvas.geometry import Rect

RED = (230, 30, 30, 255)
MAX_COORD = 1 << 20  # marks lie within a million pixels of the canvas origin
MAX_WIDTH = 1000.0
MAX_TEXT_SIZE = 4000.0
MAX_TEXT = 100_000  # characters of one label
MAX_POINTS = 1_000_000  # of one stroke


def new_id() -> str:
    return uuid.uuid4().hex[:12]


Color = tuple[int, int, int, int]
Point = tuple[float, float]


def _color(value) -> Color:
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__len__") or len(value) not in (3, 4):
        raise ValueError(f"a colour is 3 or 4 integers in 0..255, not {value!r:.60}")
    try:
        vals = tuple(int(v) for v in value)
    except OverflowError:
        raise ValueError(f"a colour is 3 or 4 integers in 0..255, not {value!r:.60}") from None
    if len(vals) == 3:
        vals = (*vals, 255)
    if len(vals) != 4 or any(v < 0 or v > 255 for v in vals):
        raise ValueError(f"a colour is 3 or 4 integers in 0..255, not {value!r}")
    return vals  # type: ignore[return-value]


def _number(v, what: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"a mark's {what} must be a number, not {v!r:.40}")
    f = float(v)
    if not lo <= f <= hi:  # also refuses nan and infinities
        raise ValueError(f"a mark's {what} {v!r:.40} is outside {lo:g}..{hi:g}")
    return f


def _point(p) -> Point:
    if not isinstance(p, list | tuple) or len(p) != 2:
        raise ValueError(f"a point is [x, y], not {p!r:.40}")
    return (_number(p[0], "x", -MAX_COORD, MAX_COORD), _number(p[1], "y", -MAX_COORD, MAX_COORD))


@dataclass(frozen=True)
class Mark:
    kind: ClassVar[str] = ""
    closed: ClassVar[bool] = False  # encloses an area (used to turn marks into masks)
    color: Color = RED
    width: float = 6.0
    id: str = field(default_factory=new_id)

    def points(self) -> list[Point]:
        raise NotImplementedError

    def translated(self, dx: float, dy: float) -> Mark:
        raise NotImplementedError

    def bounds(self) -> Rect:
        """Canvas rect that covers everything this mark paints (stroke width and AA included)."""
        pts = self.points()
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        pad = self.width / 2 + 2 + self._extra_pad()
        return Rect.from_bounds(min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)

    def _extra_pad(self) -> float:
        return 0.0

    def with_color(self, color) -> Mark:
        return replace(self, color=_color(color))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple) and v and isinstance(v[0], tuple):
                v = [list(p) for p in v]
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Mark:
        if not isinstance(data, dict):
            raise ValueError("a mark must be a JSON object")
        kind = data.get("kind")
        cls = MARK_KINDS.get(kind)  # type: ignore[arg-type]
        if cls is None:
            raise ValueError(f"unknown mark kind {kind!r}")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            v = data[f.name]
            if f.name == "color":
                v = _color(v)
            elif f.name in ("points_",):
                if not isinstance(v, list | tuple) or len(v) > MAX_POINTS:
                    raise ValueError(f"a stroke's points are a list of at most {MAX_POINTS} [x, y] pairs")
                v = tuple(_point(p) for p in v)
            elif f.name in ("start", "end", "p0", "p1", "pos"):
                v = _point(v)
            elif f.name == "width":
                v = _number(v, "width", 0.0, MAX_WIDTH)
            elif f.name == "size":
                v = _number(v, "text size", 1.0, MAX_TEXT_SIZE)
            elif f.name in ("id", "text"):
                if not isinstance(v, str | int | float) or (f.name == "text" and len(str(v)) > MAX_TEXT):
                    raise ValueError(f"a mark's {f.name} must be a string (at most {MAX_TEXT} characters)")
                v = str(v)
            kwargs[f.name] = v
        return cls(**kwargs)


@dataclass(frozen=True)
class Stroke(Mark):
    """Freehand pen stroke through a list of points."""

    kind: ClassVar[str] = "stroke"
    points_: tuple[Point, ...] = ()

    def __post_init__(self) -> None:
        if not self.points_:
            raise ValueError("a stroke needs at least one point")

    def points(self) -> list[Point]:
        return list(self.points_)

    def translated(self, dx: float, dy: float) -> Stroke:
        return replace(self, points_=tuple((x + dx, y + dy) for x, y in self.points_))


@dataclass(frozen=True)
class Arrow(Mark):
    kind: ClassVar[str] = "arrow"
    start: Point = (0.0, 0.0)
    end: Point = (0.0, 0.0)

    def points(self) -> list[Point]:
        return [self.start, self.end]

    def head_size(self) -> float:
        length = math.dist(self.start, self.end)
        return min(max(4.0 * self.width, 12.0), max(length * 0.6, 1.0))

    def _extra_pad(self) -> float:
        return self.head_size()

    def translated(self, dx: float, dy: float) -> Arrow:
        return replace(
            self,
            start=(self.start[0] + dx, self.start[1] + dy),
            end=(self.end[0] + dx, self.end[1] + dy),
        )


@dataclass(frozen=True)
class _BoxMark(Mark):
    """A shape given by two opposite corners of its bounding box."""

    p0: Point = (0.0, 0.0)
    p1: Point = (0.0, 0.0)

    def points(self) -> list[Point]:
        return [self.p0, self.p1]

    def box(self) -> tuple[float, float, float, float]:
        x0, x1 = sorted((self.p0[0], self.p1[0]))
        y0, y1 = sorted((self.p0[1], self.p1[1]))
        return x0, y0, x1, y1

    def translated(self, dx: float, dy: float):
        return replace(
            self, p0=(self.p0[0] + dx, self.p0[1] + dy), p1=(self.p1[0] + dx, self.p1[1] + dy)
        )


@dataclass(frozen=True)
class Ellipse(_BoxMark):
    kind: ClassVar[str] = "ellipse"
    closed: ClassVar[bool] = True


@dataclass(frozen=True)
class Rectangle(_BoxMark):
    kind: ClassVar[str] = "rectangle"
    closed: ClassVar[bool] = True


@dataclass(frozen=True)
class TextLabel(Mark):
    kind: ClassVar[str] = "text"
    pos: Point = (0.0, 0.0)  # top-left of the text
    text: str = ""
    size: float = 24.0  # font pixel size

    def points(self) -> list[Point]:
        # generous estimate; the renderer clips to what it drew
        n_lines = self.text.count("\n") + 1
        longest = max((len(s) for s in self.text.split("\n")), default=0)
        return [
            self.pos,
            (self.pos[0] + longest * self.size * 0.7 + self.size, self.pos[1] + n_lines * self.size * 1.4),
        ]

    def translated(self, dx: float, dy: float) -> TextLabel:
        return replace(self, pos=(self.pos[0] + dx, self.pos[1] + dy))


MARK_KINDS: dict[str, type[Mark]] = {
    cls.kind: cls for cls in (Stroke, Arrow, Ellipse, Rectangle, TextLabel)
}
