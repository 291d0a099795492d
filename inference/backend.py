"""The backend contract: what a backend can do, whether it can run here, and ``run()``.

A backend subclass states its ``name``, ``capabilities`` and ``model`` and implements
``edit(request, reporter)``. :meth:`Backend.run` is the one entry point a worker calls; it
does what every backend shares, once:

1. checks availability and the request against the capabilities (typed, readable errors);
2. turns the pen marks into what the backend takes (:mod:`inference.pen.annotations`);
3. crops to the selection with context, or scales to the working size (:mod:`inference.region`);
4. calls ``edit()``, which reports progress and checks the cancel token at least once per step;
   a model's images are aligned to the input and rid of copied pen marks (:mod:`inference.postprocess`);
5. scales back, pastes through the feathered selection, applies the change mask;
6. checks cancellation one last time: a cancelled job raises ``Cancelled``, never returns.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from inference import postprocess, region
from inference.errors import BackendFailed, BackendUnavailable, InferenceError, InvalidRequest, OutOfMemory
from inference.pen import annotations
from inference.progress import CancelToken, Progress, Reporter
from inference.request import EditRequest, EditResult


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, so the UI offers only what works.

    ``tasks``: task names it implements (the classical backend works only through them);
    ``reads_instruction``: it follows free-text instructions; ``max_references``: extra input
    images it accepts; ``takes_mask``: it can confine an edit to a mask; ``native_annotations``:
    it understands red-pen marks drawn into the image; ``needs_gpu``; ``working_size``: the long
    side it prefers in pixels (None: any size); ``size_multiple``: sizes must be a multiple of
    this; ``upscale_regions``: small regions are enlarged to the working size;
    ``max_variations``: how many different results one run can give; ``seeded``: seeds matter;
    ``marks``: the family entry of :mod:`inference.pen.strategies` (how it reads the red pen);
    ``aligns``: its results drift (a model's do), so they are aligned to the input; ``alpha``: its results carry
    their own alpha (an RGBA model's: a transparent area is part of the edit, kept through alignment).
    """

    tasks: tuple[str, ...] = ()
    reads_instruction: bool = True
    max_references: int = 0
    takes_mask: bool = False
    native_annotations: bool = False
    needs_gpu: bool = False
    working_size: int | None = None
    size_multiple: int = 1
    upscale_regions: bool = False
    max_variations: int = 16
    seeded: bool = True
    marks: str | None = None  # whose entry in inference.pen.strategies says how it reads the pen (None: none)
    aligns: bool = False  # its results are registered to the input and colour-matched (a model's drift)
    alpha: bool = False  # its results' alpha is their own, not the input's (an RGBA model)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here and, if not, why (in words a person can act on)."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def __iter__(self):
        return iter((self.ok, self.reason))


