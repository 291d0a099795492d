"""The window's docks, on the right: the edit panel in a column of its own, beside the layers
panel over the history panel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QScrollArea, QWidget


def build_docks(window) -> None:
    """Sets ``window.layers_dock``, ``window.history_dock``, ``window.edit_dock`` and ``window.train_dock``."""

    def dock(title: str, name: str, widget: QWidget, area) -> QDockWidget:
        d = QDockWidget(title, window)
        d.setObjectName(name)
        d.setWidget(widget)
        window.addDockWidget(area, d)
        return d

    right = Qt.DockWidgetArea.RightDockWidgetArea
    window.layers_dock = dock("Layers", "layers_dock", window.layers_panel, right)
    window.history_dock = dock("History", "history_dock", window.history_panel, right)
    # the edit panel scrolls its own choices and keeps Run, the results and Insert as layer in sight
    window.edit_dock = dock("Edit", "edit_dock", window.edit_panel, right)
    train_scroll = QScrollArea()
    train_scroll.setWidget(window.training_panel)
    train_scroll.setWidgetResizable(True)
    train_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    train_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    window.train_dock = dock("Train", "train_dock", train_scroll, right)
    # the edit panel is its own column beside the layers and history
    window.splitDockWidget(window.edit_dock, window.layers_dock, Qt.Orientation.Horizontal)
    window.splitDockWidget(window.layers_dock, window.history_dock, Qt.Orientation.Vertical)
    window.resizeDocks([window.layers_dock, window.history_dock], [520, 220], Qt.Orientation.Vertical)
    window.resizeDocks([window.edit_dock, window.layers_dock], [330, 300], Qt.Orientation.Horizontal)
    window.tabifyDockWidget(window.edit_dock, window.train_dock)  # training shares the edit column, as a tab
    window.edit_dock.raise_()
