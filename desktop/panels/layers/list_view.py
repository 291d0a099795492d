"""The layer list: eye and lock clicks toggle without changing the active layer; rows are
reordered by drag and drop."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QAbstractItemView, QListView

from desktop.panels.layers.delegate import LayerDelegate
from desktop.panels.layers.model import LayerListModel, LayerRole


class LayerListView(QListView):
    """The list: eye and lock clicks toggle without changing the active layer."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # DragDrop rather than InternalMove: a drag from this list still moves rows through
        # model.moveRow (QListView does that when source == view), and drops of layer ids built
        # elsewhere (tests, a future second view) reach model.dropMimeData instead of being ignored
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setUniformItemSizes(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)

    def _toggle_at(self, event: QMouseEvent) -> bool:
        pos = event.position().toPoint()
        index = self.indexAt(pos)
        delegate = self.itemDelegate()
        if not index.isValid() or not isinstance(delegate, LayerDelegate):
            return False
        prop = delegate.hit(self.visualRect(index), pos)
        if prop is None:
            return False
        if event.button() == Qt.MouseButton.LeftButton and event.type() in (
                QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            layer = index.data(LayerRole)
            model = self.model()
            if layer is not None and isinstance(model, LayerListModel):
                model._run(model.document.set_layer_props, layer.id, **{prop: not getattr(layer, prop)})
        return True

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._toggle_at(event):
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._toggle_at(event):  # a quick second click on the eye toggles again, never renames
            event.accept()
            return
        super().mouseDoubleClickEvent(event)
