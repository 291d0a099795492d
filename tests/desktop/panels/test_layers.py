"""The layers dock driven through real widgets and events, checked against the document."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QStyle, QStyleOptionSlider

from canvas.document import Document
from canvas.geometry import Rect
from canvas.layers import PieceLayer, PixelLayer
from canvas.marks import Arrow
from desktop.bridge import DocumentBridge
from desktop.panels.layers import LAYER_MIME, LayerIdRole, LayersPanel, render_thumbnail
from desktop.qimage import qimage_to_rgba


def solid(w: int, h: int, rgba) -> np.ndarray:
    out = np.zeros((h, w, 4), np.uint8)
    out[...] = rgba
    return out


def five_layer_doc() -> Document:
    """bottom→top: photo (pixel), piece, paint (pixel), marks (annotation), top (pixel)."""
    doc = Document(200, 100)
    doc.add_layer(PixelLayer(solid(200, 100, (40, 90, 200, 255)), name="Photo"))
    doc.add_layer(PieceLayer.at(solid(40, 30, (0, 200, 0, 255)), 120, 50, name="Piece"))
    doc.new_pixel_layer("Paint")
    marks = doc.new_annotation_layer("Marks")
    doc.add_mark(marks.id, Arrow(start=(10, 10), end=(90, 60)))
    doc.new_pixel_layer("Top")
    doc.mark_clean()
    return doc


@pytest.fixture
def doc():
    return five_layer_doc()


@pytest.fixture
def panel(qtbot, bridge):
    p = LayersPanel(bridge)
    qtbot.addWidget(p)
    p.resize(320, 420)
    p.show()
    qtbot.waitExposed(p)
    return p


def names(doc) -> list[str]:
    return [lyr.name for lyr in doc.layers]


def row_ids(panel) -> list[str]:
    m = panel.model
    return [m.index(r).data(LayerIdRole) for r in range(m.rowCount())]


def row_rect(panel, layer_id):
    return panel.view.visualRect(panel.model.index(panel.model.row_of(layer_id)))


def double_click(qtbot, widget, pos):
    """What a user's double-click delivers: press, release, then a double-click event."""
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(widget, Qt.MouseButton.LeftButton, pos=pos)


def click_row(qtbot, panel, layer_id, where="text"):
    rect = row_rect(panel, layer_id)
    d = panel.delegate
    pos = {"text": d.text_rect(rect).center(), "eye": d.eye_rect(rect).center(),
           "lock": d.lock_rect(rect).center()}[where]
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def layer_named(doc, name):
    return next(lyr for lyr in doc.layers if lyr.name == name)


# --- rows follow the document ------------------------------------------------------------
def test_rows_are_top_first_and_follow_outside_changes(panel, doc, qtbot):
    assert row_ids(panel) == [lyr.id for lyr in reversed(doc.layers)]
    assert panel.model.index(0).data() == "Top"
    assert panel.model.index(4).data() == "Photo"
    # a change made elsewhere (the canvas, a script) shows up: remove, then undo
    doc.remove_layer(layer_named(doc, "Piece").id)
    assert row_ids(panel) == [lyr.id for lyr in reversed(doc.layers)]
    assert panel.model.rowCount() == 4
    doc.undo()
    assert row_ids(panel) == [lyr.id for lyr in reversed(doc.layers)]
    # a rename elsewhere updates the row text (no stale copy of the name)
    doc.set_layer_props(layer_named(doc, "Paint").id, name="Shading")
    assert [panel.model.index(r).data() for r in range(5)] == ["Top", "Marks", "Shading", "Piece", "Photo"]
    # a flatten (macro of several removes and an insert) still leaves rows == document
    doc.flatten()
    assert row_ids(panel) == [lyr.id for lyr in reversed(doc.layers)]


