"""``akapen align BEFORE AFTER -o OUT``: an edit result made elsewhere (another app, a web model) aligned to
the picture it was made from — registered, colour-matched, the picture's own pixels where nothing changed."""

from __future__ import annotations

import sys
import time


def add_parser(sub) -> None:
    p = sub.add_parser("align", help="align an edit result to the picture it was made from (drift, colour)")
    p.add_argument("before", help="the picture the edit was made from")
    p.add_argument("after", help="the edit result (any size: it is scaled to the picture first)")
    p.add_argument("-o", "--output", required=True, help="the aligned result (.png, .jpg)")
    p.add_argument("--changes-only", action="store_true",
                   help="write only what the edit changed, transparent elsewhere (a layer to put over the picture)")
    p.set_defaults(func=cmd_align)


def cmd_align(args) -> int:
    from desktop.headless.edit_command import read_image, write_image
    from inference.pen import alignment

    before, after = read_image(args.before), read_image(args.after)
    t0 = time.perf_counter()
    out, al = alignment.align(before, after, changes_only=args.changes_only)
    elapsed = time.perf_counter() - t0
    if not al.ok and args.changes_only:
        print(f"akapen: {al.describe()}; nothing was written", file=sys.stderr)
        return 1
    write_image(args.output, out)
    print(f"{al.describe()} in {elapsed:.2f} s")
    if al.ok:
        print(f"unchanged part: {al.residual_before:.1f} levels apart before, {al.residual_after:.1f} after")
    print(f"wrote {args.output}")
    return 0
