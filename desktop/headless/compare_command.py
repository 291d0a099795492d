"""``akapen edit IN "INSTRUCTION" --backend A --backend B -o out.png``: one instruction, several backends.

Each backend gets the same picture, instruction, seed and options, built into its own request (its task
mapping, its way of reading the pen marks). Backends on different resources (this computer's processor, the
local GPU, the ComfyUI servers, an API) run at the same time; those on one resource run one after another.
Each writes ``out-NAME.png`` (variations ``out-NAME-2.png``, …) and one line says how it went; a backend
that fails is reported beside the others and never stops them.

A backend that cannot take part is *left out* before anything runs, with its reason on its own line: it cannot
run here (no model, no server, no key), or it cannot do this request (the classical backend reads no
instruction: it takes part when ``--task`` names one of its tasks or presets, e.g. ``--task style-pencil``).
The others still run and write. The exit status is 0 when every backend that ran gave a result, 1 when one
of them failed; when none can take part, one ``akapen: …`` line says why for each and nothing runs (1).
Ctrl+C cancels them all and keeps nothing.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from canvas.errors import CanvasError
from inference.errors import BackendUnavailable, Cancelled, InferenceError, InvalidRequest
from inference.progress import CancelToken


@dataclass
class Outcome:
    name: str
    backend: object | None = None
    request: object | None = None
    result: object | None = None
    error: str = ""
    left_out: str = ""  # why it could not take part (said before anything runs; not a failure)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)


class CompareStatus:
    """One status line on a terminal for the backends running side by side, redrawn as they report:
    ``flux-kontext denoise 12/28 · nano-banana waiting · classical done [00:31]``. Piped or redirected
    it draws nothing. ``say(text)`` prints a line above it."""

    def __init__(self, names: list[str], stream=None, max_hz: float = 4.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.state = {n: "waiting" for n in names}
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.min_interval = 1.0 / max_hz
        self._last = 0.0
        self._width = 0

    def progress_for(self, name: str):
        def progress(update) -> None:
            phase = f"{update.phase} " if update.phase else ""
            self.set(name, f"{phase}{update.step}/{update.total}", force=update.step >= update.total)
        return progress

    def set(self, name: str, text: str, force: bool = True) -> None:
        with self.lock:
            self.state[name] = text
            now = time.monotonic()
            if force or now - self._last >= self.min_interval:
                self._last = now
                self._draw()

    def say(self, text: str) -> None:
        with self.lock:
            self._clear()
            print(text, flush=True)
            self._draw()

    def _clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def _draw(self) -> None:
        if not self.enabled:
            return
        from desktop.headless.terminal import clock

        cols = shutil.get_terminal_size((100, 20)).columns
        line = " · ".join(f"{n} {t}" for n, t in self.state.items()) + f" [{clock(time.monotonic() - self.start)}]"
        line = line[: max(20, cols - 1)]
        self.stream.write("\r" + line + " " * max(0, self._width - len(line)))
        self.stream.flush()
        self._width = len(line)

    def close(self) -> None:
        with self.lock:
            self._clear()


def output_for(out: Path, name: str) -> Path:
    """``out.png`` for backend ``name`` → ``out-name.png``."""
    return out.with_name(f"{out.stem}-{name}{out.suffix}")


def cmd_compare(args, names: list[str], out: Path) -> int:
    from desktop.headless.edit_command import load_document, pick_backend, prepare_request, write_result
    from desktop.headless.terminal import cancel_on_interrupt

    if args.model or args.workflow:
        raise InvalidRequest("comparing takes backend names (--backend A --backend B …); leave --model and "
                             "--workflow out")
    doc = load_document(args.input)
    if args.seed is None:  # one seed for all, so seeded backends start from the same noise
        import random

        args.seed = random.randrange(2**31)
    outcomes = [Outcome(n) for n in names]
    for o in outcomes:
        try:
            o.backend = pick_backend(args, o.name)
            caps = o.backend.capabilities
            if not caps.reads_instruction and not args.task:
                raise InvalidRequest(_needs_a_task(caps))
            o.request = prepare_request(args, o.backend, doc)
            o.backend.validate(o.request)
            if args.instruction and not caps.reads_instruction:
                o.notes.append(f"it does not read instructions: “{args.instruction[:60]}” was not used; the task "
                               f"({o.request.task}) decides what it does")
        except (CanvasError, InferenceError) as exc:
            o.left_out = _reason(o.name, str(exc))
    running = [o for o in outcomes if not o.left_out]
    if not running:
        raise BackendUnavailable(f"nothing to compare: none of the {len(names)} backends can take part — "
                                 + "; ".join(f"{o.name}: {o.left_out}" for o in outcomes))
    lanes: dict[str, list[Outcome]] = {}
    for o in running:
        lanes.setdefault(o.backend.resource, []).append(o)
    token = CancelToken()
    status = CompareStatus([o.name for o in running])
    print(f"comparing {len(names)} backends (seed {args.seed}): " + ", ".join(
        f"{o.name} [left out]" if o.left_out else f"{o.name} [{o.backend.resource}]" for o in outcomes), flush=True)
    for o in outcomes:
        if o.left_out:
            status.say(f"{o.name}: left out — {o.left_out}")

    def lane(items: list[Outcome]) -> None:
        for o in items:
            t0 = time.perf_counter()
            try:
                if token.cancelled:
                    raise Cancelled("cancelled")
                status.set(o.name, "starting")
                o.result = o.backend.run(o.request, progress=status.progress_for(o.name), cancel=token)
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
            status.set(o.name, "failed" if o.error else "done")
            if not token.cancelled:
                _say(o, status)

    threads = [threading.Thread(target=lane, args=(items,), name=f"akapen-{res}", daemon=True)
               for res, items in lanes.items()]
    t_all = time.perf_counter()
    try:
        with cancel_on_interrupt(token):
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(0.1)  # short joins: Ctrl+C reaches the main thread
    finally:
        status.close()
    if token.cancelled:
        for o in outcomes:
            for p in o.written:
                p.unlink(missing_ok=True)
        raise Cancelled("cancelled")
    failed = [o for o in running if o.error]
    left = [o for o in outcomes if o.left_out]
    print(f"compared {len(names)} backends in {time.perf_counter() - t_all:.2f} s: "
          f"{len(running) - len(failed)} gave results"
          + (f"; {len(left)} left out ({', '.join(o.name for o in left)})" if left else "")
          + (f"; {len(failed)} failed ({', '.join(o.name for o in failed)})" if failed else ""))
    return 1 if failed else 0


def _needs_a_task(caps) -> str:
    """Why a backend that reads no instruction is left out of a comparison given none of its tasks."""
    from inference.presets import presets

    offered = [p.id for p in presets() if p.classical_task in caps.tasks]
    return "it does not read instructions and no --task was given: add --task with one it does (" \
        + ", ".join(offered) + ")"


def _reason(name: str, text: str) -> str:
    """A backend's error without its own name in front (the line already starts with the name)."""
    for prefix in (f"the {name} backend is ", f"the {name} backend "):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def _say(o: Outcome, status: CompareStatus) -> None:
    if o.error:
        status.say(f"{o.name}: failed — {o.error}")
        return
    r = o.result
    seeds = ", ".join(str(s) for s in r.seeds if s is not None) or "—"
    lines = [f"{o.name} ({r.model or r.backend}): {o.seconds:.2f} s · seed {seeds} · wrote "
             + ", ".join(str(p) for p in o.written)]
    lines += [f"  note: {note}" for note in o.notes + list(r.notes)] + [f"  warning: {w}" for w in r.warnings]
    status.say("\n".join(lines))
