"""The glue between the document and the editing backends (Qt-free; the window and the CLI
both use it).

``build_request(document, ...)`` copies what a backend needs out of the live document into
a frozen :class:`~inference.request.EditRequest` (the worker never sees the document);
``apply_result(document, request, result, ...)`` turns a chosen result image into a new pixel
layer with its provenance, in one undoable step that also hides the annotation layers.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from canvas import commands as C
from canvas.document import Document
from canvas.errors import CanvasError
from canvas.geometry import Rect
from canvas.layers import AnnotationLayer, Layer, PieceLayer, PixelLayer
from canvas.marks import Arrow, Ellipse, Mark, Rectangle, Stroke, TextLabel
from inference.backend import Capabilities
from inference.request import EditRequest, EditResult, MarkData, Piece, Reference


def mark_data(mark: Mark) -> MarkData:
    """A canvas mark as plain geometry for the request."""
    if isinstance(mark, Stroke):
        pts = tuple(mark.points_)
    elif isinstance(mark, Arrow):
        pts = (mark.start, mark.end)
    elif isinstance(mark, Ellipse | Rectangle):
        pts = (mark.p0, mark.p1)
    elif isinstance(mark, TextLabel):
        pts = tuple(mark.points())
    else:
        pts = tuple(mark.points())
    return MarkData(kind=mark.kind, points=pts, width=float(mark.width), color=tuple(mark.color),
                    closed=bool(mark.closed), text=getattr(mark, "text", ""))


def annotation_layers(document: Document, visible_only: bool = True) -> list[AnnotationLayer]:
    return [lyr for lyr in document.layers if isinstance(lyr, AnnotationLayer)
            and lyr.role == "annotation" and (lyr.visible or not visible_only)]


def collage_pieces(document: Document, rect: Rect) -> list[Piece]:
    """Visible content pieces as (alpha mask, position) inside ``rect``, bottom to top."""
    out = []
    for lyr in document.layers:
        if not isinstance(lyr, PieceLayer) or lyr.role != "content" or not lyr.visible:
            continue
        inner = lyr.bounds().intersect(rect)
        if inner.empty:
            continue
        alpha = np.ascontiguousarray(lyr.read(inner)[..., 3])
        if lyr.opacity < 1.0:
            alpha = (alpha.astype(np.float32) * lyr.opacity + 0.5).astype(np.uint8)
        if alpha.any():
            out.append(Piece(alpha.copy(), inner.x - rect.x, inner.y - rect.y, lyr.name, lyr.identity,
                             outline=lyr.cutout is not None))
    return out


def document_references(document: Document) -> list[Reference]:
    """The document's reference images, then its reference-role layers, with their names."""
    refs = [Reference(r.name, r.pixels.copy()) for r in document.references]
    for lyr in document.layers:
        if lyr.role == "reference" and lyr.visible and not lyr.bounds().empty:
            pixels, _ = lyr.raster()
            refs.append(Reference(lyr.name, pixels.copy()))
    return refs


def build_request(
    document: Document,
    instruction: str = "",
    task: str | None = None,
    backend_caps: Capabilities | None = None,
    *,
    rect: Rect | None = None,
    use_selection: bool = True,
    region: str = "auto",
    annotation_use: Iterable[str] | None = None,
    references: Iterable[tuple[str, np.ndarray]] | None = None,
    extra_references: Iterable[tuple[str, np.ndarray]] = (),
    mask: np.ndarray | None = None,
    seed: int | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    strength: float = 1.0,
    variations: int = 1,
    size_policy: str = "input",
    change_mask: bool = False,
    loras: Iterable[tuple[str, float]] = (),
    params: Mapping[str, Any] | None = None,
    mark_strategy: str | None = None,
    align: bool = True,
    speed: str = "quality",
) -> EditRequest:
    """Copy what a backend needs out of ``document`` into a frozen request.

    The image is the composite of the visible content layers (annotations and references are
    never part of it) over ``rect`` (default: the whole canvas). The pen marks come as the
    overlay and as plain geometry; the selection (or ``mask``, which replaces it) as a mask;
    references are ``references`` if given (label, RGBA), else the document's references and
    reference layers, then ``extra_references``; collage pieces as alpha masks.
    ``backend_caps`` trims references beyond what the backend takes (the request would be
    refused otherwise) and leaves ``annotation_use`` to the backend when None; ``mark_strategy`` (None: the
    family's best) says how a model is given the marks, ``align`` whether its result is aligned, ``speed``
    the speed mode ("quality", "fast", "draft": :mod:`inference.diffusion.speed`).
    """
    rect = document.rect if rect is None else rect.intersect(document.rect)
    if rect.empty:
        raise CanvasError("the area to edit lies outside the canvas")
    image = document.render(rect)
    marks: list[MarkData] = []
    overlay = None
    ann = annotation_layers(document)
    if ann:
        overlay = document.render_annotations(rect)
        if not overlay[..., 3].any():
            overlay = None
        for lyr in ann:
            for m in lyr.marks:
                if not m.bounds().intersect(rect).empty:
                    marks.append(mark_data(m).transformed(-rect.x, -rect.y))
    selection = None
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != (document.height, document.width):
            raise CanvasError(f"the mask is {mask.shape[1]}×{mask.shape[0]} but the canvas is "
                              f"{document.width}×{document.height}")
        selection = np.ascontiguousarray(mask[rect.slices()], np.uint8)
    elif use_selection and document.selection is not None:
        selection = document.selection[rect.slices()].copy()
    if references is None:
        refs = document_references(document)
    else:
        refs = [Reference(label, np.ascontiguousarray(px)) for label, px in references]
    refs += [Reference(label, np.ascontiguousarray(px)) for label, px in extra_references]
    if backend_caps is not None:
        refs = refs[: backend_caps.max_references]
    if selection is not None and not selection.any():
        selection = None
    return EditRequest(
        image=image, instruction=instruction, task=task, references=tuple(refs),
        selection=selection, annotation_overlay=overlay, marks=tuple(marks),
        annotation_use=None if annotation_use is None else frozenset(annotation_use),
        pieces=tuple(collage_pieces(document, rect)), seed=seed, steps=steps, guidance=guidance,
        strength=strength, size_policy=size_policy,
        region=region,
        change_mask=change_mask, variations=variations, loras=tuple(loras), params=dict(params or {}),
        origin=(rect.x, rect.y), mark_strategy=mark_strategy, align=align, speed=speed,
    )


