"""Qt side of the document: re-emits canvas events as signals and tracks the active layer.

The document stays Qt-free; views connect to this object. ``close()`` disconnects from the
document so a closed window leaves no callbacks behind.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, QRect, Signal

from canvas.document import Document
from canvas.events import DocumentEvent


class DocumentBridge(QObject):
    # a canvas rect whose pixels changed (x, y, w, h in canvas pixels); null QRect = everything
    pixelsChanged = Signal(QRect)
    # layer list changed: inserted, removed, moved, properties
    layersChanged = Signal()
    # one layer's properties changed (id)
    layerChanged = Signal(str)
    selectionChanged = Signal()
    referencesChanged = Signal()
    trainingPairsChanged = Signal()  # the training pairs kept with the document (added, removed, undone)
    historyChanged = Signal()
    modifiedChanged = Signal(bool)
    activeLayerChanged = Signal(str)  # "" when none
    canvasResized = Signal()  # the canvas changed size (Canvas size, Crop to selection, their undo)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._active: str = document.layers[-1].id if document.layers else ""
        self._modified = document.modified
        self._disconnect = document.events.connect(self._on_event)
        self.keeping_tool = 0  # > 0 while the program (not the user) changes the active layer

    @contextlib.contextmanager
    def keep_tool(self):
        """Within the block the active layer may change (a result inserted, undo, redo) without the window
        picking another tool for it: the tool changes when the user picks a layer, never by itself."""
        self.keeping_tool += 1
        try:
            yield
        finally:
            self.keeping_tool -= 1

    # --- active layer ---------------------------------------------------------------------
    @property
    def active_id(self) -> str:
        return self._active

    def active_layer(self):
        if not self._active:
            return None
        try:
            return self.document.layer(self._active)
        except KeyError:
            return None

    def set_active(self, layer_id: str) -> None:
        if layer_id != self._active:
            self._active = layer_id
            self.activeLayerChanged.emit(layer_id)

    # --- events -------------------------------------------------------------------------------
    def _on_event(self, ev: DocumentEvent) -> None:
        k = ev.kind
        if k == "resized":
            self.canvasResized.emit()  # views rebuild their caches before they repaint
            self.layersChanged.emit()  # every layer moved
        if ev.rect is not None and not ev.rect.empty and k in ("pixels", "inserted", "removed", "moved", "changed",
                                                                 "resized"):
            r = ev.rect
            self.pixelsChanged.emit(QRect(r.x, r.y, r.w, r.h))
        if k == "inserted":
            self.layersChanged.emit()
            self.set_active(ev.layer_id or "")
        elif k == "removed":
            self.layersChanged.emit()
            if ev.layer_id == self._active:
                layers = self.document.layers
                idx = min(ev.info.get("index", 0), len(layers) - 1)
                self.set_active(layers[idx].id if layers and idx >= 0 else "")
        elif k == "moved":
            self.layersChanged.emit()
        elif k == "changed":
            self.layerChanged.emit(ev.layer_id or "")
            self.layersChanged.emit()
        elif k == "pixels":
            self.layerChanged.emit(ev.layer_id or "")
        elif k == "selection":
            self.selectionChanged.emit()
        elif k == "references":
            self.referencesChanged.emit()
        elif k == "training_pairs":
            self.trainingPairsChanged.emit()
        elif k in ("history", "clean"):
            self.historyChanged.emit()
            mod = self.document.modified
            if mod != self._modified:
                self._modified = mod
                self.modifiedChanged.emit(mod)

    def close(self) -> None:
        if self._disconnect is not None:
            self._disconnect()
            self._disconnect = None


def rewire(old: DocumentBridge | None, new: DocumentBridge | None, connections) -> None:
    """Move ``connections`` ((signal name, slot) pairs) from ``old``'s signals to ``new``'s: what
    every view does when the window switches document (File › New / Open)."""
    if old is new:
        return
    for name, slot in connections:
        if old is not None:
            getattr(old, name).disconnect(slot)
        if new is not None:
            getattr(new, name).connect(slot)
