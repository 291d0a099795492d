"""Issue 4 figure: how responsive the GUI thread stays while a CPU-heavy edit runs.

A zero-interval QTimer counts event-loop turns on the GUI thread while the job runner's
worker runs the classical backend (stylise, then refine-collage) on a large image. Reports
the gaps between turns (p50 / p99 / max); target p99 ≤ 20 ms. Figures only.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from benchmarks.scenes import photo  # noqa: E402
from canvas.document import Document  # noqa: E402
from canvas.layers import PieceLayer, PixelLayer  # noqa: E402
from desktop.headless.edit_request import build_request  # noqa: E402
from desktop.jobs import JobRunner  # noqa: E402
from inference import registry  # noqa: E402


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 2048
    app = QApplication.instance() or QApplication([])  # noqa: F841 - the event loop needs it
    doc = Document(size, size)
    doc.add_layer(PixelLayer(photo(size), name="photo"))
    piece = photo(size // 4, seed=1)
    piece[..., :3] = 255 - piece[..., :3]
    doc.add_layer(PieceLayer.at(piece, size // 3, size // 3, name="piece"))
    backend = registry.get("classical")
    runner = JobRunner()
    for task, params in (("stylise", {"style": "painterly"}), ("refine-collage", {})):
        req = build_request(doc, task=task, backend_caps=backend.capabilities, params=params)
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(1)
        timer.timeout.connect(lambda ticks=ticks: ticks.append(time.perf_counter()))
        loop = QEventLoop()
        outcome = []
        runner.jobFinished.connect(lambda jid, res, o=outcome, lp=loop: (o.append("ok"), lp.quit()))
        runner.jobFailed.connect(lambda jid, msg, exp, o=outcome, lp=loop: (o.append(msg), lp.quit()))
        timer.start()
        t0 = time.perf_counter()
        runner.submit(task, lambda progress, cancel, r=req: backend.run(r, progress, cancel))
        loop.exec()  # the real event loop, as in the app
        elapsed = time.perf_counter() - t0
        timer.stop()
        runner.jobFinished.disconnect()
        runner.jobFailed.disconnect()
        t = np.array(ticks)
        gaps = np.diff(t) * 1000.0
        # the largest gap in each 100 ms window of the run, then the p99 of those
        windows = ((t[1:] - t[0]) // 0.1).astype(int)
        worst = np.array([gaps[windows == w].max() for w in np.unique(windows)])
        print(f"{task} on {size}×{size}: job {elapsed:.2f} s ({outcome[0]}); {len(gaps)} event-loop turns; "
              f"largest gap per 100 ms window: p50 {np.percentile(worst, 50):.1f} ms, "
              f"p99 {np.percentile(worst, 99):.1f} ms, max {worst.max():.1f} ms (target p99 ≤ 20 ms)")
    runner.shutdown()


if __name__ == "__main__":
    main()
