"""Run fuzz cases against the loaders and classify each outcome.

A case is ``(target, seed)``: the seed picks the seed file, the mutation and its parameters, so
``replay(target, seed)`` runs exactly the same case again. Outcomes:

- ``loaded``: the loader read the file (or a tolerant loader found nothing wrong);
- ``clean``: the typed, user-facing error of that loader, one line, naming the file — or, for the
  loaders that never raise (servers, settings), a problem note naming the file;
- ``escape``: anything else (another exception, an error text that does not name the file, an
  invariant of the loaded data broken). Escapes must be 0.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzzing.targets import Target, targets


@dataclass
class Escape:
    target: str
    seed: int
    seed_file: str
    mutator: str
    error: str


@dataclass
class Report:
    cases: int = 0
    loaded: int = 0
    clean: int = 0
    escapes: list[Escape] = field(default_factory=list)
    slowest: tuple[float, str, int, str] = (0.0, "", 0, "")  # seconds, target, seed, seed file
    per_target: dict[str, list[int]] = field(default_factory=dict)  # target -> [cases, loaded, clean, escapes]
    seconds: float = 0.0

    def add(self, other: Report) -> None:
        self.cases += other.cases
        self.loaded += other.loaded
        self.clean += other.clean
        self.escapes += other.escapes
        self.slowest = max(self.slowest, other.slowest)
        for k, v in other.per_target.items():
            mine = self.per_target.setdefault(k, [0, 0, 0, 0])
            for i in range(4):
                mine[i] += v[i]
        self.seconds += other.seconds

    def lines(self) -> list[str]:
        out = [f"{self.cases} cases: {self.loaded} loaded, {self.clean} clean errors, {len(self.escapes)} escapes; "
               f"slowest {self.slowest[0] * 1000:.0f} ms ({self.slowest[1]} seed {self.slowest[2]}, "
               f"{self.slowest[3]})"]
        for k, (n, ok, clean, esc) in sorted(self.per_target.items()):
            out.append(f"  {k:<9} {n:>7} cases  {ok:>7} loaded  {clean:>7} clean  {esc:>3} escapes")
        for e in self.escapes[:20]:
            out.append(f"  ESCAPE {e.target} seed {e.seed} ({e.seed_file}, {e.mutator}): {e.error}")
        return out


class Runner:
    """Keeps one case folder per target, with its seed files written once."""

    def __init__(self, work: Path | None = None) -> None:
        self._own = work is None
        self.work = Path(tempfile.mkdtemp(prefix="akapen-fuzz-")) if work is None else Path(work)
        self.targets = targets()
        self._seeds: dict[str, dict[str, bytes]] = {}

    def close(self) -> None:
        if self._own:
            shutil.rmtree(self.work, ignore_errors=True)

    def seeds(self, t: Target) -> dict[str, bytes]:
        if t.name not in self._seeds:
            self._seeds[t.name] = t.files(self.work)
            folder = self.work / t.name
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            if not t.single:
                for rel, data in self._seeds[t.name].items():
                    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                    (folder / rel).write_bytes(data)
        return self._seeds[t.name]

    def case(self, name: str, seed: int) -> tuple[str, str, str, bytes]:
        """(seed file, mutator name, outcome, mutated bytes); outcome is 'loaded', 'clean' or 'escape: …'."""
        t = self.targets[name]
        seeds = self.seeds(t)
        rng = random.Random(f"{name}:{seed}")
        rel = t.pick(rng, sorted(seeds))
        mutator = t.mutator(rng)
        data = mutator(rng, seeds[rel])
        folder = self.work / name
        if t.single:
            for p in folder.iterdir():
                p.unlink()
        path = folder / (rel if not t.single else Path(rel).name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        try:
            outcome = self._run(t, folder, path)
        finally:
            if not t.single:
                self._restore(t, folder, rel)
        return rel, mutator.__name__, outcome, data

    def _restore(self, t: Target, folder: Path, rel: str) -> None:
        seeds = self._seeds[t.name]
        (folder / rel).write_bytes(seeds[rel])
        for p in list(folder.rglob("*")):  # whatever the loader wrote beside (recovery never writes, models neither)
            r = str(p.relative_to(folder))
            if p.is_file() and r not in seeds:
                p.unlink()

    @staticmethod
    def _run(t: Target, folder: Path, path: Path) -> str:
        try:
            problem = t.run(folder)
        except t.clean as exc:
            text = str(exc)
            if "\n" in text:
                return f"escape: a {type(exc).__name__} of several lines: {text[:300]!r}"
            if str(folder) not in text:
                return f"escape: a {type(exc).__name__} that does not name the file: {text[:300]!r}"
            return "clean"
        except Exception as exc:  # noqa: BLE001 - this is what the harness looks for
            tb = traceback.extract_tb(exc.__traceback__)
            where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb)
                          if "/tests/" not in f.filename and "site-packages" not in f.filename and "lib/python" not in
                          f.filename), tb[-1].name if tb else "?")
            return f"escape: {type(exc).__name__} at {where}: {str(exc)[:300]!r}"
        if problem is None:
            return "loaded"
        if "\n" in problem or str(folder) not in problem:
            return f"escape: a problem note that does not name the file in one line: {problem[:300]!r}"
        return "clean"


def run(names: list[str] | None = None, cases: int = 1000, start: int = 0, runner: Runner | None = None) -> Report:
    """``cases`` cases per target, seeds ``start`` … ``start + cases - 1``."""
    own = runner is None
    runner = runner or Runner()
    report = Report()
    t0 = time.perf_counter()
    try:
        for name in names or list(runner.targets):
            counts = report.per_target.setdefault(name, [0, 0, 0, 0])
            runner.seeds(runner.targets[name])  # the corpus is made before the clock starts
            for seed in range(start, start + cases):
                c0 = time.perf_counter()
                rel, mut, outcome, _ = runner.case(name, seed)
                dt = time.perf_counter() - c0
                report.cases += 1
                counts[0] += 1
                if dt > report.slowest[0]:
                    report.slowest = (dt, name, seed, f"{rel}, {mut}")
                if outcome == "loaded":
                    report.loaded += 1
                    counts[1] += 1
                elif outcome == "clean":
                    report.clean += 1
                    counts[2] += 1
                else:
                    counts[3] += 1
                    report.escapes.append(Escape(name, seed, rel, mut, outcome.removeprefix("escape: ")))
    finally:
        report.seconds = time.perf_counter() - t0
        if own:
            runner.close()
    return report


def replay(name: str, seed: int, keep: Path | None = None) -> str:
    """Run one case again; with ``keep``, the mutated file is written there too."""
    runner = Runner()
    try:
        rel, mut, outcome, data = runner.case(name, seed)
        if keep is not None:
            Path(keep).write_bytes(data)
        return f"{name} seed {seed} ({rel}, {mut}): {outcome}"
    finally:
        runner.close()
