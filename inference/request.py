"""The edit request and its result: frozen plain data (numpy arrays and values) at the seam.

The worker never sees the live document: ``desktop/headless/edit_request.py`` copies what the backend
needs into an :class:`EditRequest`; a backend returns an :class:`EditResult`. Nothing here
knows about Qt or the canvas.

Coordinates are pixels of ``request.image`` (x right, y down); ``origin`` says where that
image's (0, 0) lies on the canvas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from inference.errors import InvalidRequest

ANNOTATION_USES = frozenset({"draw", "mask", "reference", "phrase"})
SIZE_POLICIES = ("input", "working")
REGION_MODES = ("auto", "selection", "whole")
MARK_KINDS = ("stroke", "arrow", "ellipse", "rectangle", "text")
MAX_VARIATIONS = 16
SPEEDS = ("quality", "fast", "draft")  # inference.diffusion.speed says what each does


def _rgba(a, what: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 4:
        shape = getattr(a, "shape", None)
        raise InvalidRequest(f"{what} must be an RGBA uint8 image (height, width, 4), not {shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise InvalidRequest(f"{what} is empty")
    return a


def _mask(a, shape: tuple[int, int], what: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 2:
        raise InvalidRequest(f"{what} must be a uint8 (height, width) mask, not {getattr(a, 'shape', None)}")
    if a.shape != shape:
        raise InvalidRequest(f"{what} is {a.shape[1]}×{a.shape[0]} but the image is {shape[1]}×{shape[0]}")
    return a


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only array: the request is shared with a worker thread and must not change."""
    a = np.ascontiguousarray(a)
    if a.flags.writeable:
        a = a.copy()
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Reference:
    """An extra input image with the label the user gave it (its layer or file name)."""

    label: str
    image: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", _frozen(_rgba(self.image, f"reference {self.label!r}")))


@dataclass(frozen=True)
class MarkData:
    """One pen mark as plain geometry (inference may not import the canvas).

    ``points``: stroke points; arrow (start, end); ellipse / rectangle two opposite corners;
    text its top-left corner. ``closed``: the mark encloses an area (ellipse, rectangle).
    """

    kind: str
    points: tuple[tuple[float, float], ...]
    width: float = 6.0
    color: tuple[int, int, int, int] = (230, 30, 30, 255)
    closed: bool = False
    text: str = ""

    def __post_init__(self) -> None:
        if self.kind not in MARK_KINDS:
            raise InvalidRequest(f"unknown mark kind {self.kind!r}; one of {', '.join(MARK_KINDS)}")
        pts = tuple((float(x), float(y)) for x, y in self.points)
        if not pts or not all(math.isfinite(v) for p in pts for v in p):
            raise InvalidRequest(f"a {self.kind} mark needs finite points")
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "color", tuple(int(c) for c in self.color))

    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the points, padded by half the pen width."""
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        pad = self.width / 2
        return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad

    def transformed(self, dx: float, dy: float, scale: float = 1.0) -> MarkData:
        """The mark moved by (dx, dy) and then scaled about the origin (for crops and resizes)."""
        return replace(self, points=tuple(((x + dx) * scale, (y + dy) * scale) for x, y in self.points),
                       width=self.width * scale)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "points": [list(p) for p in self.points], "width": self.width,
                "color": list(self.color), "closed": self.closed, "text": self.text}


DEFAULT_IDENTITY = 0.85  # a refine keeps a piece recognisable unless told otherwise


@dataclass(frozen=True, eq=False)
class Piece:
    """A collage piece as the refine task needs it: its alpha mask and where it lies.

    ``mask`` is uint8 (h, w) (the piece's alpha), covering the rect ``(x, y, w, h)`` of the
    image; the rect lies inside the image. ``identity`` (0–1): how much of the piece a refine must
    keep — at 1 its interior stays as pasted and only its edge, shadow and light change; at 0 a
    refine may repaint it. ``outline``: the mask follows the subject's own outline (a cut-out), so
    the colour step at its edge is the subject's contour, not a pasted background's, and a
    refine keeps it.
    """

    mask: np.ndarray
    x: int
    y: int
    name: str = "Piece"
    identity: float = DEFAULT_IDENTITY
    outline: bool = False

    def __post_init__(self) -> None:
        m = self.mask
        if not isinstance(m, np.ndarray) or m.dtype != np.uint8 or m.ndim != 2:
            raise InvalidRequest(f"piece {self.name!r}: its mask must be a uint8 (height, width) array")
        object.__setattr__(self, "mask", _frozen(m))
        object.__setattr__(self, "x", int(self.x))
        object.__setattr__(self, "y", int(self.y))
        ident = float(self.identity)
        if not 0.0 <= ident <= 1.0:  # (NaN fails too)
            raise InvalidRequest(f"piece {self.name!r}: its identity must be between 0 and 1, not {self.identity!r}")
        object.__setattr__(self, "identity", ident)
        object.__setattr__(self, "outline", bool(self.outline))

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.mask.shape[1], self.mask.shape[0]

    def full_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The piece's mask placed on a (height, width) canvas."""
        out = np.zeros(shape, np.uint8)
        h, w = self.mask.shape
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.x + w, shape[1]), min(self.y + h, shape[0])
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = self.mask[y0 - self.y:y1 - self.y, x0 - self.x:x1 - self.x]
        return out


