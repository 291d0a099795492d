"""Integer rectangles in canvas pixel coordinates (x to the right, y down)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    @property
    def area(self) -> int:
        return 0 if self.empty else self.w * self.h

    @staticmethod
    def from_bounds(x0: float, y0: float, x1: float, y1: float) -> Rect:
        """Smallest integer rect covering the float box [x0, x1) x [y0, y1)."""
        import math

        ix0, iy0 = math.floor(x0), math.floor(y0)
        ix1, iy1 = math.ceil(x1), math.ceil(y1)
        return Rect(ix0, iy0, max(0, ix1 - ix0), max(0, iy1 - iy0))

    def intersect(self, other: Rect) -> Rect:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def union(self, other: Rect) -> Rect:
        if self.empty:
            return other
        if other.empty:
            return self
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1, y1 = max(self.right, other.right), max(self.bottom, other.bottom)
        return Rect(x0, y0, x1 - x0, y1 - y0)

    def translated(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.w, self.h)

    def adjusted(self, margin: int) -> Rect:
        return Rect(self.x - margin, self.y - margin, self.w + 2 * margin, self.h + 2 * margin)

    def contains(self, other: Rect) -> bool:
        return (
            other.x >= self.x
            and other.y >= self.y
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def slices(self, origin_x: int = 0, origin_y: int = 0) -> tuple[slice, slice]:
        """Numpy (rows, cols) slices of this rect inside an array whose (0, 0) is at origin."""
        return (
            slice(self.y - origin_y, self.bottom - origin_y),
            slice(self.x - origin_x, self.right - origin_x),
        )

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


def union_all(rects) -> Rect:
    out = Rect(0, 0, 0, 0)
    for r in rects:
        out = out.union(r)
    return out
