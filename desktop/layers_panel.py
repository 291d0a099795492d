"""The layers dock: the document's layers top-first, their properties, and the layer actions.

The panel holds no layer state of its own. ``LayerListModel`` reads the document on every
``data()`` call and follows ``bridge.layersChanged`` by diffing the layer ids (so a single
insert, removal or move keeps the selection and scroll position); every change the user
makes goes through a ``Document`` method, so it is one undoable step.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QEvent,
    QMimeData,
    QModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QSlider,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from canvas.blend import BLEND_MODES
from canvas.errors import CanvasError
from canvas.layers import ROLES, Layer
from desktop.bridge import DocumentBridge, rewire
from desktop.qimage import paint_checker, rgba_to_qimage

LAYER_MIME = "application/x-akapen-layer-ids"

# custom item roles
LayerIdRole = Qt.ItemDataRole.UserRole + 1
LayerRole = Qt.ItemDataRole.UserRole + 2  # the Layer object itself (read-only use)

THUMB = 40  # thumbnail box, logical pixels
ROW_H = 48
ICON = 22  # eye / lock hit boxes
THUMB_DELAY_MS = 150  # coalescing window for thumbnail refreshes while painting

KIND_BADGE = {
    # kind -> (short label, colour)
    "pixel": ("pixel", QColor(70, 120, 190)),
    "piece": ("piece", QColor(60, 150, 90)),
    "annotation": ("marks", QColor(205, 45, 45)),
}
BLEND_LABELS = {m: m.replace("-", " ").capitalize() for m in BLEND_MODES}
ROLE_LABELS = {"content": "Content", "annotation": "Annotation", "reference": "Reference"}


# --- thumbnails ---------------------------------------------------------------------------
def _max_pool(a: np.ndarray, step: int) -> np.ndarray:
    """Max over step×step blocks (the far edges padded with transparency), in two strided passes."""
    h, w = a.shape[:2]
    hh, ww = -(-h // step), -(-w // step)
    rows = np.zeros((hh, w, a.shape[2]), np.uint8)
    for k in range(min(step, h)):
        sl = a[k::step]
        np.maximum(rows[:len(sl)], sl, out=rows[:len(sl)])
    out = np.zeros((hh, ww, a.shape[2]), np.uint8)
    for k in range(min(step, w)):
        sl = rows[:, k::step]
        n = sl.shape[1]
        np.maximum(out[:, :n], sl, out=out[:, :n])
    return out


def render_thumbnail(layer: Layer, doc_size: tuple[int, int], box: int = THUMB, dpr: float = 1.0) -> QImage:
    """The layer's raster where it sits on the canvas, scaled into ``box`` (aspect kept).

    Large rasters are strided down to about twice the target before smooth scaling, so a
    4096² layer costs well under a millisecond of numpy work. Annotation marks are thin: they
    are max-pooled instead, so a 6 px red line stays visible in a 40 px thumbnail.
    """
    dw, dh = doc_size
    s = min(box / dw, box / dh)
    tw, th = max(1, round(dw * s)), max(1, round(dh * s))
    pw, ph = max(1, round(tw * dpr)), max(1, round(th * dpr))
    img = QImage(pw, ph, QImage.Format.Format_ARGB32_Premultiplied)
    img.setDevicePixelRatio(dpr)
    p = QPainter(img)
    paint_checker(p, QRect(0, 0, tw, th), 5)
    pixels, r = layer.raster()
    # the part of the raster that lies on the canvas
    x0, y0 = max(r.x, 0), max(r.y, 0)
    x1, y1 = min(r.x + r.w, dw), min(r.y + r.h, dh)
    if x1 > x0 and y1 > y0 and pixels.size:
        part = pixels[y0 - r.y:y1 - r.y, x0 - r.x:x1 - r.x]
        if layer.kind == "annotation":
            step = max(1, int(1.0 / (s * dpr)))  # pool straight down to the thumbnail's size
        else:
            step = max(1, int(1.0 / (s * dpr * 2)))  # about 2x, then smooth scaling
        cw, ch = x1 - x0, y1 - y0  # canvas area the drawn image covers
        if step > 1 and layer.kind == "annotation":
            part = _max_pool(part, step)
            cw, ch = part.shape[1] * step, part.shape[0] * step
        elif step > 1:
            part = part[::step, ::step]
        src = rgba_to_qimage(part)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(QRectF(x0 * s, y0 * s, cw * s, ch * s), src)
    p.end()
    return img


# --- the model ----------------------------------------------------------------------------
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
            if layer.locked:
                tip += "\nlocked"
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


# --- painting rows ------------------------------------------------------------------------
def _eye_path(r: QRectF) -> QPainterPath:
    path = QPainterPath()
    c = r.center()
    w, h = r.width() * 0.42, r.height() * 0.26
    path.moveTo(c.x() - w, c.y())
    path.quadTo(QPointF(c.x(), c.y() - 2 * h), QPointF(c.x() + w, c.y()))
    path.quadTo(QPointF(c.x(), c.y() + 2 * h), QPointF(c.x() - w, c.y()))
    path.closeSubpath()
    return path


def _begin_icon(p: QPainter, on: bool, color: QColor, off_alpha: float) -> QColor:
    """Save the painter and set it up for a 1.4 px antialiased icon; the colour (faded when off)."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    col = QColor(color)
    if not on:
        col.setAlphaF(off_alpha)
    p.setPen(QPen(col, 1.4))
    p.setBrush(Qt.BrushStyle.NoBrush)
    return col


