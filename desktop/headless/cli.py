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

from desktop.headless import edit_command
from desktop.headless.edit_command import checked_output, load_document, write_image
from inference.pen.strategies import STRATEGIES
from inference.request import SPEEDS

HEADLESS = ("info", "flatten", "edit", "align", "train", "backends", "models", "servers")


def cmd_info(args) -> int:
    doc = load_document(args.file)
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
    doc = load_document(args.file)
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


def cmd_edit(args) -> int:
    """One backend: :func:`desktop.headless.edit_command.cmd_edit`; several: side by side
    (:mod:`desktop.headless.compare_command`)."""
    from desktop.headless.servers_command import load_servers

    out = checked_output(args.output)
    load_servers()
    names = list(dict.fromkeys(args.backend or ()))
    if len(names) > 1:  # one instruction, several backends side by side
        from desktop.headless.compare_command import cmd_compare

        return cmd_compare(args, names, out)
    return edit_command.cmd_edit(args, names[0] if names else None, out)


def cmd_backends(args) -> int:
    from desktop.headless.servers_command import load_servers
    from inference import registry
    from inference.pen import strategies as MS

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
                for way, why in MS.unavailable(caps.marks).items():
                    print(f"{'':<{width}}  pen marks: {way} is not available ({why})")
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
