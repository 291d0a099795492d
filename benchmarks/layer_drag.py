"""Issue 16 figure through the real window: an opacity drag on the Layers panel's slider and blend
modes from its list, on the canvas-sized opaque background of the 4096×4096, 20-layer document of
``benchmarks.stroke_latency``, timed from the slider's value to the end of the repaint it causes
(recomposite, premultiply into the view's image, paint).

    QT_QPA_PLATFORM=offscreen python -m benchmarks.layer_drag [--ticks 40]

Prints p50 / p95 / max in milliseconds, at 100 % zoom and fitted in the window; figures, not a
test. AKAPEN_NO_NUMBA=1 runs the numpy paths, to compare.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import numpy as np  # noqa: E402

from benchmarks.stroke_latency import build_document, open_window  # noqa: E402


def run(ticks: int, zoom: str) -> dict:
    from PySide6.QtCore import QPointF

    from canvas.blend import BLEND_MODES

    doc = build_document()
    app, w = open_window(doc)
    view = w.view
    background = doc.layers[0]
    w.bridge.set_active(background.id)
    if zoom == "100%":
        view.set_view(1.0, QPointF(-1200, -1200))
    else:
        view.fit()
    view.repaint()
    app.processEvents()
    panel = w.layers_panel

    def timed(change) -> float:
        t0 = time.perf_counter()
        change()
        app.processEvents()  # the document's change reaches the view, which schedules its update
        view.repaint()
        return (time.perf_counter() - t0) * 1000

    drag = [timed(lambda v=v: panel.opacity_slider.setValue(v))
            for v in (round(50 + 45 * np.cos(k * 0.3)) for k in range(1, ticks + 1))]
    panel.opacity_slider.setValue(100)
    app.processEvents()
    modes = [m for m in BLEND_MODES if m != "normal"]
    combo = panel.blend_combo
    order = [combo.findData(modes[k % len(modes)]) for k in range(ticks)]
    assert min(order) >= 0, "every blend mode is in the Layers panel's list"
    def choose(i: int) -> None:  # as a click in the list: the panel listens to ``activated``
        combo.setCurrentIndex(i)
        combo.activated.emit(i)

    listed = [timed(lambda i=i: choose(i)) for i in order]
    w.files.ask_unsaved = lambda: "discard"
    w.close()
    return {"zoom": zoom, "scale": view.zoom(), "drag": np.array(drag), "modes": np.array(listed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=40)
    args = ap.parse_args()
    from canvas import kernels

    print(f"layer property changes through the window, 4096x4096, 20 layers, {os.cpu_count()} CPUs, "
          f"compiled tile pass {'on' if kernels.enabled() else 'off'}")
    for zoom in ("100%", "fit"):
        r = run(args.ticks, zoom)
        for what, t in (("opacity drag", r["drag"]), ("blend modes ", r["modes"])):
            print(f"  zoom {r['zoom']:>4} ({r['scale'] * 100:5.1f} %): {what}: p50 {np.percentile(t, 50):6.1f} ms  "
                  f"p95 {np.percentile(t, 95):6.1f} ms  max {t.max():6.1f} ms  ({len(t)} changes)")


if __name__ == "__main__":
    main()
