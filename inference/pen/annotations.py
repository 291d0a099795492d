"""Pen marks → what a backend needs: drawn into the input, a mask, a reference or a phrase.

Akapen's pen marks are vectors, so the app knows exactly where the user drew. These plain
functions work on the request's :class:`~inference.request.MarkData` and overlay (no canvas).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from inference.errors import InvalidRequest
from inference.request import EditRequest, MarkData, Reference

_SHIFT = 4
_ONE = 1 << _SHIFT


def _pt(p) -> tuple[int, int]:
    return int(round((p[0] - 0.5) * _ONE)), int(round((p[1] - 0.5) * _ONE))


def is_loop(mark: MarkData) -> bool:
    """A freehand stroke that comes back near its start: the user circled something."""
    if mark.kind != "stroke" or len(mark.points) < 8:
        return False
    pts = np.asarray(mark.points)
    extent = float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0))))
    gap = math.dist(mark.points[0], mark.points[-1])
    return extent > 4 * mark.width and gap < max(3 * mark.width, 0.2 * extent)


def encloses(mark: MarkData) -> bool:
    return mark.closed or mark.kind in ("ellipse", "rectangle") or is_loop(mark)


def marks_mask(marks, shape: tuple[int, int], *, grow: float = 0.0, stroke_scale: float = 1.0) -> np.ndarray:
    """uint8 (h, w) mask (0/255) of what the marks cover.

    Closed shapes (ellipses, rectangles, freehand loops) are filled; open strokes count as
    thick lines (``stroke_scale`` × their width). Arrows and text are instructions, not areas.
    """
    h, w = shape
    m = np.zeros((h, w), np.uint8)
    for mk in marks:
        if mk.kind in ("arrow", "text"):
            continue
        th = max(1, int(round(mk.width * stroke_scale)))
        if mk.kind in ("ellipse", "rectangle"):
            (x0, y0), (x1, y1) = mk.points[0], mk.points[-1]
            x0, x1 = sorted((x0, x1))
            y0, y1 = sorted((y0, y1))
            if mk.kind == "ellipse":
                c = ((x0 + x1) / 2, (y0 + y1) / 2)
                axes = (int(max((x1 - x0) / 2, 0.5) * _ONE), int(max((y1 - y0) / 2, 0.5) * _ONE))
                cv2.ellipse(m, _pt(c), axes, 0, 0, 360, 255, -1, cv2.LINE_8, _SHIFT)
                cv2.ellipse(m, _pt(c), axes, 0, 0, 360, 255, th, cv2.LINE_8, _SHIFT)
            else:
                pts = np.array([_pt(p) for p in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))], np.int32)
                cv2.fillPoly(m, [pts], 255, cv2.LINE_8, _SHIFT)
                cv2.polylines(m, [pts], True, 255, th, cv2.LINE_8, _SHIFT)
            continue
        pts = np.array([_pt(p) for p in mk.points], np.int32)
        if is_loop(mk):
            cv2.fillPoly(m, [pts], 255, cv2.LINE_8, _SHIFT)
        if len(pts) == 1:
            cv2.circle(m, tuple(int(v) for v in pts[0]), int(th / 2 * _ONE), 255, -1, cv2.LINE_8, _SHIFT)
        else:
            cv2.polylines(m, [pts], False, 255, th, cv2.LINE_8, _SHIFT)
    if grow > 0:
        k = int(math.ceil(grow)) * 2 + 1
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return m


def annotation_mask(request: EditRequest, *, grow: float = 0.0) -> np.ndarray | None:
    """The area the pen marked: the request's own mask, else from the marks, else painted strokes."""
    if request.annotation_mask is not None:
        m = request.annotation_mask
    elif request.marks:
        m = marks_mask(request.marks, request.shape)
    elif request.annotation_overlay is not None and request.annotation_overlay[..., 3].any():
        # painted (non-vector) annotations: fill what they enclose, keep the paint itself
        paint = np.where(request.annotation_overlay[..., 3] > 0, 255, 0).astype(np.uint8)
        contours, _ = cv2.findContours(paint, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        m = paint.copy()
        cv2.drawContours(m, contours, -1, 255, -1)
    else:
        return None
    if not m.any():
        return None
    if grow > 0:
        k = int(math.ceil(grow)) * 2 + 1
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return m


def draw_overlay(image: np.ndarray, overlay: np.ndarray | None) -> np.ndarray:
    """The overlay composited onto ``image`` (for models that read drawn instructions)."""
    if overlay is None:
        return image.copy()
    a = overlay[..., 3:4].astype(np.float32) / 255.0
    out = image.copy()
    out[..., :3] = np.clip(overlay[..., :3] * a + image[..., :3] * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    out[..., 3] = np.maximum(image[..., 3], overlay[..., 3])
    return out


_COLOURS = {
    "red": (220, 30, 30), "orange": (240, 140, 20), "yellow": (240, 220, 30), "green": (40, 170, 60),
    "blue": (30, 80, 230), "purple": (140, 40, 190), "pink": (240, 100, 180), "black": (20, 20, 20),
    "white": (245, 245, 245), "grey": (128, 128, 128),
}


def colour_name(rgb) -> str:
    """The nearest plain colour word for an (r, g, b[, a]) colour."""
    r, g, b = (float(v) for v in tuple(rgb)[:3])
    return min(_COLOURS, key=lambda n: sum((c - v) ** 2 for c, v in zip(_COLOURS[n], (r, g, b), strict=True)))


def position_words(cx: float, cy: float, width: int, height: int) -> str:
    """Where a point lies on a 3×3 grid: "upper left", "top", "centre", "lower right"..."""
    col = min(2, max(0, int(3 * cx / max(width, 1))))
    row = min(2, max(0, int(3 * cy / max(height, 1))))
    if (row, col) == (1, 1):
        return "centre"
    v = ("upper", "", "lower")[row]
    hname = ("left", "", "right")[col]
    if not v:
        return f"{hname} side"
    if not hname:
        return ("top", "", "bottom")[row]
    return f"{v} {hname}"


def _where(words: str) -> str:
    return "in the centre of the image" if words == "centre" else (
        f"on the {words} of the image" if words.endswith("side") else f"in the {words} of the image")


def grounded_phrase(marks, shape: tuple[int, int], max_items: int = 3) -> str:
    """A short phrase that grounds the marks, e.g. "(the area circled in red, in the upper
    left of the image)". Empty when there are no marks that say where."""
    h, w = shape
    parts: list[str] = []
    for mk in marks:
        x0, y0, x1, y1 = mk.bbox()
        colour = colour_name(mk.color)
        if mk.kind == "arrow":
            ex, ey = mk.points[-1]
            parts.append(f"the spot the {colour} arrow points to, {_where(position_words(ex, ey, w, h))}")
            continue
        where = _where(position_words((x0 + x1) / 2, (y0 + y1) / 2, w, h))
        if mk.kind == "text":
            if mk.text.strip():
                parts.append(f"the note “{mk.text.strip()}” written {where}")
            continue
        if mk.kind == "rectangle":
            verb = "boxed"
        elif encloses(mk):
            verb = "circled"
        else:
            verb = "marked"
        parts.append(f"the area {verb} in {colour}, {where}")
    # the same description twice says nothing new
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    if not seen:
        return ""
    more = len(seen) - max_items
    text = "; ".join(seen[:max_items]) + (f"; and {more} more mark(s)" if more > 0 else "")
    return f"({text})"


def default_use(caps) -> frozenset[str]:
    """How to give marks to a backend that was not told: what it understands best."""
    if caps.native_annotations:
        return frozenset({"draw"})
    use = set()
    if caps.takes_mask:
        use.add("mask")
    if caps.reads_instruction:
        use.add("phrase")
    return frozenset(use)


def _fill_green(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = image.copy()
    out[mask > 0] = (0, 255, 0, 255)
    return out


def apply_strategy(request: EditRequest, caps, strategy: str) -> tuple[EditRequest, list[str]]:
    """One of :mod:`inference.pen.strategies`' ways, with its wording (the returned request is what the
    backend gets; ``mark_strategy`` on it says which way was taken)."""
    from inference.pen import strategies as MS

    warnings: list[str] = []
    name = caps.marks or ""
    why = MS.unavailable(name).get(strategy)
    if why:  # this family cannot take it at all: said, not swapped for another way
        raise InvalidRequest(f"the marks' way “{MS.label(strategy, name)}” is not available for {name}: {why}")
    if strategy == "extra_image" and caps.max_references <= len(request.references):
        warnings.append("this model takes no more images, so the marks were drawn into the picture instead")
        strategy = "draw"
    if strategy == "mask" and not caps.takes_mask:
        warnings.append("this model takes no mask, so the marked region is edited instead")
        strategy = "region"
    changes: dict = {"mark_strategy": strategy, "annotation_use": frozenset()}
    marks = request.marks
    phrase = grounded_phrase(marks, request.shape) if marks else ""
    where = phrase.strip("()") or "as drawn"
    colours = ", ".join(dict.fromkeys(colour_name(m.color) for m in marks)) or "red"
    overlay = request.annotation_overlay
    enclosed = marks_mask([m for m in marks if encloses(m)], request.shape) if marks else None
    if strategy == "draw" and overlay is not None:
        changes["image"] = draw_overlay(request.image, overlay)
    elif strategy == "extra_image" and overlay is not None:
        changes["references"] = (Reference("marks", draw_overlay(request.image, overlay)), *request.references)
    elif strategy == "mask":
        changes["annotation_mask"] = annotation_mask(request)
    elif strategy == "green":
        mask = enclosed if enclosed is not None and enclosed.any() else annotation_mask(request)
        if mask is not None:
            changes["image"] = _fill_green(request.image, mask)
            if caps.takes_mask:
                changes["annotation_mask"] = mask
    elif strategy == "region" and request.selection is None and enclosed is not None and enclosed.any():
        changes["selection"] = enclosed  # edited with context around it (Backend.run crops), pasted back inside
    if caps.reads_instruction:
        changes["instruction"] = MS.instruction(strategy, name, request.instruction, where, colours, phrase)
    return request.replace(**changes), warnings


def resolve_strategy(request: EditRequest, caps) -> str | None:
    """The way the marks go to this backend: the request's, else the family's default — unless the request
    says its own ``annotation_use`` (the panel's custom ways, ``--annotation-use``)."""
    from inference.pen import strategies as MS

    if request.mark_strategy is not None:
        return request.mark_strategy
    if request.annotation_use is not None or not caps.marks:
        return None
    return MS.default(caps.marks, request.loras)


def prepare(request: EditRequest, caps) -> tuple[EditRequest, list[str]]:
    """Give the marks to the backend: by its family's strategy (:mod:`inference.pen.strategies`), or by
    ``annotation_use``; the returned request is what the backend gets.

    "draw" draws the overlay into the image, "mask" puts the marked area in
    ``annotation_mask``, "reference" adds the marked image as an extra reference labelled
    "annotations", "phrase" appends a grounded phrase to the instruction. The overlay and marks
    stay on the request for backends that want them. Returns (request, warnings).
    """
    has_marks = bool(request.marks) or (
        request.annotation_overlay is not None and bool(request.annotation_overlay[..., 3].any())
    ) or request.annotation_mask is not None
    if not has_marks:
        return request, []
    strategy = resolve_strategy(request, caps)
    if strategy is not None:
        return apply_strategy(request, caps, strategy)
    use = request.annotation_use if request.annotation_use is not None else default_use(caps)
    warnings: list[str] = []
    changes: dict = {"annotation_use": use}
    if "mask" in use:
        if not caps.takes_mask:
            warnings.append("this backend takes no mask; the marks were not used as one")
        else:
            changes["annotation_mask"] = annotation_mask(request)
    if "phrase" in use and request.marks:
        phrase = grounded_phrase(request.marks, request.shape)
        if phrase and phrase not in request.instruction:
            changes["instruction"] = f"{request.instruction} {phrase}".strip()
    if "draw" in use and request.annotation_overlay is not None:
        changes["image"] = draw_overlay(request.image, request.annotation_overlay)
    if "reference" in use and request.annotation_overlay is not None:
        if len(request.references) >= caps.max_references:
            warnings.append("the backend takes no more reference images; the marks were not sent as one")
        else:
            marked = draw_overlay(request.image, request.annotation_overlay)
            changes["references"] = (*request.references, Reference("annotations", marked))
    return request.replace(**changes), warnings
