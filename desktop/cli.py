"""The ``akapen`` command: the window, or headless commands on documents.

    akapen [FILE ...]                    open the painting window (with files)
    akapen info FILE.ora                 size and layers (kind, role, visibility, opacity)
    akapen flatten FILE.ora -o OUT.png   write the composite of the content layers

Headless commands never import Qt. Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HEADLESS = ("info", "flatten")


def _load(path: str):
    from canvas.imageio import load_image
    from canvas.ora import load_ora

    from canvas.errors import CanvasError
    from canvas.layers import PixelLayer

    p = Path(path)
    if not p.exists():
        raise CanvasError(f"{path}: no such file")
    if p.suffix.lower() == ".ora":
        return load_ora(p)
    from canvas.document import Document

    pixels = load_image(p)
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
    from canvas.imageio import export_image

    doc = _load(args.file)
    export_image(args.output, doc.render())
    print(f"wrote {args.output} ({doc.width}×{doc.height})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="akapen", description="Akapen: instruction-based image editing on a layered canvas.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    pi = sub.add_parser("info", help="show a document's size and layers")
    pi.add_argument("file")
    pi.set_defaults(func=cmd_info)
    pf = sub.add_parser("flatten", help="write the composite of a document to an image")
    pf.add_argument("file")
    pf.add_argument("-o", "--output", required=True, help="output image (.png, .jpg)")
    pf.set_defaults(func=cmd_flatten)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0] not in HEADLESS and argv[0] not in ("-h", "--help")):
        from desktop.app import run_app

        return run_app(argv)
    args = build_parser().parse_args(argv)
    from canvas.errors import CanvasError

    try:
        return args.func(args)
    except CanvasError as exc:
        print(f"akapen: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"akapen: {exc.filename or args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
