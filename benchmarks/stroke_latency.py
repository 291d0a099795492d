"""Stroke latency through the real window: synthetic mouse moves through the brush tool on a
4096×4096 document with 20 layers, timed from the event to the end of the repaint it causes.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.stroke_latency [--events 300]

Prints p50 / p95 / max in milliseconds, at 100 % zoom and fitted in the window (figures, not a
test; the target is p95 <= 16 ms).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402


def build_document(size: int = 4096, n_layers: int = 20, seed: int = 1):
    from canvas.document import Document
    from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Transform
    from canvas.marks import Arrow, Ellipse

    rng = np.random.default_rng(seed)
    layers = []
    y, x = np.mgrid[0:size, 0:size].astype(np.uint16) if size <= 4096 else (None, None)
    bg = np.empty((size, size, 4), np.uint8)
    bg[..., 0] = (x * 255 // (size - 1)).astype(np.uint8)
    bg[..., 1] = (y * 255 // (size - 1)).astype(np.uint8)
    bg[..., 2] = 120
    bg[..., 3] = 255
    del x, y
    layers.append(PixelLayer(bg, 0, 0, "Background"))
    for i in range(n_layers - 3):
        w = int(rng.integers(256, 2600))
        h = int(rng.integers(256, 2600))
        px = np.zeros((h, w, 4), np.uint8)
        px[..., :3] = rng.integers(0, 255, 3, dtype=np.uint8)
        yy, xx = np.ogrid[0:h, 0:w]
        inside = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2 <= 1.0
        px[..., 3] = np.where(inside, int(rng.integers(90, 256)), 0).astype(np.uint8)
        ox, oy = int(rng.integers(-200, size - w // 2)), int(rng.integers(-200, size - h // 2))
        if i % 3 == 2:
            layers.append(PieceLayer(px, Transform(cx=ox + w / 2, cy=oy + h / 2, rotation=float(rng.integers(-30, 30)),
                                                   sx=0.8, sy=0.8), f"Piece {i}"))
        else:
            layers.append(PixelLayer(px, ox, oy, f"Layer {i}", opacity=float(rng.uniform(0.5, 1.0))))
    layers.append(PixelLayer(np.zeros((size, size, 4), np.uint8), 0, 0, "Paint"))  # the layer we paint on
    marks = [Arrow(start=(100.0 + 300 * k, 200.0), end=(400.0 + 300 * k, 900.0)) for k in range(5)]
    marks.append(Ellipse(p0=(1000.0, 1000.0), p1=(1800.0, 1600.0)))
    layers.append(AnnotationLayer(marks, "Marks"))
    return Document.assemble(size, size, layers)


def open_window(doc):
    """(the application, a 1600×1000 main window on ``doc`` with throwaway settings, shown and its
    start-up settled as in ``desktop.app``)."""
    from PySide6.QtWidgets import QApplication

    from desktop.settings import Settings
    from desktop.window import MainWindow

    app = QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp()
    w = MainWindow(doc, settings=Settings.at(os.path.join(tmp, "s.ini")), recovery_folder=os.path.join(tmp, "rec"))
    w.resize(1600, 1000)
    w.show()
    app.processEvents()
    from desktop import heap

    heap.settle(force=True)  # as desktop.app does after showing the window
    return app, w


def run(events: int, zoom: str) -> dict:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent, QRegion
    from PySide6.QtWidgets import QApplication

    doc = build_document()
    assert len(doc.layers) == 20
    app, w = open_window(doc)
    view = w.view
    paint = next(lyr for lyr in doc.layers if lyr.name == "Paint")
    w.bridge.set_active(paint.id)
    w.set_tool("brush")
    w.options.set(brush_size=24, brush_color=(200, 20, 20), brush_hardness=0.8)
    if zoom == "100%":
        view.set_view(1.0, QPointF(-1200, -1200))
    else:
        view.fit()
    view.repaint()
    app.processEvents()

    def send(kind, cpt, buttons):
        wp = view.to_widget(QPointF(*cpt))
        ev = QMouseEvent(kind, wp, QPointF(view.mapToGlobal(wp.toPoint())),
                         Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton,
                         buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(view, ev)

    # a looping stroke inside the visible part of the canvas, a few screen px per event
    cx, cy = view.width() / 2, view.height() / 2
    ax, ay = view.width() * 0.35, view.height() * 0.35
    pts = []
    for i in range(events + 1):
        wp = QPointF(cx + ax * math.sin(i / 40), cy + ay * math.sin(i / 27))
        c = view.to_canvas(wp)
        pts.append((c.x(), c.y()))
    send(QEvent.Type.MouseButtonPress, pts[0], Qt.MouseButton.LeftButton)
    view.repaint()
    app.processEvents()
    times = []
    paints = 0
    for p in pts[1:]:
        before = view.paint_count
        view.last_update_rects.clear()
        t0 = time.perf_counter()
        send(QEvent.Type.MouseMove, p, Qt.MouseButton.LeftButton)
        if view.last_update_rects:  # force now the repaint of what the event dirtied (and only that)
            region = QRegion()
            for r in view.last_update_rects:
                region += r
            view.repaint(region)
        times.append((time.perf_counter() - t0) * 1000)
        paints += view.paint_count > before
        app.processEvents()
    send(QEvent.Type.MouseButtonRelease, pts[-1], Qt.MouseButton.NoButton)
    app.processEvents()
    steps = len(doc.history.labels()[0])
    w.files.ask_unsaved = lambda: "discard"
    w.close()
    t = np.array(times)
    return {"zoom": zoom, "scale": view.zoom(), "events": len(t), "repainted": paints, "undo_steps": steps,
            "p50": float(np.percentile(t, 50)), "p95": float(np.percentile(t, 95)), "max": float(t.max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300)
    args = ap.parse_args()
    print(f"stroke latency, 4096x4096, 20 layers, brush 24 px, {args.events} mouse moves, "
          f"{os.cpu_count()} CPUs, Qt platform {os.environ.get('QT_QPA_PLATFORM')}")
    for zoom in ("100%", "fit"):
        r = run(args.events, zoom)
        print(f"  zoom {r['zoom']:>4} ({r['scale'] * 100:5.1f} %): p50 {r['p50']:6.2f} ms  p95 {r['p95']:6.2f} ms  "
              f"max {r['max']:6.1f} ms  ({r['repainted']}/{r['events']} events repainted, "
              f"stroke = {r['undo_steps']} undo step(s) in total history)")
    print("  target: p95 <= 16 ms")


if __name__ == "__main__":
    main()
