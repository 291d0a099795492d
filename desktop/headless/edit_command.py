"""``akapen edit`` with one backend, and what the other headless commands share with it: reading and writing
images and documents, picking the backend, building the request from the command line, writing the results.

Split from :mod:`desktop.headless.cli` so the commands that need these (compare, align) import this module and
not the command line's entry point, which imports them. Heavy modules are imported inside the functions.
"""

from __future__ import annotations

import sys
from pathlib import Path


def read_image(path: str | Path):
    """An image file as straight RGBA uint8, through the document's one safe import path."""
    from canvas.errors import CanvasError
    from canvas.imageio import load_image

    p = Path(path)
    if not p.exists():
        raise CanvasError(f"{path}: no such file")
    return load_image(p)


def write_image(path: str | Path, pixels) -> None:
    """Write straight RGBA pixels (.png, or .jpg flattened over white), atomically."""
    from canvas.imageio import export_image

    export_image(path, pixels)


def load_document(path: str):
    """An .ora as its document, any other image as a one-layer document."""
    from canvas.errors import CanvasError
    from canvas.layers import PixelLayer

    p = Path(path)
    if not p.exists():
        raise CanvasError(f"{path}: no such file")
    if p.suffix.lower() == ".ora":
        from canvas.ora import load_ora

        return load_ora(p)
    from canvas.document import Document

    pixels = read_image(p)
    return Document.assemble(pixels.shape[1], pixels.shape[0], [PixelLayer(pixels, name=p.stem)])


def checked_output(output: str) -> Path:
    """``-o``: a .png or .jpg in a folder that exists — said before a long run, not after it."""
    from canvas.errors import CanvasError

    out = Path(output)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise CanvasError(f"{output}: write .png or .jpg")
    if not out.resolve().parent.is_dir():
        raise CanvasError(f"{output}: the folder {out.resolve().parent} does not exist")
    return out


def cmd_edit(args, name: str | None, out: Path) -> int:
    """``akapen edit`` with one backend (``name``, or the first available) into ``out``."""
    import time

    backend = pick_backend(args, name)
    doc = load_document(args.input)
    request = prepare_request(args, backend, doc)
    if args.instruction and not backend.capabilities.reads_instruction:
        print(f"note: the {backend.name} backend does not read instructions: “{args.instruction[:60]}” was not used; "
              f"the task ({request.task}) decides what it does")
    t0 = time.perf_counter()
    result = run_with_progress(backend, request)
    elapsed = time.perf_counter() - t0
    written = write_result(out, request, result)
    what = request.task or "instruction"
    x, y, w, h = result.rect
    phases = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    print(f"{result.backend} ({result.model}) · {what}: edited {w}×{h}+{x}+{y} of {request.width}×{request.height} "
          f"in {elapsed:.2f} s ({phases})")
    if result.instruction_used:
        print(f"instruction: {result.instruction_used}")
    for s in result.seeds:
        if s is not None:
            print(f"seed: {s}")
    for note in result.notes:
        print(f"note: {note}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    for path in written:
        print(f"wrote {path}")
    return 0


def variation_path(out: Path, i: int) -> Path:
    return out if i == 0 else out.with_name(f"{out.stem}-{i + 1}{out.suffix}")


def pick_backend(args, name: str | None):
    """The backend ``akapen edit`` runs: --server/--workflow, --model, a name, or the first available;
    BackendUnavailable (with the reason) when it cannot run here."""
    from desktop.headless.servers_command import comfy_backend
    from inference import registry

    if args.server or args.workflow:
        backend = comfy_backend(args, name)
    elif args.model:
        from inference.diffusion import backend_for_model

        backend = backend_for_model(args.model, name, memory_mode=args.memory_mode)
    elif name:
        backend = registry.get(name)
    else:
        backend = registry.default_backend()
    ok, reason = backend.availability()
    if not ok:
        from inference.errors import BackendUnavailable

        raise BackendUnavailable(f"the {backend.name} backend is not available: {reason}")
    return backend


def prepare_request(args, backend, doc):
    """The request for ``backend`` from the command line's options and the loaded document."""
    import numpy as np

    from canvas.errors import CanvasError
    from desktop.headless.edit_request import build_request
    from inference.presets import first_blank, resolve_task

    caps = backend.capabilities
    task, params, preset = (None, {}, None)
    if args.task:
        task, params, preset = resolve_task(args.task, caps)
    instruction = args.instruction
    if not instruction and preset is not None and caps.reads_instruction:
        instruction = preset.instruction
        blank = first_blank(instruction)
        if blank is not None:
            from inference.errors import InvalidRequest

            raise InvalidRequest(f"the task {preset.id!r} has a blank to fill in, {blank.group()}: write the "
                                 f"instruction yourself after the input, with the blank filled (the task reads: "
                                 f"“{instruction}”)")
    params.update(dict(args.param or ()))
    if args.workflow:
        params["workflow"] = str(Path(args.workflow).resolve())
    if args.image_input:
        params["workflow_images"] = {k: str(v) for k, v in args.image_input}
    mask = None
    if args.mask:
        m = read_image(args.mask)
        if m.shape[:2] != (doc.height, doc.width):
            raise CanvasError(f"{args.mask}: the mask is {m.shape[1]}×{m.shape[0]} but the image is "
                              f"{doc.width}×{doc.height}")
        # white (or opaque, for a mask with transparency) = selected
        grey = m[..., :3].mean(axis=2)
        mask = np.where((grey >= 128) & (m[..., 3] >= 128), 255, 0).astype(np.uint8)
        if not mask.any():
            raise CanvasError(f"{args.mask}: the mask selects nothing (white = edit, black = keep)")
    refs = [(Path(f).stem, read_image(f)) for f in args.ref or ()]
    if task is not None and not caps.reads_instruction:
        # not read (cmd_edit says so); the task's own words are recorded, as the window records them
        instruction = preset.instruction if preset is not None else ""
    request = build_request(
        doc, instruction, task, caps, mask=mask, extra_references=refs, seed=args.seed, steps=args.steps,
        guidance=args.guidance, strength=args.strength, variations=args.variations,
        change_mask=args.change_mask, params=params, loras=args.lora or (),
        annotation_use=args.annotation_use.split(",") if args.annotation_use else None,
        mark_strategy=args.marks, align=not args.no_align, speed=args.speed,
    )
    if len(request.references) < len(refs) + len(doc.references):
        print(f"akapen: note: the {backend.name} backend takes {caps.max_references} reference image(s); "
              "the rest were left out", file=sys.stderr)
    return request


def write_result(out: Path, request, result) -> list[Path]:
    """Every variation of ``result`` over the picture: OUT, OUT-2, … (all of them or none)."""
    from inference.region import composite_over

    written: list[Path] = []
    try:
        for i in range(len(result.images)):
            img = result.images[i]
            full = img if result.scale != 1.0 else composite_over(request.image, img, result.rect)
            path = variation_path(out, i)
            write_image(path, full)
            written.append(path)
    except BaseException:  # a full disk or Ctrl+C: all the variations or none
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return written


def run_with_progress(backend, request):
    """``backend.run`` with a progress bar on a terminal; Ctrl+C cancels at the next step."""
    from desktop.headless.terminal import TerminalProgress, cancel_on_interrupt
    from inference.progress import CancelToken

    token = CancelToken()
    bar = TerminalProgress()
    try:
        with cancel_on_interrupt(token):
            return backend.run(request, progress=bar, cancel=token)
    finally:
        bar.close()
