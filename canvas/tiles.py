"""The tile grid shared by compositing, dirty tracking and per-layer alpha statistics."""

from __future__ import annotations

import numpy as np

from canvas.geometry import Rect

TILE = 128


def tile_range(rect: Rect) -> tuple[range, range]:
    """Tile columns and rows that ``rect`` touches."""
    if rect.empty:
        return range(0), range(0)
    return (
        range(rect.x // TILE, (rect.right - 1) // TILE + 1),
        range(rect.y // TILE, (rect.bottom - 1) // TILE + 1),
    )


def tile_rect(tx: int, ty: int) -> Rect:
    return Rect(tx * TILE, ty * TILE, TILE, TILE)


class AlphaStats:
    """Per-tile max/min alpha of a raster placed at ``rect``, computed in one vectorised pass.

    Compositing uses them to skip tiles where a layer is empty and to start from the topmost
    layer that covers a tile opaquely (everything below it is hidden).
    """

    def __init__(self, alpha: np.ndarray, rect: Rect) -> None:
        self.rect = rect
        txs, tys = tile_range(rect)
        self.tx0 = txs.start if len(txs) else 0
        self.ty0 = tys.start if len(tys) else 0
        nx, ny = len(txs), len(tys)
        self.amax = np.zeros((ny, nx), dtype=np.uint8)
        self.amin = np.zeros((ny, nx), dtype=np.uint8)
        if nx == 0 or ny == 0:
            return
        # pad the raster to whole tiles; padding counts as transparent
        px0 = rect.x - self.tx0 * TILE
        py0 = rect.y - self.ty0 * TILE
        padded = np.zeros((ny * TILE, nx * TILE), dtype=np.uint8)
        padded[py0 : py0 + rect.h, px0 : px0 + rect.w] = alpha
        blocks = padded.reshape(ny, TILE, nx, TILE)
        self.amax = blocks.max(axis=(1, 3))
        self.amin = blocks.min(axis=(1, 3))

    def update(self, alpha_of_rect, tiles) -> None:
        """Recompute the listed tiles; ``alpha_of_rect(rect)`` returns the alpha inside it."""
        for tx, ty in tiles:
            ix, iy = tx - self.tx0, ty - self.ty0
            if 0 <= iy < self.amax.shape[0] and 0 <= ix < self.amax.shape[1]:
                t = tile_rect(tx, ty)
                inner = t.intersect(self.rect)
                if inner.empty:
                    self.amax[iy, ix] = self.amin[iy, ix] = 0
                    continue
                a = alpha_of_rect(inner)
                self.amax[iy, ix] = a.max()
                self.amin[iy, ix] = a.min() if inner == t else 0

    def get(self, tx: int, ty: int) -> tuple[int, int]:
        ix, iy = tx - self.tx0, ty - self.ty0
        if 0 <= iy < self.amax.shape[0] and 0 <= ix < self.amax.shape[1]:
            return int(self.amax[iy, ix]), int(self.amin[iy, ix])
        return 0, 0