def test_clicking_a_row_sets_the_active_layer_and_back(panel, bridge, doc, qtbot):
    piece = layer_named(doc, "Piece")
    with qtbot.waitSignal(bridge.activeLayerChanged):
        click_row(qtbot, panel, piece.id)
    assert bridge.active_id == piece.id
    # the bridge (the canvas) picks another layer: the list follows
    marks = layer_named(doc, "Marks")
    bridge.set_active(marks.id)
    assert panel.view.currentIndex().row() == panel.model.row_of(marks.id)
    assert panel.view.selectionModel().isSelected(panel.view.currentIndex())
    # the property controls show the active layer
    assert panel.role_combo.currentData() == "annotation"


# --- eye and lock ----------------------------------------------------------------------------
def test_eye_click_toggles_visibility_without_changing_active_layer(panel, bridge, doc, qtbot):
    paint = layer_named(doc, "Paint")
    active = bridge.active_id
    assert paint.id != active
    click_row(qtbot, panel, paint.id, "eye")
    assert paint.visible is False
    assert bridge.active_id == active  # the eye is not a row selection
    assert doc.history.undo_label == "Show/hide Paint"
    click_row(qtbot, panel, paint.id, "eye")
    assert paint.visible is True
    doc.undo()
    assert paint.visible is False
    doc.undo()
    assert paint.visible is True and not doc.modified


def test_lock_click_toggles_lock(panel, doc, qtbot):
    photo = layer_named(doc, "Photo")
    click_row(qtbot, panel, photo.id, "lock")
    assert photo.locked is True
    doc.undo()
    assert photo.locked is False


def test_double_click_on_eye_does_not_open_the_name_editor(panel, doc, qtbot):
    top = layer_named(doc, "Top")
    pos = panel.delegate.eye_rect(row_rect(panel, top.id)).center()
    double_click(qtbot, panel.view.viewport(), pos)
    assert not panel.view.viewport().findChildren(QLineEdit)
    assert top.visible is True  # two quick clicks on the eye: hidden, then shown again
    assert doc.history.labels()[0][-2:] == ["Show/hide Top", "Show/hide Top"]
    assert top.name == "Top"


# --- inline rename -------------------------------------------------------------------------
def test_rename_inline_with_double_click_and_enter(panel, doc, qtbot):
    piece = layer_named(doc, "Piece")
    pos = panel.delegate.text_rect(row_rect(panel, piece.id)).center()
    double_click(qtbot, panel.view.viewport(), pos)
    editors = [e for e in panel.view.viewport().findChildren(QLineEdit) if e.isVisible()]
    assert len(editors) == 1
    editor = editors[0]
    assert editor.text() == "Piece"
    editor.selectAll()
    qtbot.keyClicks(editor, "Bus")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on a queued call
    qtbot.waitUntil(lambda: piece.name == "Bus", timeout=2000)
    assert panel.model.index(panel.model.row_of(piece.id)).data() == "Bus"
    assert doc.history.undo_label == "Rename Piece"
    doc.undo()
    assert piece.name == "Piece"
    assert panel.model.index(panel.model.row_of(piece.id)).data() == "Piece"


def test_rename_to_blank_is_ignored(panel, doc, qtbot):
    top = layer_named(doc, "Top")
    panel.bridge.set_active(top.id)
    panel.rename_action.trigger()  # what the window's Layer > Rename menu entry does
    editor = next(e for e in panel.view.viewport().findChildren(QLineEdit) if e.isVisible())
    editor.selectAll()
    qtbot.keyClicks(editor, "   ")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not [e for e in panel.view.viewport().findChildren(QLineEdit) if e.isVisible()],
                    timeout=2000)
    assert top.name == "Top"
    assert not doc.modified


# --- properties -------------------------------------------------------------------------------
def _slider_drag(qtbot, slider, to_values):
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    handle = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                           QStyle.SubControl.SC_SliderHandle, slider)
    start = handle.center()
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    span = slider.width() - handle.width()
    for v in to_values:
        x = handle.width() / 2 + span * v / slider.maximum()
        pos = QPointF(x, start.y())
        ev = QMouseEvent(QEvent.Type.MouseMove, pos, slider.mapToGlobal(pos), Qt.MouseButton.NoButton,
                         Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(slider, ev)
    last = QPoint(round(handle.width() / 2 + span * to_values[-1] / slider.maximum()), start.y())
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=last)


