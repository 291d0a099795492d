"""What :meth:`Backend.run` does to a model's images before they are pasted back, in the working frame:

1. **alignment** (:mod:`inference.pen.alignment`) — a model's result drifts (a few pixels, a slight scale, a
   colour cast): registered to the clean input, colour-matched, the input's own pixels kept where nothing
   changed. Only for backends whose capabilities say ``aligns`` and requests with ``align`` on. A backend whose
   results carry their own alpha (``alpha``: Qwen-Image-2.1's RGBA VAE) keeps it where the edit changed it.
2. **pen-mark clean-up** (:mod:`inference.pen.cleanup`) — when the marks went into an input the model saw
   (drawn into the picture, or the marked picture as image 2), copies of them are looked for in the
   result and taken out.

3. **piece identity** (:mod:`inference.collage.identity`) — when the edit refines a collage (the refine-collage task
   or ``params["refine"]``), each piece keeps as much of its interior as its identity strength says.

Each step says what it did (``notes``) or what it could not do (``warnings``).
"""

from __future__ import annotations

import numpy as np

from inference import region
from inference.collage import identity
from inference.pen import alignment
from inference.pen import cleanup as mark_cleanup
from inference.pen.strategies import MARKS_IN_INPUT
from inference.request import EditRequest

DEFAULT_MARK = (230, 30, 30)


def clean_input(request: EditRequest, plan: region.RegionPlan | None) -> np.ndarray:
    """The user's picture as the backend saw it (cropped and scaled), before any marks were put in it."""
    if plan is None:
        return request.image
    x, y, w, h = plan.crop
    crop = request.image[y:y + h, x:x + w]
    return crop if plan.identity else region.resize_rgba(crop, plan.work_size)


def marks_seen(req: EditRequest) -> bool:
    """Did the model get the marks in a picture (so it may copy them)?"""
    if req.annotation_overlay is None:
        return False
    if req.mark_strategy is not None:
        return req.mark_strategy in MARKS_IN_INPUT
    return bool(req.annotation_use and {"draw", "reference"} & set(req.annotation_use))


def is_refine(req: EditRequest) -> bool:
    """Does this edit refine a collage (so its pieces' identity counts)?"""
    return req.task == "refine-collage" or bool(req.params.get("refine"))


def _mark_colours(request: EditRequest, overlay: np.ndarray) -> list[tuple[int, int, int]]:
    colours = list(dict.fromkeys(tuple(m.color[:3]) for m in request.marks))
    if not colours:  # painted on a marks layer, not drawn as shapes: the overlay's own colour
        opaque = overlay[..., 3] > 128
        colours = [tuple(int(v) for v in np.median(overlay[opaque][:, :3], axis=0))] if opaque.any() else [DEFAULT_MARK]
    return colours


def _mark_width(request: EditRequest, scale: float) -> float:
    widths = [m.width for m in request.marks]
    return max(1.0, (max(widths) if widths else 6.0) * scale)


def after_edit(request: EditRequest, req: EditRequest, work: EditRequest, plan: region.RegionPlan | None,
               images: list[np.ndarray], *, aligns: bool, check,
               alpha: bool = False) -> tuple[list[np.ndarray], list[str], list[str]]:
    """(images, notes, warnings). ``request``: as the user made it; ``req``: once the marks were given to the
    backend; ``work``: as the backend got it (cropped); ``check()`` raises when cancelled; ``alpha``: the images'
    alpha is their own (an RGBA model's), kept by the alignment where the edit changed it."""
    do_align = aligns and req.align
    do_marks = marks_seen(work)
    do_keep = aligns and is_refine(work) and any(p.identity > 0 for p in work.pieces)
    if not (do_align or do_marks or do_keep) or not images:
        return images, [], []
    before = clean_input(request, plan)
    if before.shape != images[0].shape:
        return images, [], []
    notes: list[str] = []
    warnings: list[str] = []
    many = len(images) > 1
    out = []
    for i, im in enumerate(images):
        check()
        tag = f"result {i + 1}: " if many else ""
        if do_align:
            im, al = alignment.align(before, im, alpha=alpha)
            notes.append(tag + al.describe())
        if do_marks:
            scale = plan.scale if plan is not None else 1.0
            overlay = work.annotation_overlay
            im, done = mark_cleanup.clean(im, before, overlay, _mark_colours(request, overlay),
                                          _mark_width(request, scale))
            if done.note():
                notes.append(tag + done.note())
            if done.warning():
                warnings.append(tag + done.warning())
        if do_keep:
            im, said = identity.keep_pieces(im, before, work.pieces)
            notes += [tag + n for n in said]
        out.append(im)
    return out, notes, warnings
