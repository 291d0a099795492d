"""The live loss curve: every step's loss (faint) and its running mean (the line to read)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

SMOOTHING = 0.9  # the running mean's weight of the past (tensorboard's default is 0.6; losses here jump more)


def smoothed(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """The exponential moving average, debiased at the start (as tensorboard draws it)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i))
    return out


class LossPlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.losses: list[float] = []
        self.total = 0
        self.first_step = 1  # a resumed run's curve starts at the step its checkpoint was at
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("The training loss at each step (faint) and its running mean")

    def reset(self, total: int) -> None:
        self.total = total
        self.losses = []
        self.first_step = 1
        self.update()

    def add(self, loss: float, step: int | None = None) -> None:
        if not self.losses and step is not None:
            self.first_step = step
        if math.isfinite(loss):
            self.losses.append(loss)
            self.update()

    @property
    def last_step(self) -> int:
        return self.first_step + len(self.losses) - 1 if self.losses else 0

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(34, 6, -6, -16)
        p.fillRect(self.rect(), self.palette().base())
        pen = QPen(self.palette().mid().color())
        p.setPen(pen)
        p.drawRect(r)
        if len(self.losses) < 2:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "the loss curve appears as training runs")
            return
        mean = smoothed(self.losses)
        ordered = sorted(self.losses)
        lo = min(ordered[len(ordered) // 50], min(mean))
        hi = max(ordered[-1 - len(ordered) // 50], max(mean))
        if hi - lo < 1e-9:
            hi, lo = hi + 1e-3, lo - 1e-3
        total = max(self.total, self.last_step)
        start = self.first_step - 1

        def point(i: int, v: float) -> QPointF:
            x = r.left() + r.width() * (start + i) / max(1, total - 1)
            y = r.bottom() - r.height() * (min(max(v, lo), hi) - lo) / (hi - lo)
            return QPointF(x, y)

        for values, color, width in ((self.losses, QColor(230, 30, 30, 70), 1.0), (mean, QColor(200, 20, 20), 2.0)):
            path = QPainterPath(point(0, values[0]))
            for i, v in enumerate(values[1:], start=1):
                path.lineTo(point(i, v))
            p.setPen(QPen(color, width))
            p.drawPath(path)
        p.setPen(self.palette().text().color())
        font = p.font()
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
        p.setFont(font)
        p.drawText(QRectF(0, r.top() - 4, 32, 14), Qt.AlignmentFlag.AlignRight, f"{hi:.3g}")
        p.drawText(QRectF(0, r.bottom() - 10, 32, 14), Qt.AlignmentFlag.AlignRight, f"{lo:.3g}")
        p.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), 14), Qt.AlignmentFlag.AlignRight,
                   f"step {self.last_step} of {total} · mean {mean[-1]:.4f}")