@dataclass(frozen=True, eq=False)
class EditRequest:
    """Everything a backend needs for one edit, copied out of the document.

    ``task``: a task name the backend implements (the classical backend needs one), or None
    for a free-text instruction. ``annotation_use``: how the pen marks are given to the model,
    any of "draw" (drawn into the input), "mask" (closed shapes and thick strokes become the
    edit mask), "reference" (the overlay as an extra image), "phrase" (a grounded phrase is
    appended to the instruction); None lets the backend choose from its capabilities.
    ``region``: "auto" edits the selection's neighbourhood when there is a selection and the
    task edits in place, "selection" always does, "whole" never crops.
    ``size_policy``: "input" returns images at the input size, "working" at the backend's size.
    ``change_mask``: keep only what the edit actually changed.
    ``steps``/``guidance`` None mean the backend's defaults; ``seed`` None means random.
    """

    image: np.ndarray
    instruction: str = ""
    task: str | None = None
    references: tuple[Reference, ...] = ()
    selection: np.ndarray | None = None
    annotation_overlay: np.ndarray | None = None
    annotation_mask: np.ndarray | None = None
    marks: tuple[MarkData, ...] = ()
    annotation_use: frozenset[str] | None = None
    pieces: tuple[Piece, ...] = ()
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    strength: float = 1.0
    size_policy: str = "input"
    region: str = "auto"
    change_mask: bool = False
    variations: int = 1
    loras: tuple[tuple[str, float], ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    origin: tuple[int, int] = (0, 0)
    mark_strategy: str | None = None  # how a model reads the marks (inference.pen.strategies); None: its default
    align: bool = True  # model results are registered to the input and colour-matched (inference.pen.alignment)
    speed: str = "quality"  # "quality" (the model card), "fast" (step caching, compile, FP8), "draft" (fewer steps)

    def __post_init__(self) -> None:
        img = _frozen(_rgba(self.image, "the image"))
        object.__setattr__(self, "image", img)
        shape = img.shape[:2]
        if not isinstance(self.instruction, str):
            raise InvalidRequest("the instruction must be text")
        object.__setattr__(self, "instruction", self.instruction.strip())
        if self.task is not None and (not isinstance(self.task, str) or not self.task.strip()):
            raise InvalidRequest("the task must be a name or None")
        refs = tuple(self.references)
        for r in refs:
            if not isinstance(r, Reference):
                raise InvalidRequest("references must be Reference(label, image) values")
        object.__setattr__(self, "references", refs)
        for name in ("selection", "annotation_mask"):
            m = getattr(self, name)
            if m is not None:
                m = _mask(m, shape, f"the {name.replace('_', ' ')}")
                object.__setattr__(self, name, _frozen(m) if m.any() else None)
        if self.annotation_overlay is not None:
            ov = _rgba(self.annotation_overlay, "the annotation overlay")
            if ov.shape[:2] != shape:
                raise InvalidRequest("the annotation overlay does not match the image size")
            object.__setattr__(self, "annotation_overlay", _frozen(ov))
        marks = tuple(self.marks)
        if not all(isinstance(m, MarkData) for m in marks):
            raise InvalidRequest("marks must be MarkData values")
        object.__setattr__(self, "marks", marks)
        if self.annotation_use is not None:
            use = frozenset(self.annotation_use)
            bad = use - ANNOTATION_USES
            if bad:
                raise InvalidRequest(f"unknown annotation use {', '.join(sorted(bad))}; "
                                     f"any of {', '.join(sorted(ANNOTATION_USES))}")
            object.__setattr__(self, "annotation_use", use)
        pieces = tuple(self.pieces)
        if not all(isinstance(p, Piece) for p in pieces):
            raise InvalidRequest("pieces must be Piece values")
        object.__setattr__(self, "pieces", pieces)
        if self.seed is not None:
            if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) or not 0 <= self.seed < 2**63:
                raise InvalidRequest(f"the seed must be a whole number from 0 to 2^63-1, not {self.seed!r}")
            object.__setattr__(self, "seed", int(self.seed))
        if self.steps is not None and (isinstance(self.steps, bool) or not isinstance(self.steps, int)
                                       or not 1 <= self.steps <= 1000):
            raise InvalidRequest(f"steps must be a whole number from 1 to 1000, not {self.steps!r}")
        if self.guidance is not None:
            g = float(self.guidance)
            if not math.isfinite(g) or not 0 <= g <= 100:
                raise InvalidRequest(f"guidance must be between 0 and 100, not {self.guidance!r}")
            object.__setattr__(self, "guidance", g)
        s = float(self.strength)
        if not math.isfinite(s) or not 0.0 <= s <= 1.0:
            raise InvalidRequest(f"strength must be between 0 and 1, not {self.strength!r}")
        object.__setattr__(self, "strength", s)
        if self.size_policy not in SIZE_POLICIES:
            raise InvalidRequest(f"unknown size policy {self.size_policy!r}; one of {', '.join(SIZE_POLICIES)}")
        if self.region not in REGION_MODES:
            raise InvalidRequest(f"unknown region mode {self.region!r}; one of {', '.join(REGION_MODES)}")
        if self.region == "selection" and self.selection is None:
            raise InvalidRequest("the edit is limited to the selection, but nothing is selected")
        if isinstance(self.variations, bool) or not isinstance(self.variations, int) or not 1 <= self.variations <= MAX_VARIATIONS:
            raise InvalidRequest(f"variations must be from 1 to {MAX_VARIATIONS}, not {self.variations!r}")
        loras = []
        for item in self.loras:
            try:
                path, weight = item
                weight = float(weight)
            except (TypeError, ValueError):
                raise InvalidRequest(f"a LoRA is (path, weight), not {item!r}") from None
            if not math.isfinite(weight):
                raise InvalidRequest(f"LoRA {path}: the weight must be a number")
            loras.append((str(path), weight))
        object.__setattr__(self, "loras", tuple(loras))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        ox, oy = self.origin
        object.__setattr__(self, "origin", (int(ox), int(oy)))
        if self.mark_strategy is not None:
            from inference.pen.strategies import STRATEGIES

            if self.mark_strategy not in STRATEGIES:
                raise InvalidRequest(f"unknown way to give the marks {self.mark_strategy!r}; one of "
                                     f"{', '.join(STRATEGIES)}")
        object.__setattr__(self, "align", bool(self.align))
        if self.speed not in SPEEDS:
            raise InvalidRequest(f"unknown speed {self.speed!r}; one of {', '.join(SPEEDS)}")

    # --- conveniences ------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return self.image.shape[1]

    @property
    def height(self) -> int:
        return self.image.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[:2]

    def replace(self, **changes: Any) -> EditRequest:
        """A copy with some fields changed (validated again)."""
        if "params" not in changes:
            changes["params"] = dict(self.params)
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """The parameters as plain JSON-able values (for provenance and logs)."""
        return {
            "task": self.task, "seed": self.seed, "steps": self.steps, "guidance": self.guidance,
            "strength": self.strength, "variations": self.variations, "size_policy": self.size_policy,
            "region": self.region, "change_mask": self.change_mask,
            "annotation_use": sorted(self.annotation_use) if self.annotation_use is not None else None,
            "mark_strategy": self.mark_strategy, "align": self.align, "speed": self.speed,
            "loras": [list(x) for x in self.loras], "params": _plain(dict(self.params)),
        }


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, str | int | float | bool):
        return v
    return str(v)


