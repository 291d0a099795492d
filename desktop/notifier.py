"""One notifier for every error the person should hear about.

Two kinds of error (see DESIGN.md): expected ones are typed exceptions (``CanvasError``,
``InferenceError``) whose text is written for the user and shown as it is; anything else is
logged with its traceback and shown briefly ("something went wrong … details in the log").
The notifier is also ``sys.excepthook`` and ``threading.excepthook``, so an exception in a Qt
slot or a worker thread is reported instead of dying silently. Messages from other threads
are handed to the GUI thread through a queued signal.

Messages are shown without blocking (a banner in the window and its status bar): nothing
modal pops up in the middle of a brush stroke, and tests never hang on a dialog.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger("akapen")

EXPECTED_TIMEOUT_MS = 9000
UNEXPECTED_TIMEOUT_MS = 6000


def is_expected(exc: BaseException) -> bool:
    from canvas.errors import CanvasError

    kinds: tuple[type[BaseException], ...] = (CanvasError,)
    try:
        from inference.errors import InferenceError  # type: ignore[import-not-found]

        kinds = (*kinds, InferenceError)
    except ImportError:
        pass
    return isinstance(exc, kinds)


class Notifier(QObject):
    """``message(text, level, timeout_ms)``: level is "error", "warning" or "info"."""

    message = Signal(str, str, int)
    _from_thread = Signal(str, str, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history: list[tuple[str, str]] = []  # (level, text), newest last
        self._from_thread.connect(self._emit, Qt.ConnectionType.QueuedConnection)
        self._old_hooks: tuple | None = None

    # --- reporting ------------------------------------------------------------------------
    def error(self, text: str) -> None:
        """An expected error whose text is written for the user."""
        self._post(text, "error", EXPECTED_TIMEOUT_MS)

    def info(self, text: str, timeout_ms: int = 4000) -> None:
        self._post(text, "info", timeout_ms)

    def warning(self, text: str, timeout_ms: int = EXPECTED_TIMEOUT_MS) -> None:
        """Something that did not stop the work but changes it (a file opened with a part left out)."""
        self._post(text, "warning", timeout_ms)

    def exception(self, exc: BaseException, context: str = "") -> None:
        """Report ``exc``: its own text when expected, else logged with traceback, shown briefly."""
        if is_expected(exc):
            self.error(f"{context}: {exc}" if context else str(exc))
            return
        log.error("unexpected error%s", f" ({context})" if context else "",
                  exc_info=(type(exc), exc, exc.__traceback__))
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._post(f"Something went wrong{' while ' + context if context else ''} ({what}). "
                   "Your document is safe; details are in the log.", "warning", UNEXPECTED_TIMEOUT_MS)

    def guard(self, action) -> None:
        """Run ``action()``; an expected document error (``CanvasError``) it raises is said as an
        error instead of escaping (the window's actions and drops run through this)."""
        from canvas.errors import CanvasError

        try:
            action()
        except CanvasError as exc:
            self.error(str(exc))

    def _post(self, text: str, level: str, timeout: int) -> None:
        if threading.current_thread() is threading.main_thread():
            self._emit(text, level, timeout)
        else:
            self._from_thread.emit(text, level, timeout)

    def _emit(self, text: str, level: str, timeout: int) -> None:
        self.history.append((level, text))
        del self.history[:-100]
        self.message.emit(text, level, timeout)

    # --- hooks ------------------------------------------------------------------------------
    def install(self) -> None:
        """Become ``sys.excepthook`` and ``threading.excepthook`` (``uninstall`` restores them)."""
        if self._old_hooks is None:
            self._old_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        if self._old_hooks is not None:
            sys.excepthook, threading.excepthook = self._old_hooks
            self._old_hooks = None

    def _sys_hook(self, etype, value, tb) -> None:
        if issubclass(etype, KeyboardInterrupt):
            sys.__excepthook__(etype, value, tb)
            return
        if value is None:
            value = etype()
        if value.__traceback__ is None:
            value = value.with_traceback(tb)
        try:
            self.exception(value)
        except Exception:  # noqa: BLE001 - the hook must never raise
            traceback.print_exception(etype, value, tb)

    def _thread_hook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        value = args.exc_value if args.exc_value is not None else args.exc_type()
        name = args.thread.name if args.thread is not None else "a worker thread"
        try:
            self.exception(value, context=f"in {name}" if not is_expected(value) else "")
        except Exception:  # noqa: BLE001
            traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback)