def test_opacity_slider_drag_is_one_undo_step(panel, bridge, doc, qtbot):
    photo = layer_named(doc, "Photo")
    bridge.set_active(photo.id)
    steps = doc.history.index
    assert panel.opacity_slider.value() == 100
    _slider_drag(qtbot, panel.opacity_slider, [90, 75, 60, 50, 40])
    assert 0.3 <= photo.opacity <= 0.5
    assert panel.opacity_spin.value() == round(photo.opacity * 100)
    assert doc.history.index == steps + 1  # the whole drag merged into one step
    doc.undo()
    assert photo.opacity == 1.0
    assert panel.opacity_slider.value() == 100 and panel.opacity_spin.value() == 100


def test_opacity_spinbox_typing(panel, bridge, doc, qtbot):
    top = layer_named(doc, "Top")
    bridge.set_active(top.id)
    spin = panel.opacity_spin
    spin.selectAll()
    qtbot.keyClicks(spin, "25")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert top.opacity == pytest.approx(0.25)
    assert panel.opacity_slider.value() == 25


def test_blend_and_role_combos(panel, bridge, doc, qtbot):
    paint = layer_named(doc, "Paint")
    bridge.set_active(paint.id)
    assert panel.blend_combo.currentData() == "normal"
    qtbot.keyClick(panel.blend_combo, Qt.Key.Key_Down)  # normal -> multiply
    assert paint.blend == "multiply"
    assert doc.history.undo_label == "Blend mode Paint"
    qtbot.keyClick(panel.role_combo, Qt.Key.Key_End)  # -> reference (last role)
    assert paint.role == "reference"
    doc.undo()
    assert paint.role == "content"
    assert panel.role_combo.currentData() == "content"
    doc.undo()
    assert paint.blend == "normal"
    assert panel.blend_combo.currentData() == "normal"


# --- actions -----------------------------------------------------------------------------------
def test_add_layers_above_the_active_one(panel, bridge, doc, qtbot):
    piece = layer_named(doc, "Piece")
    bridge.set_active(piece.id)
    qtbot.mouseClick(panel.buttons["add_pixel"], Qt.MouseButton.LeftButton)
    new = doc.layers[doc.index_of(piece.id) + 1]
    assert new.kind == "pixel" and new.role == "content"
    assert bridge.active_id == new.id
    assert panel.view.currentIndex().data(LayerIdRole) == new.id
    qtbot.mouseClick(panel.buttons["add_annotation"], Qt.MouseButton.LeftButton)
    ann = doc.layers[doc.index_of(new.id) + 1]
    assert ann.kind == "annotation" and ann.role == "annotation"
    assert len(doc.layers) == 7
    assert len({lyr.name for lyr in doc.layers}) == 7  # names are unique
    doc.undo()
    doc.undo()
    assert names(doc) == ["Photo", "Piece", "Paint", "Marks", "Top"]
    assert row_ids(panel) == [lyr.id for lyr in reversed(doc.layers)]


def test_delete_duplicate_move_actions(panel, bridge, doc, qtbot):
    paint = layer_named(doc, "Paint")
    bridge.set_active(paint.id)
    panel.duplicate_action.trigger()
    assert names(doc) == ["Photo", "Piece", "Paint", "Paint copy", "Marks", "Top"]
    panel.move_up_action.trigger()  # moves the copy (now active)
    assert names(doc) == ["Photo", "Piece", "Paint", "Marks", "Paint copy", "Top"]
    panel.move_down_action.trigger()
    panel.move_down_action.trigger()
    assert names(doc) == ["Photo", "Piece", "Paint copy", "Paint", "Marks", "Top"]
    qtbot.mouseClick(panel.buttons["delete"], Qt.MouseButton.LeftButton)
    assert names(doc) == ["Photo", "Piece", "Paint", "Marks", "Top"]
    assert bridge.active_id in {lyr.id for lyr in doc.layers}
    assert row_ids(panel) == [lyr.id for lyr in reversed(doc.layers)]
    for _ in range(5):
        doc.undo()
    assert not doc.modified and names(doc) == ["Photo", "Piece", "Paint", "Marks", "Top"]