def _draw_eye(p: QPainter, r: QRectF, on: bool, color: QColor) -> None:
    col = _begin_icon(p, on, color, 0.35)
    p.drawPath(_eye_path(r))
    c = r.center()
    if on:
        p.setBrush(col)
        p.drawEllipse(c, r.width() * 0.12, r.width() * 0.12)
    else:
        p.drawLine(QPointF(r.left() + 4, r.bottom() - 5), QPointF(r.right() - 4, r.top() + 5))
    p.restore()


def _draw_lock(p: QPainter, r: QRectF, on: bool, color: QColor) -> None:
    col = _begin_icon(p, on, color, 0.22)
    c = r.center()
    body = QRectF(c.x() - 5, c.y() - 1, 10, 7.5)
    shackle = QRectF(c.x() - 3.3, c.y() - 7, 6.6, 9)
    if on:
        p.drawArc(shackle, 0, 180 * 16)
        p.drawLine(QPointF(shackle.left(), shackle.center().y()), QPointF(shackle.left(), body.top()))
    else:
        p.drawArc(shackle.translated(3, -1.5), 0, 180 * 16)
    p.drawLine(QPointF(shackle.right(), shackle.center().y()), QPointF(shackle.right(), body.top()))
    p.setBrush(col)
    p.drawRoundedRect(body, 1.5, 1.5)
    p.restore()


