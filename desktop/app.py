"""Start the painting window: ``run_app(files)`` is what ``akapen [FILE ...]`` runs."""

from __future__ import annotations

import logging
import os
import sys


def _log_file() -> str | None:
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if not base:
        return None
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        return None
    return os.path.join(base, "akapen.log")


def _probe_first_paint(window, app) -> None:
    import time

    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint and not getattr(self, "done", False):
                self.done = True
                print(f"AKAPEN_FIRST_PAINT {time.time():.6f}", flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    window._startup_probe = FirstPaint(window)
    window.installEventFilter(window._startup_probe)


def run_app(files: list[str] | None = None, *, recovery_folder: str | None = None) -> int:
    """Open the window with ``files`` (the first .ora or image becomes the document; further
    images become collage pieces), offer recovery of unsaved work, and run the event loop."""
    from PySide6.QtCore import QPointF, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Akapen")
    app.setOrganizationName("Akapen")
    app.setOrganizationDomain("akapen.org")
    app.setApplicationDisplayName("Akapen")

    log_path = _log_file()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_path:
        handlers.append(logging.FileHandler(log_path, encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=handlers)

    from desktop.notifier import Notifier
    from desktop.window import MainWindow

    notifier = Notifier()
    notifier.install()
    window = MainWindow(notifier=notifier, recovery_folder=recovery_folder)
    if os.environ.get("AKAPEN_STARTUP_PROBE"):  # benchmarks/startup.py: the time of the first paint, then quit
        _probe_first_paint(window, app)
    window.show()
    from desktop import heap

    heap.settle(force=True)  # what start-up made stays: later collections skip it

    def open_files() -> None:
        restored = window.recovery.check_recovery()
        window.models.offer_unfinished()  # downloads a quit or a crash cut short go on from where they stopped
        rest = list(files or [])
        if rest and not restored:
            first = rest.pop(0)
            window.files.open_path(first, ask=False)
        from canvas.errors import CanvasError
        from canvas.imageio import load_image

        images = []
        for path in rest:
            try:
                images.append((load_image(path), os.path.splitext(os.path.basename(path))[0]))
            except CanvasError as exc:
                notifier.error(str(exc))
        if images:
            doc = window.document
            window.pieces.add_pieces(images, QPointF(doc.width / 2, doc.height / 2))

    QTimer.singleShot(0, open_files)
    try:
        return app.exec()
    finally:
        notifier.uninstall()