def test_action_enabled_state_follows_active_layer(panel, bridge, doc):
    bridge.set_active(doc.layers[0].id)
    assert not panel.merge_down_action.isEnabled()
    assert not panel.move_down_action.isEnabled()
    assert panel.move_up_action.isEnabled()
    bridge.set_active(doc.layers[-1].id)
    assert panel.merge_down_action.isEnabled()
    assert not panel.move_up_action.isEnabled()


def test_merge_down_and_flatten(panel, bridge, doc, qtbot):
    top = layer_named(doc, "Top")
    doc.paint(top.id, Rect(0, 0, 10, 10), solid(10, 10, (255, 0, 0, 255)))
    piece = layer_named(doc, "Piece")
    bridge.set_active(piece.id)
    panel.merge_down_action.trigger()
    assert names(doc) == ["Photo", "Paint", "Marks", "Top"]
    merged = doc.layers[0]
    assert merged.kind == "pixel" and bridge.active_id == merged.id
    assert tuple(merged.pixels[60, 130]) == (0, 200, 0, 255)  # the piece is in it
    doc.undo()
    assert names(doc) == ["Photo", "Piece", "Paint", "Marks", "Top"]
    panel.flatten_action.trigger()
    assert [lyr.kind for lyr in doc.layers] == ["pixel", "annotation"]  # annotation kept
    assert tuple(doc.layers[0].pixels[5, 5]) == (255, 0, 0, 255)
    assert row_ids(panel) == [lyr.id for lyr in reversed(doc.layers)]
    doc.undo()
    assert names(doc) == ["Photo", "Piece", "Paint", "Marks", "Top"]


def test_document_errors_become_error_signal_not_crash(panel, bridge, doc, qtbot):
    bottom = doc.layers[0]
    bridge.set_active(bottom.id)
    before = doc.history.index
    with qtbot.waitSignal(panel.errorRaised) as sig:
        panel.merge_down()  # the slot behind merge_down_action (disabled here, as shown above)
    assert "no layer below" in sig.args[0]
    assert doc.history.index == before and len(doc.layers) == 5
    # flatten with no content layer: every layer turned into an annotation/reference
    only = Document(10, 10)
    only.new_annotation_layer("a")
    br = DocumentBridge(only)
    p2 = LayersPanel(br)
    qtbot.addWidget(p2)
    assert not p2.flatten_action.isEnabled()
    with qtbot.waitSignal(p2.errorRaised) as sig2:
        p2.flatten()
    assert "no content layers" in sig2.args[0]
    br.close()


