"""Progress reports and cancellation: the two things a worker thread shares with the GUI.

A backend gets a ``Progress`` callback and a ``CancelToken``. It reports ``(step, total,
preview)`` as it goes and checks the token at least once per step; a cancelled job raises
:class:`~inference.errors.Cancelled` and never returns a half-done image.

Both are thread-safe and Qt-free: a ``QThread`` worker forwards ``ProgressUpdate`` through a
signal and the GUI calls ``token.cancel()`` from its own thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inference.errors import Cancelled


class CancelToken:
    """A flag set once, from any thread. ``raise_if_cancelled()`` is the check backends make."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or ``timeout`` seconds pass; True if cancelled."""
        return self._event.wait(timeout)


@dataclass(frozen=True)
class ProgressUpdate:
    """One progress report. ``preview`` is an optional RGBA uint8 image of the work so far;
    ``preview_rect`` (x, y, w, h) is where it lies in the request's image (it may be smaller
    than that rectangle: it is scaled to fill it)."""

    step: int
    total: int
    phase: str = ""
    preview: np.ndarray | None = None
    preview_rect: tuple[int, int, int, int] | None = None
    phase_start: bool = False  # says that ``phase`` began; no step was counted (loading a model is one)

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.step / self.total)


Progress = Callable[[ProgressUpdate], None]
"""The progress callback type: called from the worker thread with each update."""


def no_progress(update: ProgressUpdate) -> None:  # noqa: ARG001 - the do-nothing callback
    return None


class Reporter:
    """What a backend uses while it runs: counts steps, times phases, checks cancellation.

    ``total`` is fixed up front; ``advance()`` checks the token first, so a backend that
    advances once per step checks at least once per step. ``finish()`` reports ``total``.
    """

    def __init__(self, progress: Progress | None, cancel: CancelToken | None, total: int) -> None:
        self.progress = progress or no_progress
        self.cancel = cancel or CancelToken()
        self.total = max(1, int(total))
        self.step = 0
        self.timings: dict[str, float] = {}
        self._phase: str | None = None
        self._phase_start = 0.0
        self.preview_rect: tuple[int, int, int, int] | None = None  # set by Backend.run
        self.notes: list[str] = []  # what the backend says about its result (shown under it, kept in provenance)

    def check(self) -> None:
        self.cancel.raise_if_cancelled()

    def phase(self, name: str) -> None:
        """Start timing phase ``name`` (ends the previous one); checks cancellation and reports it (so a
        long phase without steps, such as loading a model, is shown while it lasts)."""
        self._close_phase()
        self.check()
        self._phase, self._phase_start = name, time.perf_counter()
        self.progress(ProgressUpdate(self.step, self.total, name, phase_start=True))

    def _close_phase(self) -> None:
        if self._phase is not None:
            dt = time.perf_counter() - self._phase_start
            self.timings[self._phase] = self.timings.get(self._phase, 0.0) + dt
            self._phase = None

    def advance(self, n: int = 1, preview: np.ndarray | None = None) -> None:
        """Count ``n`` steps done and report them; raises Cancelled if the token is set."""
        self.check()
        self.step = min(self.total - 1, self.step + n)
        self.progress(ProgressUpdate(self.step, self.total, self._phase or "", preview,
                                     self.preview_rect if preview is not None else None))

    def grow(self, extra: int) -> None:
        """Add ``extra`` steps to the total (when the work turns out larger than planned)."""
        self.total += max(0, int(extra))

    def finish(self) -> dict[str, float]:
        """Close the last phase, check cancellation one last time, report total; the timings."""
        self._close_phase()
        self.check()
        self.step = self.total
        self.progress(ProgressUpdate(self.total, self.total, "done", None))
        return dict(self.timings)
