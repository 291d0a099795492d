"""``akapen edit IN "INSTRUCTION" --backend A --backend B -o out.png``: one instruction, several backends.

Each backend gets the same picture, instruction, seed and options, built into its own request (its task
mapping, its way of reading the pen marks). Backends on different resources (this computer's processor, the
local GPU, the ComfyUI servers, an API) run at the same time; those on one resource run one after another.
Each writes ``out-NAME.png`` (variations ``out-NAME-2.png``, …) and one line says how it went; a backend
that fails is reported beside the others and never stops them. The exit status is 0 when every backend gave
a result, 1 when any failed. Ctrl+C cancels them all and keeps nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from canvas.errors import CanvasError
from inference.errors import Cancelled, InferenceError, InvalidRequest
from inference.progress import CancelToken


@dataclass
class Outcome:
    name: str
    backend: object | None = None
    request: object | None = None
    result: object | None = None
    error: str = ""
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)


def output_for(out: Path, name: str) -> Path:
    """``out.png`` for backend ``name`` → ``out-name.png``."""
    return out.with_name(f"{out.stem}-{name}{out.suffix}")


def cmd_compare(args, names: list[str], out: Path) -> int:
    from desktop.headless.cli import _load, _pick_backend, _prepare, write_result
    from desktop.headless.terminal import cancel_on_interrupt

    if args.model or args.workflow:
        raise InvalidRequest("comparing takes backend names (--backend A --backend B …); leave --model and "
                             "--workflow out")
    doc = _load(args.input)
    if args.seed is None:  # one seed for all, so seeded backends start from the same noise
        import random

        args.seed = random.randrange(2**31)
    outcomes = [Outcome(n) for n in names]
    for o in outcomes:
        try:
            o.backend = _pick_backend(args, o.name)
            o.request = _prepare(args, o.backend, doc)
            o.backend.validate(o.request)
        except (CanvasError, InferenceError) as exc:
            o.error = str(exc)
    lanes: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if not o.error:
            lanes.setdefault(o.backend.resource, []).append(o)
    token = CancelToken()
    lock = threading.Lock()
    print(f"comparing {len(names)} backends (seed {args.seed}): " + ", ".join(
        f"{n} [{o.backend.resource}]" if not o.error else f"{n} [cannot run]" for n, o in zip(names, outcomes,
                                                                                               strict=True)),
          flush=True)
    for o in outcomes:
        if o.error:
            _say(o, lock)

    def lane(items: list[Outcome]) -> None:
        for o in items:
            t0 = time.perf_counter()
            try:
                if token.cancelled:
                    raise Cancelled("cancelled")
                o.result = o.backend.run(o.request, cancel=token)
                o.seconds = time.perf_counter() - t0
                if not token.cancelled:
                    o.written = write_result(output_for(out, o.name), o.request, o.result)
            except Cancelled:
                o.error = "cancelled"
            except MemoryError:
                o.error = "out of memory: try a smaller selection or a lower memory mode"
            except (CanvasError, InferenceError, OSError) as exc:
                o.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - one backend's bug must not stop the others
                o.error = f"unexpected error: {type(exc).__name__}: {exc}"
            o.seconds = o.seconds or time.perf_counter() - t0
            if not token.cancelled:
                _say(o, lock)

    threads = [threading.Thread(target=lane, args=(items,), name=f"akapen-{res}", daemon=True)
               for res, items in lanes.items()]
    t_all = time.perf_counter()
    with cancel_on_interrupt(token):
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.1)  # short joins: Ctrl+C reaches the main thread
    if token.cancelled:
        for o in outcomes:
            for p in o.written:
                p.unlink(missing_ok=True)
        raise Cancelled("cancelled")
    failed = [o for o in outcomes if o.error]
    print(f"compared {len(names)} backends in {time.perf_counter() - t_all:.2f} s: "
          f"{len(names) - len(failed)} gave results" + (f", {len(failed)} failed ({', '.join(o.name for o in failed)})"
                                                       if failed else ""))
    return 1 if failed else 0


def _say(o: Outcome, lock: threading.Lock) -> None:
    with lock:
        if o.error:
            print(f"{o.name}: failed — {o.error}", flush=True)
            return
        r = o.result
        seeds = ", ".join(str(s) for s in r.seeds if s is not None) or "—"
        print(f"{o.name} ({r.model or r.backend}): {o.seconds:.2f} s · seed {seeds} · wrote "
              + ", ".join(str(p) for p in o.written), flush=True)
        for note in r.notes:
            print(f"  note: {note}", flush=True)
        for warning in r.warnings:
            print(f"  warning: {warning}", flush=True)
        sys.stdout.flush()
