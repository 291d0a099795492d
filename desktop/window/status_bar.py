"""The status bar's permanent right-hand side: where the cursor is on the canvas, the canvas
size and the zoom. (Hints and messages go in its left-hand side.)"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QStatusBar


class StatusReadout:
    def __init__(self, status_bar: QStatusBar) -> None:
        self.pos_label = QLabel("")
        self.size_label = QLabel("")
        self.zoom_label = QLabel("")
        for w in (self.pos_label, self.size_label, self.zoom_label):
            w.setContentsMargins(8, 0, 8, 0)
            status_bar.addPermanentWidget(w)
        self.pos_label.setMinimumWidth(110)

    def show_cursor(self, p) -> None:
        """``p``: the cursor's canvas position (QPointF), or None when it left the canvas."""
        if p is None:
            self.pos_label.setText("")
            return
        self.pos_label.setText(f"{int(np.floor(p.x()))}, {int(np.floor(p.y()))} px")

    def show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f} %" if zoom >= 0.1 else f"{zoom * 100:.1f} %")

    def show_size(self, width: int, height: int, zoom: float) -> None:
        self.size_label.setText(f"{width} × {height} px")
        self.show_zoom(zoom)
