"""The ``akapen`` command: the window, or headless commands on documents.

    akapen [FILE ...]                    open the painting window (with files)
    akapen info FILE.ora                 size and layers (kind, role, visibility, opacity)
    akapen flatten FILE.ora -o OUT.png   write the composite of the content layers
    akapen edit INPUT "instruction" -o OUT.png [--backend NAME] [--task NAME] [--ref FILE]...
                [--mask FILE] [--seed N] [--steps N] [--variations N] [--speed quality|fast|draft]
                                         run one edit through the same request path as the window
    akapen train DATASET --model M -o LORA.safetensors [--steps N --rank R --lr LR --resolution PX
                [--instruction TEXT] [--resume]]  train an edit LoRA from before/after pairs
    akapen backends                      list the editing backends, available or why not
    akapen models [--folder DIR]...      list the diffusers models found, with family and size

Headless commands never import Qt. Errors are one line on stderr and a non-zero exit (2 for a
word that is neither a command nor a file, 3 when the window cannot open here, 130 when Ctrl+C
cancelled the work). On a terminal, long work shows a progress bar on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference.mark_strategies import STRATEGIES
from inference.request import SPEEDS

HEADLESS = ("info", "flatten", "edit", "align", "train", "backends", "models", "servers")


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


def _load(path: str):
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


def cmd_info(args) -> int:
    doc = _load(args.file)
    print(f"{args.file}: {doc.width}×{doc.height}, {len(doc.layers)} layer(s)")
    if doc.selection is not None:
        print(f"selection: {int((doc.selection > 0).sum())} pixels")
    if doc.references:
        print("references: " + ", ".join(f"{r.name} ({r.pixels.shape[1]}×{r.pixels.shape[0]})" for r in doc.references))
    print(f"{'#':>3}  {'name':<24} {'kind':<10} {'role':<10} {'visible':<7} {'opacity':>7}  {'blend':<10} bounds")
    for i, layer in reversed(list(enumerate(doc.layers))):
        b = layer.bounds()
        extra = ""
        if layer.kind == "annotation":
            extra = f"  {len(layer.marks)} mark(s)"
        elif layer.provenance.get("instruction"):
            extra = f"  “{layer.provenance['instruction']}”"
        print(
            f"{i:>3}  {layer.name[:24]:<24} {layer.kind:<10} {layer.role:<10} "
            f"{'yes' if layer.visible else 'no':<7} {layer.opacity:>7.2f}  {layer.blend:<10} "
            f"{b.w}×{b.h}+{b.x}+{b.y}{' locked' if layer.locked else ''}{extra}"
        )
    return 0


def cmd_flatten(args) -> int:
    doc = _load(args.file)
    write_image(args.output, doc.render())
    print(f"wrote {args.output} ({doc.width}×{doc.height})")
    return 0


def _param(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"a parameter is KEY=VALUE, not {text!r}")
    v: object = value
    for conv in (int, float):
        try:
            v = conv(value)
            break
        except ValueError:
            continue
    return key.strip(), v


def _variation_path(out: Path, i: int) -> Path:
    return out if i == 0 else out.with_name(f"{out.stem}-{i + 1}{out.suffix}")


def cmd_edit(args) -> int:
    import time

    from canvas.errors import CanvasError
    from desktop.headless.servers_command import load_servers

    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise CanvasError(f"{args.output}: write .png or .jpg")
    if not out.resolve().parent.is_dir():  # said before a long run, not after it
        raise CanvasError(f"{args.output}: the folder {out.resolve().parent} does not exist")
    load_servers()
    names = list(dict.fromkeys(args.backend or ()))
    if len(names) > 1:  # one instruction, several backends side by side
        from desktop.headless.compare_command import cmd_compare

        return cmd_compare(args, names, out)
    backend = _pick_backend(args, names[0] if names else None)
    doc = _load(args.input)
    request = _prepare(args, backend, doc)
    if args.instruction and not backend.capabilities.reads_instruction:
        print(f"note: the {backend.name} backend does not read instructions: “{args.instruction[:60]}” was not used; "
              f"the task ({request.task}) decides what it does")
    t0 = time.perf_counter()
    result = _run_with_progress(backend, request)
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


def _pick_backend(args, name: str | None):
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


def _prepare(args, backend, doc):
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
            path = _variation_path(out, i)
            write_image(path, full)
            written.append(path)
    except BaseException:  # a full disk or Ctrl+C: all the variations or none
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return written


def _run_with_progress(backend, request):
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


def cmd_backends(args) -> int:
    from desktop.headless.servers_command import load_servers
    from inference import mark_strategies as MS
    from inference import registry

    load_servers()

    rows = registry.list_backends()
    width = max((len(r.name) for r in rows), default=8)
    for r in rows:
        if r.available:
            caps = r.capabilities
            tasks = f"; tasks: {', '.join(caps.tasks)}" if caps and caps.tasks else ""
            gpu = "GPU" if caps and caps.needs_gpu else "CPU"
            print(f"{r.name:<{width}}  available    {r.label} — {r.model}, {gpu}{tasks}")
            if r.reason:  # available with a warning (e.g. a diffusers model on the CPU)
                print(f"{'':<{width}}  note: {r.reason}")
            fam = MS.for_backend(caps.marks) if caps and caps.marks else None
            if fam is not None:
                print(f"{'':<{width}}  pen marks (--marks): {', '.join(MS.offered(caps.marks, caps))} "
                      "(first: the default)")
        else:
            print(f"{r.name:<{width}}  unavailable  {r.reason}")
    return 0


def _lora(text: str) -> tuple[str, float]:
    path, sep, weight = text.rpartition(":")
    if sep and path and not weight.startswith(("/", "\\")):
        try:
            return path, float(weight)
        except ValueError:
            pass
    return text, 1.0


def _classical_tasks() -> tuple[str, ...]:
    from inference.presets import CLASSICAL_TASKS  # (not inference.classical: every command would load OpenCV)

    return CLASSICAL_TASKS


def _preset_ids() -> list[str]:
    from inference.presets import presets

    return [p.id for p in presets()]


def build_parser() -> argparse.ArgumentParser:
    from desktop.headless import servers_command

    p = argparse.ArgumentParser(prog="akapen", description="Akapen: instruction-based image editing on a layered canvas.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    pi = sub.add_parser("info", help="show a document's size and layers")
    pi.add_argument("file")
    pi.set_defaults(func=cmd_info)
    pf = sub.add_parser("flatten", help="write the composite of a document to an image")
    pf.add_argument("file")
    pf.add_argument("-o", "--output", required=True, help="output image (.png, .jpg)")
    pf.set_defaults(func=cmd_flatten)
    pe = sub.add_parser("edit", help="edit an image or document with a backend, without the window")
    pe.add_argument("input", help="image (.png, .jpg) or document (.ora)")
    pe.add_argument("instruction", nargs="?", default="", help="what to do (backends that read text)")
    pe.add_argument("-o", "--output", required=True, help="output image; variations go to OUT-2.png, ...")
    pe.add_argument("--backend", action="append", metavar="NAME",
                    help="backend name (see `akapen backends`); default: the first available. Give it twice or "
                    "more to compare: OUT-NAME.png per backend, run at the same time where they can")
    pe.add_argument("--task", help="a task of the backend (classical: " + ", ".join(_classical_tasks()) + ") or a "
                    "preset id from resources/presets.json (" + ", ".join(_preset_ids()) + ")")
    pe.add_argument("--ref", action="append", metavar="FILE", help="a reference image (repeatable)")
    pe.add_argument("--mask", metavar="FILE", help="an image the size of the input: white = edit, black = keep")
    pe.add_argument("--seed", type=int)
    pe.add_argument("--steps", type=int)
    pe.add_argument("--guidance", type=float)
    pe.add_argument("--strength", type=float, default=1.0)
    pe.add_argument("--variations", type=int, default=1)
    pe.add_argument("--change-mask", action="store_true", help="keep only what the edit actually changed")
    pe.add_argument("--annotation-use", help="comma-separated: draw, mask, reference, phrase")
    pe.add_argument("--marks", choices=STRATEGIES, metavar="STRATEGY",
                    help="how a model is given the pen marks: " + ", ".join(STRATEGIES) +
                    " (default: the best its family reads; see `akapen backends`)")
    pe.add_argument("--no-align", action="store_true",
                    help="paste a model's result as it came (not registered to the picture nor colour-matched)")
    pe.add_argument("--speed", choices=SPEEDS, default="quality",
                    help="quality: the model card's settings; fast: step caching (and on CUDA torch.compile, FP8); "
                    "draft: fewer steps plus caching")
    pe.add_argument("--param", action="append", type=_param, metavar="KEY=VALUE",
                    help="a backend parameter, e.g. style=pencil (repeatable)")
    pe.add_argument("--model", metavar="PATH_OR_REPO_ID",
                    help="a diffusers model folder or Hugging Face repo id; its family picks the backend")
    pe.add_argument("--memory-mode", default="auto",
                    choices=("auto", "gpu", "model-offload", "group-offload", "sequential-offload", "quantized", "cpu"),
                    help="how a diffusers model uses GPU memory (default: chosen from free VRAM)")
    pe.add_argument("--lora", action="append", type=_lora, metavar="FILE[:WEIGHT]",
                    help="a .safetensors LoRA with an optional weight (repeatable)")
    pe.add_argument("--server", action="append", metavar="URL",
                    help="run on this ComfyUI server (repeatable: the job goes to the shortest queue); "
                    "a bearer token is read from AKAPEN_COMFYUI_TOKEN")
    pe.add_argument("--workflow", metavar="FILE.json",
                    help="your ComfyUI workflow (UI or API format) instead of a family graph")
    pe.add_argument("--image-input", action="append", type=_param, metavar="NODE=SOURCE",
                    help="send 'image' (the canvas) or a reference (its file name without extension) to the "
                    "workflow's LoadImage node NODE (repeatable; default: canvas first, then the references)")
    pe.set_defaults(func=cmd_edit)
    servers_command.add_parser(sub)
    pb = sub.add_parser("backends", help="list the editing backends and whether they can run here")
    pb.set_defaults(func=cmd_backends)
    from desktop.headless import align_command, models_command, train_command

    models_command.add_parser(sub)

    align_command.add_parser(sub)
    train_command.add_parser(sub)
    return p


def window_args_problem(argv: list[str]) -> str | None:
    """Why ``akapen ARGS`` cannot mean "open these files in the window", or None (a typo is not a file)."""
    import difflib

    commands = f"the commands are {', '.join(HEADLESS)} (akapen --help, akapen COMMAND --help)"
    for arg in argv:
        if arg.startswith("-"):
            return f"unknown option {arg!r}: {commands}; akapen FILE … opens files in the window"
        p = Path(arg)
        if p.exists():
            continue
        if p.suffix or "/" in arg or "\\" in arg:
            return f"{arg}: no such file"
        close = difflib.get_close_matches(arg, HEADLESS, n=1, cutoff=0.6)
        return (f"{arg!r} is neither a command nor a file{f' (did you mean {close[0]!r}?)' if close else ''}; "
                f"{commands}")
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0] not in HEADLESS and argv[0] not in ("-h", "--help")):
        why = window_args_problem(argv)
        if why is not None:
            print(f"akapen: {why}", file=sys.stderr)
            return 2
        from desktop.headless.display import check_or_exit

        check_or_exit()  # one clear line where Qt would abort the process
        from desktop.app import run_app

        return run_app(argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        words = [e for e in extra if not e.startswith("-")]
        if args.command == "edit" and not args.instruction and words == extra:
            args.instruction = " ".join(words)  # the instruction typed after the options
        else:
            print(f"akapen {args.command}: unrecognized arguments: {' '.join(extra)} (akapen {args.command} --help)",
                  file=sys.stderr)
            return 2
    from canvas.errors import CanvasError
    from desktop.headless.terminal import INTERRUPTED
    from inference.errors import Cancelled, InferenceError

    try:
        return args.func(args)
    except (Cancelled, KeyboardInterrupt) as exc:
        # training says what it kept (a checkpoint to resume from); the rest wrote nothing
        said = str(exc) if args.command == "train" and isinstance(exc, Cancelled) else ""
        print(f"akapen: {said or args.command + ' cancelled; nothing was written'}", file=sys.stderr)
        return INTERRUPTED
    except (CanvasError, InferenceError) as exc:
        print(f"akapen: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        name = exc.filename or getattr(args, "file", None) or getattr(args, "input", "")
        print(f"akapen: {name}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
