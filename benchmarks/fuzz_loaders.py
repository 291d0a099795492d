"""Issue 10: the long fuzz run of every loader (the suite runs a few thousand of these cases).

Run: .venv/bin/python benchmarks/fuzz_loaders.py [--cases 100000] [--start 0] [--jobs 2] [--targets ora,image]
     .venv/bin/python benchmarks/fuzz_loaders.py --replay ora:123 [--keep case.ora]

Cases are spread over the targets with the weights of tests/test_fuzz_loaders.py, seeds
``start`` … ``start + n - 1`` per target, over ``--jobs`` processes. Prints cases, loaded, clean
errors, escapes (must be 0) with their seeds, and the slowest case; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _chunk(args: tuple[str, int, int]):
    from tests.fuzzing.harness import run

    name, start, n = args
    return run([name], n, start=start)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--targets", default="")
    ap.add_argument("--replay", metavar="TARGET:SEED")
    ap.add_argument("--keep", metavar="FILE", help="with --replay: write the damaged file here")
    args = ap.parse_args()

    if args.replay:
        from tests.fuzzing.harness import replay

        name, _, seed = args.replay.partition(":")
        print(replay(name, int(seed), Path(args.keep) if args.keep else None))
        return 0

    from tests.fuzzing.harness import Report
    from tests.test_fuzz_loaders import CASES

    names = [n for n in (args.targets.split(",") if args.targets else CASES) if n]
    weight = sum(CASES[n] for n in names)
    per = {n: max(1, round(args.cases * CASES[n] / weight)) for n in names}
    chunks = []
    for n in names:
        step = max(50, per[n] // (4 * args.jobs))
        chunks += [(n, args.start + i, min(step, per[n] - i)) for i in range(0, per[n], step)]
    total = Report()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for rep in pool.map(_chunk, chunks):
            total.add(rep)
    print(f"fuzz_loaders: seeds {args.start}.. per target, {args.jobs} processes, {total.seconds:.0f} s of work")
    for line in total.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
