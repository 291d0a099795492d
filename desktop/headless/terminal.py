"""Long commands on a terminal: a progress bar, and Ctrl+C as a clean cancel (no Qt).

``TerminalProgress`` is a :data:`~inference.progress.Progress` callback that draws one line on
stderr the way tools of this ecosystem do (tqdm's layout: phase, percentage, bar, step/total,
elapsed < remaining, rate) — only when stderr is a terminal; piped or redirected, it prints
nothing. ``cancel_on_interrupt(token)`` turns the first Ctrl+C into ``token.cancel()`` (the
work stops within one step and raises ``Cancelled``); a second Ctrl+C stops at once.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import threading
import time
from typing import TextIO

from inference.progress import CancelToken, ProgressUpdate

INTERRUPTED = 130  # the shell's exit status for "stopped by Ctrl+C" (128 + SIGINT)


def clock(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def _rate(seconds_per_step: float) -> str:
    if seconds_per_step <= 0:
        return "?"
    if seconds_per_step >= 1.0:
        return f"{seconds_per_step:.2f} s/step"
    return f"{1.0 / seconds_per_step:.2f} step/s"


class TerminalProgress:
    """Draws ``phase:  42%|████▎     | 12/28 [00:31<00:41, 2.61 s/step]`` on ``stream``, redrawn at
    most ``max_hz`` times a second and always on a new phase or the last step."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None, max_hz: float = 8.0,
                 unit: str = "step") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.min_interval = 1.0 / max_hz
        self.unit = unit
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._phase = ""
        self._phase_start = self._start
        self._phase_step = 0
        self._width = 0
        self._lock = threading.Lock()
        self.lines_drawn = 0

    def __call__(self, update: ProgressUpdate) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = time.monotonic()
            new_phase = update.phase != self._phase
            if new_phase:
                self._phase, self._phase_start, self._phase_step = update.phase, now, update.step
            if not (new_phase or update.step >= update.total or now - self._last_draw >= self.min_interval):
                return
            self._last_draw = now
            self._draw(self.line(update, now))

    def line(self, update: ProgressUpdate, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        total = max(1, update.total)
        step = min(update.step, total)
        frac = step / total
        elapsed = now - self._start
        done_here = step - self._phase_step  # the rate of this phase (loading is not sampling) …
        if done_here > 0:
            per_step = (now - self._phase_start) / done_here
        else:  # … or, until it has counted a step, of the whole run
            per_step = elapsed / step if step > 0 else 0.0
        eta = per_step * (total - step) if per_step > 0 else None
        cols = shutil.get_terminal_size((100, 20)).columns
        label = f"{update.phase or 'working'}: {frac * 100:3.0f}%"
        tail = f"| {step}/{total} [{clock(elapsed)}<{clock(eta) if eta is not None else '?'}, " \
               f"{_rate(per_step).replace('step', self.unit)}]"
        bar_width = max(10, min(40, cols - len(label) - len(tail) - 2))
        full = frac * bar_width
        blocks = " ▏▎▍▌▋▊▉█"
        bar = "█" * int(full)
        if int(full) < bar_width:
            bar += blocks[int((full - int(full)) * 8)]
        return f"{label}|{bar.ljust(bar_width)}{tail}"[: max(20, cols - 1)]

    def _draw(self, text: str) -> None:
        pad = " " * max(0, self._width - len(text))
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._width = len(text)
        self.lines_drawn += 1

    def close(self) -> None:
        """End the line, so that what is printed next starts on its own."""
        if self.enabled and self._width:
            with self._lock:
                self.stream.write("\n")
                self.stream.flush()
                self._width = 0


@contextlib.contextmanager
def cancel_on_interrupt(token: CancelToken, stream: TextIO | None = None):
    """Within the block, Ctrl+C cancels ``token`` (the work raises Cancelled at its next step check);
    a second Ctrl+C raises KeyboardInterrupt at once. Only on the main thread; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    out = stream if stream is not None else sys.stderr

    def handler(signum, frame):  # noqa: ARG001
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()
        out.write("\nakapen: cancelling… (at the next step; Ctrl+C again to stop at once)\n")
        out.flush()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