def place_preview(request: EditRequest, preview: np.ndarray, rect: tuple[int, int, int, int]
                  ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A step preview as it goes on the canvas: (RGBA, (x, y, w, h) in canvas pixels).

    ``rect`` is where the backend said the preview lies in the request's image. When that is a
    crop around the selection (a region edit), only the selection shows, as only the selection
    will be pasted.
    """
    x, y, w, h = (int(v) for v in rect)
    if request.selection is not None and (w, h) != (request.width, request.height):
        mask = request.selection[y : y + h, x : x + w]
        if mask.size:
            import cv2

            mask = cv2.resize(mask, (preview.shape[1], preview.shape[0]), interpolation=cv2.INTER_AREA)
            preview = preview.copy()
            np.minimum(preview[..., 3], mask, out=preview[..., 3])
    ox, oy = request.origin
    return preview, (x + ox, y + oy, w, h)


def provenance(request: EditRequest, result: EditResult, index: int = 0) -> dict[str, Any]:
    """What is stored on a result layer (plain JSON values; saved in the .ora)."""
    return {
        "instruction": request.instruction,
        "instruction_used": result.instruction_used,
        "task": request.task,
        "backend": result.backend,
        "model": result.model,
        "seed": result.seeds[index] if index < len(result.seeds) else None,
        "variation": index + 1,
        "references": [r.label for r in request.references],
        "parameters": request.describe(),
        "duration": round(result.duration, 4),
        "timings": {k: round(float(v), 4) for k, v in result.timings.items()},
        "warnings": list(result.warnings),
        "notes": list(result.notes),
        "pieces": [{"name": p.name, "identity": round(p.identity, 4)} for p in request.pieces],
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def result_layer(request: EditRequest, result: EditResult, index: int = 0, name: str | None = None) -> PixelLayer:
    """The chosen result image as a pixel layer placed on the canvas (not yet inserted)."""
    if not 0 <= index < len(result.images):
        raise IndexError(f"there is no result {index + 1}; the edit gave {len(result.images)}")
    img = result.images[index]
    x, y, w, h = result.rect
    if result.scale != 1.0:  # a "working"-size result: back to the request's pixels
        from inference.region import resize_rgba

        w, h = round(w / result.scale), round(h / result.scale)
        x, y = round(x / result.scale), round(y / result.scale)
        img = resize_rgba(img, (w, h))
    # a task names the layer better than its (long) instruction template
    label = request.task.replace("-", " ").capitalize() if request.task else (request.instruction or "Edit")
    if request.task == "stylise" and request.params.get("style"):  # "Style: pencil", as the Task box says
        label = f"Style: {request.params['style']}"
    name = name or f"{label[:40]}" + (f" ({index + 1})" if len(result.images) > 1 else "")
    return PixelLayer(np.ascontiguousarray(img).copy(), request.origin[0] + x, request.origin[1] + y, name,
                      provenance=provenance(request, result, index))


def apply_result(document: Document, request: EditRequest, result: EditResult, index: int = 0, *,
                 name: str | None = None, hide_annotations: bool = True) -> Layer:
    """Insert result ``index`` as a new pixel layer above the edited area, in one undo step
    (for a result of kind "layers", every image as its own layer, bottom to top; returns the top one).

    The layer goes just above the topmost visible content layer that overlaps it (annotation
    layers stay above it); visible annotation layers are hidden — not deleted — in the same
    step, so the user can show them again, change the marks and run again.
    """
    return apply_results(document, [(request, result, index, name)], hide_annotations=hide_annotations)[-1]


def apply_results(document: Document, items, *, hide_annotations: bool = True,
                  label: str | None = None) -> list[Layer]:
    """Insert several results — ``(request, result, index, name)`` each — as layers in one undo step
    (Compare's Insert all), each placed as :func:`apply_result` places one, in the order given.
    Returns the top layer of each."""
    placed: list[tuple[int, list[Layer]]] = []
    layers = document.layers
    for request, result, index, name in items:
        ox, oy = request.origin
        if ox + request.width > document.width or oy + request.height > document.height:
            raise CanvasError("the canvas changed size since this edit started; run it again")
        if result.kind == "layers":  # a split into layers: every image, bottom to top
            new = [result_layer(request, result, i, f"{name or 'Split'} {i + 1}") for i in range(len(result.images))]
        else:
            new = [result_layer(request, result, index, name)]
        area = new[-1].bounds()
        index_at = 0
        for i, lyr in enumerate(layers):
            if lyr.role == "content" and lyr.visible and not lyr.bounds().intersect(area).empty:
                index_at = i + 1
        if index_at == 0:
            content = [i for i, lyr in enumerate(layers) if lyr.role == "content"]
            index_at = content[-1] + 1 if content else len(layers)
        placed.append((index_at, new))
    cmds: list[C.Command] = []
    added = 0  # layers inserted so far at or below each later place: positions move up by as many
    for index_at, new in sorted(placed, key=lambda p: p[0]):
        for lyr in new:
            cmds.append(C.AddLayer(lyr, index_at + added))
            added += 1
    if hide_annotations:
        for lyr in annotation_layers(document):
            cmds.append(C.SetLayerProps(lyr.id, {"visible": True}, {"visible": False}, f"Hide {lyr.name}"))
    if label is None:
        request, result = items[0][0], items[0][1]
        label = f"Edit: {request.task or request.instruction[:30] or result.backend}"
    document.execute(C.Macro(cmds, label), merge=False)
    return [new[-1] for _i, new in placed]


def describe_provenance(prov: dict) -> list[str]:
    """A result layer's provenance as lines a person reads (the layer's tooltip, Layer › Where it came from…,
    ``akapen info``): instruction, backend, model and variant, seed, steps, LoRAs, marks, alignment, time.
    Empty for a layer that is not an edit result."""
    if not isinstance(prov, dict) or not prov.get("backend"):
        return []
    p = prov.get("parameters") if isinstance(prov.get("parameters"), dict) else {}
    lines = []
    if prov.get("instruction"):
        lines.append(f"Instruction: {prov['instruction']}")
    used = prov.get("instruction_used")
    if used and used != prov.get("instruction"):
        lines.append(f"The model read: {used}")
    if prov.get("task"):
        lines.append(f"Task: {prov['task']}")
    lines.append(f"Backend: {prov['backend']}" + (f" · model {prov['model']}" if prov.get("model") else ""))
    seed = prov.get("seed")
    run = [f"seed {seed}" if seed is not None else "no seed (this backend does not take one)"]
    if p.get("steps"):
        run.append(f"{p['steps']} steps")
    if p.get("guidance") is not None:
        run.append(f"guidance {p['guidance']:g}" if isinstance(p["guidance"], int | float) else f"guidance {p['guidance']}")
    if p.get("speed") and p["speed"] != "quality":
        run.append(f"speed {p['speed']}")
    lines.append(" · ".join(run))
    loras = [x for x in p.get("loras") or [] if isinstance(x, list) and len(x) == 2]
    if loras:
        lines.append("LoRAs: " + ", ".join(f"{str(path).rsplit('/', 1)[-1]} × {weight:g}" for path, weight in loras))
    if p.get("mark_strategy"):
        lines.append(f"Pen marks: {p['mark_strategy']}")
    if p.get("align") is False:  # (what alignment did, when it ran, is in the notes)
        lines.append("Not aligned (pasted as the model gave it)")
    if prov.get("references"):
        lines.append("References: " + ", ".join(map(str, prov["references"])))
    when = f" on {prov['created'].replace('T', ' ')[:16]}" if prov.get("created") else ""
    if prov.get("duration") is not None:
        lines.append(f"Took {float(prov['duration']):.1f} s{when}")
    lines += [f"Note: {n}" for n in prov.get("notes") or []][:6]
    return lines
