"""How a layer row looks: eye, thumbnail, name, kind badge and role, lock; and its inline
name editor."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QLineEdit, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.panels.layers.model import BLEND_LABELS, LayerRole
from desktop.panels.layers.thumbnails import THUMB

ROW_H = 48
ICON = 22  # eye / lock hit boxes

KIND_BADGE = {
    # kind -> (short label, colour)
    "pixel": ("pixel", QColor(70, 120, 190)),
    "piece": ("piece", QColor(60, 150, 90)),
    "annotation": ("marks", QColor(205, 45, 45)),
}


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