class Backend:
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    result_kind: ClassVar[str] = "variations"  # "layers" for backends that split an image into layers
    speed_modes: ClassVar[bool] = False  # honours EditRequest.speed (the in-process diffusers families)
    # what a run occupies: jobs on one resource queue, jobs on different ones may run at the same time
    # ("cpu": this computer's processor; "gpu": the in-process model on the local device; "comfyui": the
    # ComfyUI servers; "api:NAME": a remote API)
    resource: ClassVar[str] = "cpu"

    @property
    def model(self) -> str:
        """Identity of the model or library version (stored in provenance)."""
        return ""

    def availability(self) -> Availability:
        return Availability(True)

    # --- what subclasses say ------------------------------------------------------------------
    def validate(self, request: EditRequest) -> None:
        """Raise InvalidRequest when this backend cannot do ``request``."""
        caps = self.capabilities
        if request.task is not None and caps.tasks and request.task not in caps.tasks:
            raise InvalidRequest(f"the {self.name} backend has no task {request.task!r}; "
                                 f"it does: {', '.join(caps.tasks)}")
        if request.task is None and not caps.reads_instruction:
            raise InvalidRequest(f"the {self.name} backend does not read instructions; choose a task "
                                 f"({', '.join(caps.tasks)})")
        if len(request.references) > caps.max_references:
            raise InvalidRequest(f"the {self.name} backend takes at most {caps.max_references} reference "
                                 f"image(s), not {len(request.references)}")

    def wants_region(self, request: EditRequest) -> bool:
        """With region "auto": crop to the selection for this request? (default: yes)."""
        return True

    def plan_steps(self, request: EditRequest) -> int:
        """How many progress steps ``edit`` will report (for the progress bar)."""
        return 1

    def edit(self, request: EditRequest, reporter: Reporter) -> tuple[list[np.ndarray], list[int | None], list[str]]:
        """Edit ``request.image``; return (RGBA images of the same size, seeds, warnings).

        Call ``reporter.phase(name)`` at each phase and ``reporter.advance()`` after each step.
        """
        raise NotImplementedError

    def seeds_for(self, request: EditRequest, count: int | None = None) -> list[int]:
        """One seed per variation: the request's seed and the ones after it, or a random start.

        The seeds are reported in the result (and stored on the layer) so any result can be
        made again.
        """
        n = count if count is not None else min(request.variations, self.capabilities.max_variations)
        base = request.seed if request.seed is not None else secrets.randbelow(2**31)
        return [(base + i) % 2**63 for i in range(n)]

    def translate_error(self, exc: Exception) -> InferenceError | None:
        """Map a library's exception to a typed error with a readable message (None: a bug)."""
        if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
            return OutOfMemory(f"the {self.name} backend ran out of memory; try a smaller selection or image"
                               + (", or a lower-memory mode" if self.capabilities.needs_gpu else ""))
        if isinstance(exc, cv2.error):
            text = str(exc).strip()
            msg = text.splitlines()[-1] if text else type(exc).__name__
            return BackendFailed(f"the {self.name} backend failed: {msg}")
        return None

    # --- the shared path -----------------------------------------------------------------------
    def run(self, request: EditRequest, progress: Progress | None = None,
            cancel: CancelToken | None = None) -> EditResult:
        """Run one edit. Raises a typed :class:`~inference.errors.InferenceError`; Cancelled
        when ``cancel`` is set before the result is complete."""
        rep = Reporter(progress, cancel, self.plan_steps(request) + 2)
        rep.phase("prepare")
        ok, reason = self.availability()
        if not ok:
            raise BackendUnavailable(f"the {self.name} backend is not available: {reason}")
        self.validate(request)
        caps = self.capabilities
        warnings: list[str] = []
        req, w = annotations.prepare(request, caps)
        warnings += w
        use_region = req.selection is not None and (
            req.region == "selection" or (req.region == "auto" and self.wants_region(req)))
        plan: region.RegionPlan | None
        if use_region:
            plan = region.plan_region(req.selection, caps.working_size, multiple=caps.size_multiple,
                                      upscale=caps.upscale_regions,
                                      margin=float(req.params.get("context", 0.25)))
        else:
            plan = region.plan_whole(req.shape, caps.working_size, caps.size_multiple)
            if plan.identity:
                plan = None
        work = region.crop_request(req, plan) if plan is not None else req
        rep.preview_rect = tuple(plan.crop) if plan is not None else (0, 0, req.width, req.height)
        rep.total = self.plan_steps(work) + 2  # the crop may need fewer steps than the whole
        if req.variations > caps.max_variations:
            warnings.append(f"the {self.name} backend gives {caps.max_variations} result(s) per run, "
                            f"not {req.variations}")
        rep.advance()
        try:
            images, seeds, w = self.edit(work, rep)
        except InferenceError:
            raise
        except Exception as exc:
            typed = self.translate_error(exc)
            if typed is None:
                raise
            raise typed from exc
        warnings += w
        notes: list[str] = list(rep.notes)  # the backend's own (e.g. what a remote model said)
        if request.speed != "quality" and not self.speed_modes:
            notes.insert(0, f"speed {request.speed}: the {self.name} backend has one speed (it ran as it always does)")
        if self.result_kind == "variations" and (caps.aligns or postprocess.marks_seen(work)):
            rep.phase("align")
            images, done, w = postprocess.after_edit(request, req, work, plan, list(images),
                                                     aligns=caps.aligns, check=rep.check, alpha=caps.alpha)
            notes += done
            warnings += w
        rep.phase("finish")
        layers, rect, scale = self._finish(req, work, plan, use_region, images)
        timings = rep.finish()
        used = getattr(rep, "instruction_used", None) or work.instruction  # the text the model saw
        return EditResult(tuple(layers), rect, tuple(seeds), timings, self.name, self.model,
                          tuple(warnings), used, scale, self.result_kind, tuple(notes))

    def _finish(self, req: EditRequest, work: EditRequest, plan, use_region: bool, images):
        if not images:
            raise BackendFailed(f"the {self.name} backend returned no image")
        for im in images:
            if not isinstance(im, np.ndarray) or im.shape != (*work.shape, 4) or im.dtype != np.uint8:
                raise BackendFailed(f"the {self.name} backend returned an image of the wrong size or type")
        full_rect = (0, 0, req.width, req.height)
        if plan is None:
            layers, rects = [im for im in images], [full_rect] * len(images)
        elif use_region:
            pairs = [region.paste_back(im, plan, req.selection, req.params.get("feather")) for im in images]
            layers, rects = [p[0] for p in pairs], [p[1] for p in pairs]
        elif req.size_policy == "working":
            wh = plan.work_size
            return list(images), (0, 0, wh[0], wh[1]), plan.scale
        else:
            layers = [region.resize_rgba(im, (req.width, req.height)) for im in images]
            rects = [full_rect] * len(images)
        if req.change_mask:
            masked = []
            for lay, r in zip(layers, rects, strict=True):
                x, y, w, h = r
                cm = region.change_mask(req.image[y:y + h, x:x + w], lay)
                lay = lay.copy()
                lay[..., 3] = (lay[..., 3].astype(np.uint16) * cm // 255).astype(np.uint8)
                masked.append(lay)
            layers = masked
        # every image covers the same rect: the union of where each one applies
        boxes = []
        for lay, r in zip(layers, rects, strict=True):
            b = region.mask_bbox(lay[..., 3])
            boxes.append(None if b is None else (b[0] + r[0], b[1] + r[1], b[2], b[3]))
        union = None
        for b in boxes:
            union = region.union_rect(union, b)
        if union is None:
            union = (rects[0][0], rects[0][1], 1, 1)
        ux, uy, uw, uh = union
        out = []
        for lay, r in zip(layers, rects, strict=True):
            canvas = np.zeros((uh, uw, 4), np.uint8)
            x0, y0 = max(ux, r[0]), max(uy, r[1])
            x1, y1 = min(ux + uw, r[0] + r[2]), min(uy + uh, r[1] + r[3])
            canvas[y0 - uy:y1 - uy, x0 - ux:x1 - ux] = lay[y0 - r[1]:y1 - r[1], x0 - r[0]:x1 - r[0]]
            out.append(canvas)
        return out, union, 1.0