# --- reorder by drag and drop ----------------------------------------------------------------
def drop(panel, pos: QPointF, mime) -> QDropEvent:
    """Deliver what the platform delivers for a drag over the list: enter, move, drop."""
    vp = panel.view.viewport()
    rest = (Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    # drag enter/move take an integer QPoint in PySide6 6.11; drop takes a QPointF
    for ev in (QDragEnterEvent(pos.toPoint(), *rest), QDragMoveEvent(pos.toPoint(), *rest), QDropEvent(pos, *rest)):
        ev.setAccepted(False)  # the view accepts what it takes
        QApplication.sendEvent(vp, ev)
    return ev


def test_drop_of_dragged_rows_reorders_the_document(panel, bridge, doc, qtbot):
    """What a drag delivers: the model's own mime data, dropped on the view (real drop events).

    Offscreen Qt has no drag session (QDrag.exec returns at once), so the drag is synthesised:
    the mime data comes from model.mimeData (what QAbstractItemView.startDrag puts in the
    drag) and DragEnter/DragMove/Drop events go to the viewport, through QListView.dropEvent ->
    model.dropMimeData -> model.moveRows -> Document.move_layer.
    """
    photo = layer_named(doc, "Photo")  # bottom row
    mime = panel.model.mimeData([panel.model.index(panel.model.row_of(photo.id))])
    assert mime.hasFormat(LAYER_MIME)
    top_rect = row_rect(panel, layer_named(doc, "Top").id)
    pos = QPointF(top_rect.center().x(), top_rect.top() + 2)  # upper edge of the top row
    assert drop(panel, pos, mime).isAccepted()
    assert names(doc) == ["Piece", "Paint", "Marks", "Top", "Photo"]
    assert row_ids(panel) == [lyr.id for lyr in reversed(doc.layers)]
    assert doc.history.undo_label == "Reorder Photo"
    doc.undo()
    assert names(doc) == ["Photo", "Piece", "Paint", "Marks", "Top"]
    assert row_ids(panel) == [lyr.id for lyr in reversed(doc.layers)]


def test_drop_between_rows_and_foreign_mime_is_refused(panel, doc, qtbot):
    top = layer_named(doc, "Top")
    mime = panel.model.mimeData([panel.model.index(0)])
    marks_rect = row_rect(panel, layer_named(doc, "Paint").id)
    # lower edge of "Paint": Top goes just below Paint, i.e. between Paint and Piece
    pos = QPointF(marks_rect.center().x(), marks_rect.bottom() - 1)
    assert drop(panel, pos, mime).isAccepted()
    assert names(doc) == ["Photo", "Piece", "Top", "Paint", "Marks"]
    assert doc.index_of(top.id) == 2
    other = QMimeData()
    other.setText("not layers")
    assert not drop(panel, pos, other).isAccepted()
    assert names(doc) == ["Photo", "Piece", "Top", "Paint", "Marks"]


def test_model_move_row_is_what_an_internal_drag_calls(panel, bridge, doc):
    """QListView.dropEvent calls model.moveRow(src, dest) for a drag that started in the list."""
    m = panel.model
    paint = layer_named(doc, "Paint")
    bridge.set_active(paint.id)
    src = m.row_of(paint.id)  # row 2
    assert m.moveRow(m.index(0).parent(), src, m.index(0).parent(), 0)  # in front of the top row
    assert names(doc) == ["Photo", "Piece", "Marks", "Top", "Paint"]
    assert panel.view.currentIndex().data(LayerIdRole) == paint.id  # selection moved with it
    assert bridge.active_id == paint.id
    assert m.moveRow(m.index(0).parent(), 0, m.index(0).parent(), 5)  # after the bottom row
    assert names(doc) == ["Paint", "Photo", "Piece", "Marks", "Top"]
    assert not m.moveRow(m.index(0).parent(), 2, m.index(0).parent(), 3)  # onto itself: no-op
    doc.undo()
    doc.undo()
    assert names(doc) == ["Photo", "Piece", "Paint", "Marks", "Top"]


# --- thumbnails -------------------------------------------------------------------------------
def test_thumbnail_shows_layer_where_it_sits():
    doc = Document(200, 100)
    piece = doc.add_layer(PieceLayer.at(solid(50, 50, (0, 255, 0, 255)), 150, 50))
    img = render_thumbnail(piece, doc.size, 40)
    assert (img.width(), img.height()) == (40, 20)  # the canvas aspect, not the piece's
    px = qimage_to_rgba(img)
    assert tuple(px[15, 35]) == (0, 255, 0, 255)  # bottom right: the piece
    assert tuple(px[5, 5]) in {(250, 250, 250, 255), (206, 206, 206, 255)}  # top left: checkerboard


def test_thin_marks_stay_visible_in_thumbnail():
    doc = Document(2000, 2000)
    layer = doc.new_annotation_layer("m")
    doc.add_mark(layer.id, Arrow(start=(100, 1000), end=(1900, 1000), width=4))
    px = qimage_to_rgba(render_thumbnail(layer, doc.size, 40))
    red = (px[..., 0] > 180) & (px[..., 1] < 90) & (px[..., 2] < 90)
    assert red[19:22].sum() >= 20  # a visible horizontal red line across the middle


def test_thumbnails_refresh_coalesced_while_painting(panel, bridge, doc, qtbot):
    paint = layer_named(doc, "Paint")
    m = panel.model
    row = m.row_of(paint.id)
    first = qimage_to_rgba(m.index(row).data(Qt.ItemDataRole.DecorationRole))
    renders = m.thumb_renders
    stroke = object()
    for i in range(30):  # 30 dabs of one stroke
        doc.paint(paint.id, Rect(5 * i, 40, 8, 20), solid(8, 20, (255, 0, 0, 255)), stroke)
        QApplication.processEvents()
        m.index(row).data(Qt.ItemDataRole.DecorationRole)  # a repaint asks for the thumbnail
    assert m.thumb_renders - renders <= 2  # not one render per dab
    qtbot.waitUntil(lambda: not m._pending, timeout=2000)
    after = m.index(row).data(Qt.ItemDataRole.DecorationRole)
    assert m.thumb_renders - renders <= 3
    red = qimage_to_rgba(after)
    assert not np.array_equal(red, first)
    assert (red[..., 0] > 200).sum() > 10 and tuple(red[2, 38]) == tuple(first[2, 38])


def test_panel_grab_renders_rows(panel):
    img: QImage = panel.grab().toImage()
    assert not img.isNull() and img.width() >= 300
    px = qimage_to_rgba(img)
    # the photo's blue thumbnail is somewhere in the bottom row
    blue = (px[..., 2] > 180) & (px[..., 0] < 70) & (px[..., 1] > 70) & (px[..., 1] < 110)
    assert blue.sum() > 100


def test_set_bridge_switches_documents(panel, bridge, doc, qtbot):
    other = Document(50, 50)
    other.new_pixel_layer("Only")
    br2 = DocumentBridge(other)
    panel.set_bridge(br2)
    assert row_ids(panel) == [other.layers[0].id]
    # the old document no longer drives the panel
    doc.new_pixel_layer("Ignored")
    assert panel.model.rowCount() == 1
    qtbot.mouseClick(panel.buttons["add_annotation"], Qt.MouseButton.LeftButton)
    assert [lyr.kind for lyr in other.layers] == ["pixel", "annotation"]
    assert len(doc.layers) == 6  # five + "Ignored": nothing added to the old one
    assert row_ids(panel) == [lyr.id for lyr in reversed(other.layers)]
    assert br2.active_id == other.layers[1].id
    br2.close()


def test_empty_document(qtbot):
    empty = Document(30, 20)
    br = DocumentBridge(empty)
    p = LayersPanel(br)
    qtbot.addWidget(p)
    assert p.model.rowCount() == 0
    assert not p.delete_action.isEnabled() and not p.opacity_slider.isEnabled()
    assert not p.flatten_action.isEnabled()
    p.add_pixel_action.trigger()
    assert [lyr.kind for lyr in empty.layers] == ["pixel"]
    assert p.delete_action.isEnabled() and p.opacity_slider.isEnabled()
    assert p.view.currentIndex().data(LayerIdRole) == empty.layers[0].id
    p.delete_action.trigger()
    assert empty.layers == () and br.active_id == "" and p.model.rowCount() == 0
    br.close()


def test_a_piece_has_an_identity_slider_whose_drag_is_one_undo_step(panel, bridge, doc, qtbot):
    piece = layer_named(doc, "Piece")
    bridge.set_active(layer_named(doc, "Photo").id)
    assert not panel.identity_slider.isVisibleTo(panel)  # only collage pieces have one
    bridge.set_active(piece.id)
    assert panel.identity_slider.isVisibleTo(panel) and panel.identity_label.isVisibleTo(panel)
    assert panel.identity_slider.value() == 85 and panel.identity_spin.value() == 85  # the default: high
    steps = doc.history.index
    _slider_drag(qtbot, panel.identity_slider, [70, 55, 40, 30])
    assert 0.2 <= piece.identity <= 0.4 and panel.identity_spin.value() == round(piece.identity * 100)
    assert doc.history.index == steps + 1 and doc.history.undo_label.startswith("Identity")
    assert "identity" in panel.model.data(panel.model.index(panel.model.row_of(piece.id)), Qt.ItemDataRole.ToolTipRole)
    doc.undo()
    assert piece.identity == pytest.approx(0.85) and panel.identity_slider.value() == 85