class LayerDelegate(QStyledItemDelegate):
    """Paints a layer row: eye, thumbnail, name, kind badge and role, lock; edits the name."""

    PAD = 4

    def sizeHint(self, option, index) -> QSize:
        return QSize(200, ROW_H)

    # geometry, shared by painting, hit tests and the inline editor
    def eye_rect(self, row: QRect) -> QRect:
        return QRect(row.left() + 2, row.center().y() - ICON // 2, ICON, ICON)

    def thumb_rect(self, row: QRect) -> QRect:
        return QRect(row.left() + 2 + ICON + self.PAD, row.top() + (row.height() - THUMB) // 2, THUMB, THUMB)

    def lock_rect(self, row: QRect) -> QRect:
        return QRect(row.right() - ICON - 2, row.center().y() - ICON // 2, ICON, ICON)

    def text_rect(self, row: QRect) -> QRect:
        left = self.thumb_rect(row).right() + 1 + 2 * self.PAD
        return QRect(left, row.top() + 3, self.lock_rect(row).left() - self.PAD - left, row.height() - 6)

    def hit(self, row: QRect, pos) -> str | None:
        if self.eye_rect(row).contains(pos):
            return "visible"
        if self.lock_rect(row).contains(pos):
            return "locked"
        return None

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index) -> None:
        layer = index.data(LayerRole)
        if layer is None:
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        style = opt.widget.style() if opt.widget else None
        # background + selection the way the style draws it
        opt.text = ""
        opt.icon = type(opt.icon)()
        opt.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, p, opt.widget)
        row = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        pal = option.palette
        fg = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim = QColor(fg)
        dim.setAlphaF(0.62)

        _draw_eye(p, QRectF(self.eye_rect(row)), layer.visible, fg)

        tr = self.thumb_rect(row)
        thumb = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(thumb, QImage) and not thumb.isNull():
            dpr = thumb.devicePixelRatio() or 1.0
            tw, th = round(thumb.width() / dpr), round(thumb.height() / dpr)
            target = QRect(tr.left() + (THUMB - tw) // 2, tr.top() + (THUMB - th) // 2, tw, th)
            p.save()
            if not layer.visible:
                p.setOpacity(0.4)
            p.drawImage(target, thumb)
            p.restore()
            p.setPen(QPen(QColor(0, 0, 0, 90), 1))
            p.drawRect(target.adjusted(0, 0, -1, -1))

        text = self.text_rect(row)
        f = QFont(option.font)
        p.save()
        p.setFont(f)
        fm = p.fontMetrics()
        name_h = fm.height()
        name_col = fg if layer.visible else dim
        p.setPen(name_col)
        name_rect = QRect(text.left(), text.top() + 2, text.width(), name_h)
        p.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   fm.elidedText(layer.name, Qt.TextElideMode.ElideRight, text.width()))

        # second line: kind badge, then role / opacity / blend in a smaller font
        small = QFont(option.font)
        small.setPointSizeF(max(6.5, option.font.pointSizeF() * 0.82))
        p.setFont(small)
        sfm = p.fontMetrics()
        label, colour = KIND_BADGE.get(layer.kind, (layer.kind, QColor(120, 120, 120)))
        bw = sfm.horizontalAdvance(label) + 8
        bh = sfm.height() + 1
        by = name_rect.bottom() + 4
        badge = QRect(text.left(), by, bw, bh)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(colour))
        p.drawRoundedRect(QRectF(badge), 3, 3)
        p.setPen(QColor(255, 255, 255))
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
        bits = [layer.role]
        if layer.opacity < 1.0:
            bits.append(f"{round(layer.opacity * 100)} %")
        if layer.blend != "normal":
            bits.append(BLEND_LABELS.get(layer.blend, layer.blend).lower())
        info = QRect(badge.right() + 6, by, text.right() - badge.right() - 6, bh)
        p.setPen(dim)
        p.drawText(info, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   sfm.elidedText(" · ".join(bits), Qt.TextElideMode.ElideRight, max(0, info.width())))
        p.restore()

        _draw_lock(p, QRectF(self.lock_rect(row)), layer.locked, fg)

    def createEditor(self, parent, option, index):
        ed = QLineEdit(parent)
        ed.setFrame(True)
        return ed

    def setEditorData(self, editor, index) -> None:
        editor.setText(index.data(Qt.ItemDataRole.EditRole) or "")
        editor.selectAll()

    def setModelData(self, editor, model, index) -> None:
        model.setData(index, editor.text(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor, option, index) -> None:
        text = self.text_rect(option.rect)
        h = editor.sizeHint().height()
        editor.setGeometry(QRect(text.left() - 3, text.top() + 1, text.width() + 3, h))


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


def _tool_button(action: QAction) -> QToolButton:
    b = QToolButton()
    b.setDefaultAction(action)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    b.setAutoRaise(True)
    return b


class LayersPanel(QWidget):
    """The layers dock: list (top layer first), properties of the active layer, actions.

    ``LayersPanel(bridge, parent=None)``; ``set_bridge(bridge)`` switches to another document.

    Signals:
        ``errorRaised(str)`` — an expected document error (a ``CanvasError``: merge down on the
        bottom layer, flatten with no content layer, …) with its user-facing text. Nothing is
        shown by the panel itself; the window connects this to its notifier.

    Actions (``QAction`` attributes, for the window's Layer menu and shortcuts):
        ``add_pixel_action``, ``add_annotation_action``, ``delete_action``, ``duplicate_action``,
        ``move_up_action``, ``move_down_action``, ``merge_down_action``, ``flatten_action``,
        ``rename_action`` (opens the inline editor); all of them in ``actions_by_name``.
        Their enabled state follows the active layer (merge down is off on the bottom layer).

    Every change goes through ``Document`` methods, so each is one undo step; the opacity
    slider relies on the document merging consecutive opacity changes of one layer, so a
    drag is one step. Reordering is by drag and drop in the list (``LayerListModel.moveRows``
    → ``Document.move_layer``); double-click (or F2) renames inline.
    """

    errorRaised = Signal(str)

    def __init__(self, bridge: DocumentBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._syncing_selection = False
        self.delegate = LayerDelegate(self)
        self.view = LayerListView(self)
        self.view.setItemDelegate(self.delegate)
        self.view.setMinimumHeight(3 * ROW_H)

        # --- properties of the active layer ---
        self.blend_combo = QComboBox()
        for mode in BLEND_MODES:
            self.blend_combo.addItem(BLEND_LABELS[mode], mode)
        self.blend_combo.setToolTip("Blend mode of the active layer")
        self.role_combo = QComboBox()
        for role in ROLES:
            self.role_combo.addItem(ROLE_LABELS.get(role, role), role)
        self.role_combo.setToolTip(
            "Content: part of the image being edited · Annotation: instructions for the model, "
            "never in the output · Reference: an extra input image, not composited")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setToolTip("Opacity of the active layer")
        self.opacity_spin = QSpinBox()
        self.opacity_spin.setRange(0, 100)
        self.opacity_spin.setSuffix(" %")
        self.opacity_spin.setKeyboardTracking(False)

        grid = QGridLayout()
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.addWidget(QLabel("Blend"), 0, 0)
        grid.addWidget(self.blend_combo, 0, 1)
        grid.addWidget(QLabel("Role"), 0, 2)
        grid.addWidget(self.role_combo, 0, 3)
        grid.addWidget(QLabel("Opacity"), 1, 0)
        op = QHBoxLayout()
        op.setSpacing(6)
        op.addWidget(self.opacity_slider, 1)
        op.addWidget(self.opacity_spin)
        grid.addLayout(op, 1, 1, 1, 3)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(3, 2)

        # --- actions ---
        def act(text: str, tip: str, slot, shortcut: str | None = None) -> QAction:
            a = QAction(text, self)
            a.setToolTip(tip)
            a.setStatusTip(tip)
            if shortcut:
                a.setShortcut(shortcut)
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.add_pixel_action = act("New pixel layer", "Add an empty pixel layer above the active one",
                                    self.add_pixel_layer)
        self.add_annotation_action = act("New annotation layer",
                                         "Add an annotation layer (red-pen marks) above the active one",
                                         self.add_annotation_layer)
        self.delete_action = act("Delete layer", "Delete the active layer", self.delete_layer, "Delete")
        self.duplicate_action = act("Duplicate layer", "Duplicate the active layer", self.duplicate_layer)
        self.move_up_action = act("Move layer up", "Move the active layer one step up", self.move_up)
        self.move_down_action = act("Move layer down", "Move the active layer one step down", self.move_down)
        self.merge_down_action = act("Merge down", "Merge the active layer into the one below",
                                     self.merge_down)
        self.flatten_action = act("Flatten image", "Merge all content layers into one pixel layer",
                                  self.flatten)
        self.rename_action = act("Rename layer…", "Rename the active layer in the list", self.rename_active)
        self.actions_by_name = {
            "add_pixel": self.add_pixel_action, "add_annotation": self.add_annotation_action,
            "delete": self.delete_action, "duplicate": self.duplicate_action,
            "move_up": self.move_up_action, "move_down": self.move_down_action,
            "merge_down": self.merge_down_action, "flatten": self.flatten_action,
            "rename": self.rename_action,
        }

        bar = QHBoxLayout()
        bar.setContentsMargins(2, 0, 2, 2)
        bar.setSpacing(0)
        for a, short in ((self.add_pixel_action, "+ Layer"), (self.add_annotation_action, "+ Marks"),
                         (self.move_up_action, "▲"), (self.move_down_action, "▼"),
                         (self.delete_action, "Delete"), (self.duplicate_action, "Duplicate"),
                         (self.merge_down_action, "Merge down"), (self.flatten_action, "Flatten")):
            a.setIconText(short)  # what a tool button shows; menus keep the full text
        self.buttons: dict[str, QToolButton] = {}
        for name in ("add_pixel", "add_annotation", "move_up", "move_down", "delete"):
            b = _tool_button(self.actions_by_name[name])
            bar.addWidget(b)
            self.buttons[name] = b
        more = QMenu(self)
        for name in ("duplicate", "merge_down", "flatten"):
            more.addAction(self.actions_by_name[name])
        self.more_button = QToolButton()
        self.more_button.setText("More ▾")
        self.more_button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
        self.more_button.setToolTip("Duplicate, merge down, flatten")
        self.more_button.setAutoRaise(True)
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.more_button.setMenu(more)
        self.more_menu = more
        bar.addStretch(1)
        bar.addWidget(self.more_button)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(grid)
        lay.addWidget(self.view, 1)
        lay.addLayout(bar)

        # --- wiring ---
        self.blend_combo.activated.connect(self._blend_chosen)
        self.role_combo.activated.connect(self._role_chosen)
        self.opacity_slider.valueChanged.connect(self._opacity_from_slider)
        self.opacity_spin.valueChanged.connect(self._opacity_from_spin)
        self.model: LayerListModel | None = None
        self._attach(bridge)

    def _attach(self, bridge: DocumentBridge) -> None:
        self.bridge = bridge
        self.model = LayerListModel(bridge, self)
        self.model.errorRaised.connect(self.errorRaised)
        self.model.dpr = self.devicePixelRatioF()
        self.view.setModel(self.model)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.model.rowsInserted.connect(self._select_active)
        self.model.rowsRemoved.connect(self._select_active)
        self.model.rowsMoved.connect(self._select_active)
        self.model.modelReset.connect(self._select_active)
        rewire(None, bridge, self._bridge_slots())
        self._select_active()
        self._update_controls()

    def set_bridge(self, bridge: DocumentBridge) -> None:
        """Show another document (File > New / Open) without rebuilding the dock."""
        if bridge is self.bridge:
            return
        old_bridge, old_model = self.bridge, self.model
        rewire(old_bridge, None, self._bridge_slots())
        old_model.detach()
        self._attach(bridge)
        old_model.deleteLater()

    def _bridge_slots(self):
        return (("activeLayerChanged", self._active_changed), ("layersChanged", self._update_controls),
                ("layerChanged", self._layer_changed))

    # --- helpers ------------------------------------------------------------------------------
    @property
    def document(self):
        return self.bridge.document

    def active_layer(self) -> Layer | None:
        return self.bridge.active_layer()

    def _run(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except CanvasError as exc:
            self.errorRaised.emit(str(exc))
            return None

    def _unique_name(self, base: str) -> str:
        names = {lyr.name for lyr in self.document.layers}
        n = len(self.document.layers) + 1
        while f"{base} {n}" in names:
            n += 1
        return f"{base} {n}"

    def _insert_index(self) -> int:
        layer = self.active_layer()
        return self.document.index_of(layer.id) + 1 if layer is not None else len(self.document.layers)

    # --- actions --------------------------------------------------------------------------------
    def add_pixel_layer(self) -> None:
        self._run(self.document.new_pixel_layer, self._unique_name("Layer"), self._insert_index())

    def add_annotation_layer(self) -> None:
        self._run(self.document.new_annotation_layer, self._unique_name("Marks"), self._insert_index())

    def delete_layer(self) -> None:
        layer = self.active_layer()
        if layer is not None:
            self._run(self.document.remove_layer, layer.id)

    def duplicate_layer(self) -> None:
        layer = self.active_layer()
        if layer is not None:
            self._run(self.document.duplicate_layer, layer.id)

    def _move_by(self, delta: int) -> None:
        layer = self.active_layer()
        if layer is not None:
            self._run(self.document.move_layer, layer.id, self.document.index_of(layer.id) + delta)

    def move_up(self) -> None:
        self._move_by(+1)

    def move_down(self) -> None:
        self._move_by(-1)

    def merge_down(self) -> None:
        layer = self.active_layer()
        if layer is None:
            self.errorRaised.emit("there is no active layer to merge down")
            return
        merged = self._run(self.document.merge_down, layer.id)
        if merged is not None:
            self.bridge.set_active(merged.id)

    def flatten(self) -> None:
        flat = self._run(self.document.flatten)
        if flat is not None:
            self.bridge.set_active(flat.id)

    # --- selection <-> active layer ---------------------------------------------------------
    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing_selection or self.model.syncing or not current.isValid():
            return
        lid = current.data(LayerIdRole)
        if lid:
            self.bridge.set_active(lid)

    def _active_changed(self, _layer_id: str) -> None:
        self._select_active()
        self._update_controls()

    def _select_active(self, *_args) -> None:
        row = self.model.row_of(self.bridge.active_id)
        sel = self.view.selectionModel()
        self._syncing_selection = True
        try:
            if row < 0:
                sel.clearSelection()
                sel.setCurrentIndex(QModelIndex(), sel.SelectionFlag.NoUpdate)
            else:
                idx = self.model.index(row)
                if sel.currentIndex() != idx or not sel.isSelected(idx):
                    sel.setCurrentIndex(idx, sel.SelectionFlag.ClearAndSelect)
                self.view.scrollTo(idx)
        finally:
            self._syncing_selection = False

    # --- property controls ------------------------------------------------------------------
    def _layer_changed(self, layer_id: str) -> None:
        if layer_id == self.bridge.active_id:
            self._update_controls()

    def _update_controls(self) -> None:
        layer = self.active_layer()
        doc = self.document
        has = layer is not None
        for w in (self.blend_combo, self.role_combo, self.opacity_slider, self.opacity_spin):
            w.setEnabled(has)
            w.blockSignals(True)
        try:
            if has:
                self.blend_combo.setCurrentIndex(max(0, self.blend_combo.findData(layer.blend)))
                self.role_combo.setCurrentIndex(max(0, self.role_combo.findData(layer.role)))
                v = round(layer.opacity * 100)
                self.opacity_slider.setValue(v)
                self.opacity_spin.setValue(v)
        finally:
            for w in (self.blend_combo, self.role_combo, self.opacity_slider, self.opacity_spin):
                w.blockSignals(False)
        i = doc.index_of(layer.id) if has else -1
        n = len(doc.layers)
        self.delete_action.setEnabled(has)
        self.duplicate_action.setEnabled(has)
        self.rename_action.setEnabled(has)
        self.move_up_action.setEnabled(has and i < n - 1)
        self.move_down_action.setEnabled(has and i > 0)
        self.merge_down_action.setEnabled(has and i > 0)
        self.flatten_action.setEnabled(any(lyr.role == "content" for lyr in doc.layers))

    def _set_active_prop(self, **props) -> None:
        layer = self.active_layer()
        if layer is not None:
            self._run(self.document.set_layer_props, layer.id, **props)

    def _blend_chosen(self, i: int) -> None:
        self._set_active_prop(blend=self.blend_combo.itemData(i))

    def _role_chosen(self, i: int) -> None:
        self._set_active_prop(role=self.role_combo.itemData(i))

    def _opacity_from_slider(self, v: int) -> None:
        self.opacity_spin.blockSignals(True)
        self.opacity_spin.setValue(v)
        self.opacity_spin.blockSignals(False)
        self._set_active_prop(opacity=v / 100.0)

    def _opacity_from_spin(self, v: int) -> None:
        self.opacity_slider.blockSignals(True)
        self.opacity_slider.setValue(v)
        self.opacity_slider.blockSignals(False)
        self._set_active_prop(opacity=v / 100.0)

    # --- lifetime ------------------------------------------------------------------------------
    def rename_active(self) -> None:
        """Open the inline name editor on the active layer (for a menu entry or F2)."""
        row = self.model.row_of(self.bridge.active_id)
        if row >= 0:
            self.view.edit(self.model.index(row))

    def showEvent(self, event) -> None:
        dpr = self.devicePixelRatioF()
        if dpr != self.model.dpr:
            self.model.dpr = dpr
        super().showEvent(event)


__all__ = ["LayersPanel", "LayerListModel", "LayerDelegate", "LayerListView", "render_thumbnail",
           "LayerIdRole", "LayerRole", "LAYER_MIME"]
