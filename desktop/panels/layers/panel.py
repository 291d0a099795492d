"""The layers dock: the list of layers, the properties of the active layer, and the layer actions.

The panel holds no layer state of its own; the list model (``model``) reads the document, the
delegate (``delegate``) paints the rows, and every change goes through a ``Document`` method,
so it is one undoable step.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from canvas.blend import BLEND_MODES
from canvas.errors import CanvasError
from canvas.layers import ROLES, Layer, PieceLayer
from desktop.bridge import DocumentBridge, rewire
from desktop.panels.layers.delegate import ROW_H, LayerDelegate
from desktop.panels.layers.list_view import LayerListView
from desktop.panels.layers.model import BLEND_LABELS, LayerIdRole, LayerListModel

ROLE_LABELS = {"content": "Content", "annotation": "Annotation", "reference": "Reference"}


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
        self.opacity_slider, self.opacity_spin, op = _percent_pair(
            "Opacity of the active layer", lambda v: self._set_active_prop(opacity=v / 100.0))
        self.identity_slider, self.identity_spin, ident = _percent_pair(
            "Identity of the active collage piece: how much of it Refine collage must keep. 100 % keeps its "
            "interior as pasted (only its edge, shadow and light change); 0 % lets the model repaint it",
            lambda v: self._set_active_prop(identity=v / 100.0))
        self.identity_label = QLabel("Identity")
        self.identity_label.setToolTip(self.identity_slider.toolTip())

        grid = QGridLayout()
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.addWidget(QLabel("Blend"), 0, 0)
        grid.addWidget(self.blend_combo, 0, 1)
        grid.addWidget(QLabel("Role"), 0, 2)
        grid.addWidget(self.role_combo, 0, 3)
        grid.addWidget(QLabel("Opacity"), 1, 0)
        grid.addLayout(op, 1, 1, 1, 3)
        grid.addWidget(self.identity_label, 2, 0)  # shown for collage pieces only
        grid.addLayout(ident, 2, 1, 1, 3)
        # the window gives these its Cut out / Restore uncut actions (set_piece_actions)
        self.cutout_button, self.uncut_button = QToolButton(), QToolButton()
        cut_row = QHBoxLayout()
        cut_row.setContentsMargins(0, 0, 0, 0)
        for b in (self.cutout_button, self.uncut_button):
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            cut_row.addWidget(b)
        cut_row.addStretch(1)
        grid.addLayout(cut_row, 3, 1, 1, 3)
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

    def set_piece_actions(self, cut_out: QAction, uncut: QAction) -> None:
        """The window's Cut out subject / Restore uncut piece, as buttons shown for a selected piece."""
        cut_out.setIconText("Cut out subject")
        uncut.setIconText("Uncut")
        self.cutout_button.setDefaultAction(cut_out)
        self.uncut_button.setDefaultAction(uncut)
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
        piece = isinstance(layer, PieceLayer)
        controls = (self.blend_combo, self.role_combo, self.opacity_slider, self.opacity_spin,
                    self.identity_slider, self.identity_spin)
        for w in controls:
            w.setEnabled(has)
            w.blockSignals(True)
        for w in (self.identity_label, self.identity_slider, self.identity_spin, self.cutout_button,
                  self.uncut_button):
            w.setVisible(piece)
        if self.uncut_button.defaultAction() is not None:
            self.uncut_button.defaultAction().setEnabled(piece and layer.cutout is not None)
        try:
            if has:
                self.blend_combo.setCurrentIndex(max(0, self.blend_combo.findData(layer.blend)))
                self.role_combo.setCurrentIndex(max(0, self.role_combo.findData(layer.role)))
                v = round(layer.opacity * 100)
                self.opacity_slider.setValue(v)
                self.opacity_spin.setValue(v)
            if piece:
                v = round(layer.identity * 100)
                self.identity_slider.setValue(v)
                self.identity_spin.setValue(v)
        finally:
            for w in controls:
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


def _percent_pair(tip: str, changed) -> tuple[QSlider, QSpinBox, QHBoxLayout]:
    """A 0–100 % slider and spin box that follow each other; ``changed(value)`` once per change."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setToolTip(tip)
    spin = QSpinBox()
    spin.setRange(0, 100)
    spin.setSuffix(" %")
    spin.setKeyboardTracking(False)
    spin.setToolTip(tip)

    def follow(other, v: int) -> None:
        other.blockSignals(True)
        other.setValue(v)
        other.blockSignals(False)
        changed(v)

    slider.valueChanged.connect(lambda v: follow(spin, v))
    spin.valueChanged.connect(lambda v: follow(slider, v))
    row = QHBoxLayout()
    row.setSpacing(6)
    row.addWidget(slider, 1)
    row.addWidget(spin)
    return slider, spin, row