@dataclass(frozen=True, eq=False)
class EditResult:
    """What a backend returns: one RGBA image per variation, all covering ``rect``.

    ``rect`` is (x, y, w, h) in the request image's pixels: the whole image for a whole-image
    edit, the edited neighbourhood for region and change-mask edits. Each image's alpha says
    where it applies: 255 where the edit replaces the input, lower along a feathered edge, 0
    where the input must stay untouched. Compositing an image over the input ("over") gives
    the edited picture; :func:`inference.region.composite_over` does that.

    ``scale``: 1, or the working/input size ratio when ``size_policy`` was "working" (then
    ``rect`` is in the working image's pixels).
    ``seeds``: the seed each image was made with (None for deterministic backends).
    ``timings``: seconds per phase. ``instruction_used``: the text the model actually saw.
    """

    images: tuple[np.ndarray, ...]
    rect: tuple[int, int, int, int]
    seeds: tuple[int | None, ...]
    timings: Mapping[str, float]
    backend: str
    model: str
    warnings: tuple[str, ...] = ()
    instruction_used: str = ""
    scale: float = 1.0
    kind: str = "variations"  # "variations": pick one; "layers": insert every image, bottom to top
    notes: tuple[str, ...] = ()  # what was done to the result ("aligned: 3.2 px …", "pen marks removed …")

    def __post_init__(self) -> None:
        if self.kind not in ("variations", "layers"):
            raise ValueError(f"unknown result kind {self.kind!r}")
        if not self.images:
            raise ValueError("a result needs at least one image")
        x, y, w, h = (int(v) for v in self.rect)
        object.__setattr__(self, "rect", (x, y, w, h))
        for im in self.images:
            _rgba(im, "a result image")
            if im.shape[:2] != (h, w):
                raise ValueError(f"result image is {im.shape[1]}×{im.shape[0]} but its rect is {w}×{h}")
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    @property
    def duration(self) -> float:
        return float(sum(self.timings.values()))
