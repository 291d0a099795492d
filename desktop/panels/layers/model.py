"""The layer list model: the document's layers top-first, read from the document on every
``data()`` call and following ``bridge.layersChanged`` by diffing the layer ids (so a single
insert, removal or move keeps the selection and scroll position). Edits (rename, reorder by drag
and drop) go through ``Document`` methods, one undo step each."""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QByteArray, QMimeData, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QImage

from canvas.blend import BLEND_MODES
from canvas.errors import CanvasError
from canvas.layers import Layer
from desktop.bridge import DocumentBridge
from desktop.panels.layers.thumbnails import THUMB, render_thumbnail

LAYER_MIME = "application/x-akapen-layer-ids"

# custom item roles
LayerIdRole = Qt.ItemDataRole.UserRole + 1
LayerRole = Qt.ItemDataRole.UserRole + 2  # the Layer object itself (read-only use)

THUMB_DELAY_MS = 150  # coalescing window for thumbnail refreshes while painting

BLEND_LABELS = {m: m.replace("-", " ").capitalize() for m in BLEND_MODES}


class LayerListModel(QAbstractListModel):
    """The document's layers, row 0 = topmost layer. Edits go through the document."""

    errorRaised = Signal(str)

    def __init__(self, bridge: DocumentBridge, parent=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._ids: list[str] = self._doc_ids()
        self._thumbs: dict[str, tuple[tuple, QImage]] = {}
        self._pending: set[str] = set()
        self.dpr = 1.0
        self.syncing = False  # True while rows follow the document (views must not feed back)
        self.thumb_renders = 0  # how many thumbnails were rendered (for tests and benchmarks)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THUMB_DELAY_MS)
        self._timer.timeout.connect(self._refresh_thumbnails)
        bridge.layersChanged.connect(self.sync)
        bridge.layerChanged.connect(self._layer_changed)

    @property
    def document(self):
        return self.bridge.document

    def detach(self) -> None:
        """Stop following the bridge (before the panel switches to another document)."""
        self._timer.stop()
        self.bridge.layersChanged.disconnect(self.sync)
        self.bridge.layerChanged.disconnect(self._layer_changed)

    def _doc_ids(self) -> list[str]:
        return [lyr.id for lyr in reversed(self.bridge.document.layers)]

    # rows <-> document indices
    def doc_index(self, row: int) -> int:
        return len(self._ids) - 1 - row

    def row_of(self, layer_id: str) -> int:
        try:
            return self._ids.index(layer_id)
        except ValueError:
            return -1

    def layer_at(self, row: int) -> Layer | None:
        if 0 <= row < len(self._ids):
            try:
                return self.document.layer(self._ids[row])
            except KeyError:
                return None
        return None

    # --- following the document --------------------------------------------------------------
    def sync(self) -> None:
        """Bring the rows in line with the document (single insert/remove/move kept incremental)."""
        self.syncing = True
        try:
            self._sync()
        finally:
            self.syncing = False

    def _sync(self) -> None:
        new = self._doc_ids()
        old = self._ids
        if new == old:
            if new:
                self.dataChanged.emit(self.index(0), self.index(len(new) - 1))
            return
        if len(new) == len(old) + 1:
            for i in range(len(new)):
                if new[:i] + new[i + 1:] == old:
                    self.beginInsertRows(QModelIndex(), i, i)
                    self._ids = new
                    self.endInsertRows()
                    return
        elif len(new) == len(old) - 1:
            for i in range(len(old)):
                if old[:i] + old[i + 1:] == new:
                    self.beginRemoveRows(QModelIndex(), i, i)
                    self._ids = new
                    self._thumbs.pop(old[i], None)
                    self.endRemoveRows()
                    return
        elif len(new) == len(old) and set(new) == set(old):
            for i, lid in enumerate(old):
                rest = old[:i] + old[i + 1:]
                j = new.index(lid)
                if new[:j] + new[j + 1:] == rest:
                    dest = j + 1 if j > i else j  # Qt's "insert before" row in old numbering
                    if self.beginMoveRows(QModelIndex(), i, i, QModelIndex(), dest):
                        self._ids = new
                        self.endMoveRows()
                        return
                    break
        self.beginResetModel()
        self._ids = new
        keep = set(new)
        self._thumbs = {k: v for k, v in self._thumbs.items() if k in keep}
        self.endResetModel()

    def _layer_changed(self, layer_id: str) -> None:
        # called for every dab while painting: only note it, refresh at most every THUMB_DELAY_MS
        if layer_id:
            self._pending.add(layer_id)
            if not self._timer.isActive():
                self._timer.start()

    def _refresh_thumbnails(self) -> None:
        pending, self._pending = self._pending, set()
        for lid in pending:
            row = self.row_of(lid)
            cached = self._thumbs.get(lid)
            layer = self.layer_at(row)
            if row < 0 or layer is None or cached is None:
                continue
            if cached[0] != self._thumb_key(layer):
                del self._thumbs[lid]
                idx = self.index(row)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def flush_thumbnails(self) -> None:
        """Refresh pending thumbnails now (instead of when the coalescing timer fires)."""
        self._timer.stop()
        self._refresh_thumbnails()

    def _thumb_key(self, layer: Layer) -> tuple:
        return (layer.revision, layer.bounds().as_tuple(), self.document.size, self.dpr)

    def thumbnail(self, layer: Layer) -> QImage:
        cached = self._thumbs.get(layer.id)
        if cached is not None and (layer.id in self._pending or cached[0] == self._thumb_key(layer)):
            return cached[1]  # a refresh is scheduled; keep the old one until then
        img = render_thumbnail(layer, self.document.size, THUMB, self.dpr)
        self.thumb_renders += 1
        self._thumbs[layer.id] = (self._thumb_key(layer), img)
        return img

    # --- Qt model API ----------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        layer = self.layer_at(index.row()) if index.isValid() else None
        if layer is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return layer.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnail(layer)
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = {"annotation": "annotation (vector marks)", "piece": "collage piece"}.get(layer.kind, layer.kind)
            tip = f"{layer.name}\n{kind} layer · role: {layer.role}\nopacity {round(layer.opacity * 100)} % · {BLEND_LABELS.get(layer.blend, layer.blend)}"
            if layer.kind == "piece":
                tip += f"\nidentity {round(layer.identity * 100)} % (how much of it Refine collage keeps)"
            if layer.locked:
                tip += "\nlocked"
            from desktop.headless.edit_request import describe_provenance

            about = describe_provenance(layer.provenance)
            if about:
                tip += "\n\n" + "\n".join(about)
            return tip
        if role == LayerIdRole:
            return layer.id
        if role == LayerRole:
            return layer
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        layer = self.layer_at(index.row()) if index.isValid() else None
        if layer is None or role != Qt.ItemDataRole.EditRole:
            return False
        name = str(value).strip()
        if not name or name == layer.name:
            return False
        return self._run(self.document.set_layer_props, layer.id, name=name)

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled  # drops land between rows, never onto one
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable
                | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemNeverHasChildren)

    def supportedDropActions(self):
        return Qt.DropAction.MoveAction

    def supportedDragActions(self):
        return Qt.DropAction.MoveAction

    def mimeTypes(self):
        return [LAYER_MIME]

    def mimeData(self, indexes):
        ids = [self._ids[i.row()] for i in sorted(indexes, key=lambda i: i.row()) if i.isValid()]
        md = QMimeData()
        md.setData(LAYER_MIME, QByteArray("\n".join(ids).encode()))
        return md

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return data is not None and data.hasFormat(LAYER_MIME) and action == Qt.DropAction.MoveAction

    def dropMimeData(self, data, action, row, column, parent) -> bool:
        """A drop of layer ids before ``row`` (the fallback path when the drag came from elsewhere)."""
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        if row < 0:
            row = parent.row() if parent.isValid() else len(self._ids)
        ids = [s for s in bytes(data.data(LAYER_MIME).data()).decode().split("\n") if s in self._ids]
        moved = False
        for lid in ids:
            src = self.row_of(lid)
            if src >= 0 and self.moveRows(QModelIndex(), src, 1, QModelIndex(), row):
                moved = True
                new_row = self.row_of(lid)
                row = new_row + 1
        return moved

    def moveRows(self, sourceParent, sourceRow, count, destinationParent, destinationChild) -> bool:
        """Move rows (view numbering, top-first) through ``Document.move_layer``.

        ``destinationChild`` is the row the layer goes in front of, counted before the move.
        The document's "moved" event then moves the row here (see ``sync``).
        """
        if sourceParent.isValid() or destinationParent.isValid() or count != 1:
            return False
        if not (0 <= sourceRow < len(self._ids)) or not (0 <= destinationChild <= len(self._ids)):
            return False
        if destinationChild in (sourceRow, sourceRow + 1):
            return False
        new_row = destinationChild - 1 if destinationChild > sourceRow else destinationChild
        return self._run(self.document.move_layer, self._ids[sourceRow], self.doc_index(new_row))

    def _run(self, fn, *args, **kw) -> bool:
        try:
            fn(*args, **kw)
        except CanvasError as exc:
            self.errorRaised.emit(str(exc))
            return False
        return True
