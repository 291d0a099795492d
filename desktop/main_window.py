"""The painting window: the canvas view, the tools, the layers and history docks, files,
collage pieces by drop and paste, undo/redo, autosave and recovery, settings.

One window shows one document. Every change to the document goes through its command
stack (so undo, the unsaved mark and autosave see it); this module only wires widgets to
document operations. Dialogs are reached through small ``ask_*`` methods so tests can answer
them without a person.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QStandardPaths, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QColor, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QColorDialog,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSpinBox,
    QToolBar,
    QToolButton,
    QWidget,
)

from canvas import commands as C
from canvas.document import Document
from canvas.errors import CanvasError, ImageImportError
from canvas.geometry import Rect
from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Transform
from desktop.bridge import DocumentBridge
from desktop.dialogs.canvas_size import CanvasSizeDialog
from desktop.dialogs.help import ShortcutsDialog, show_about
from desktop.dialogs.recovery import RecoveryDialog
from desktop.icons import swatch_icon, tool_icon
from desktop.jobs import JobRunner
from desktop.notifier import Notifier
from desktop.panels.edit import EditPanel
from desktop.panels.history import HistoryPanel
from desktop.panels.layers import LayersPanel
from desktop.qimage import qimage_to_png_bytes, rgba_to_qimage
from desktop.settings import Settings
from desktop.tools import ANNOTATION_TOOLS, TOOL_CLASSES, MarkSelectTool, Tool, ToolOptions
from desktop.view.canvas_view import CanvasView
from inference.comfyui.servers import ServerStore

DEFAULT_SIZE = (1024, 768)
AUTOSAVE_MS = 60_000


def welcome_text(tools: dict) -> str:
    """What the blank starting canvas says (the red-pen keys read from the tools themselves)."""
    pen = ", ".join(f"{tools[n].shortcut} {tools[n].label.lower()}" for n in ("pen", "arrow", "ellipse"))
    return ("Drop a photo here, paste one (Ctrl+V) or open one (Ctrl+O).\n\n"
            f"Then paste collage pieces, mark with the red pen ({pen}), type an instruction "
            "and Run (Ctrl+Return). F1 lists every shortcut.")


OPEN_FILTER = ("Akapen documents and images (*.ora *.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif);;"
               "OpenRaster (*.ora);;Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif);;All files (*)")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
CASCADE = 24  # canvas pixels between pieces dropped or pasted together


def default_document(width: int = DEFAULT_SIZE[0], height: int = DEFAULT_SIZE[1], background: str = "white",
                     image: np.ndarray | None = None) -> Document:
    """A new document: a "Background" pixel layer (white, transparent or an image) and an
    empty "Marks" annotation layer for the red pen; no history, unmodified."""
    if image is not None:
        height, width = image.shape[:2]
        bg = PixelLayer(np.ascontiguousarray(image), 0, 0, "Background")
    else:
        pixels = np.zeros((height, width, 4), np.uint8)
        if background == "white":
            pixels[:] = 255
        bg = PixelLayer(pixels, 0, 0, "Background")
    return Document.assemble(width, height, [bg, AnnotationLayer([], "Marks")])


def recovery_folder_default() -> str:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return os.path.join(base or os.path.expanduser("~/.akapen"), "recovery")


class Banner(QLabel):
    """A non-modal message over the top of the canvas (errors and notices), hidden on click."""

    STYLES = {
        "error": "background: #fbe3e3; color: #5c0f0f; border: 1px solid #d98c8c;",
        "warning": "background: #fdf1d8; color: #5a3d00; border: 1px solid #d9b56a;",
        "info": "background: #e3eefb; color: #0f2f5c; border: 1px solid #8cb0d9;",
    }

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setMargin(8)
        self.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)

    def show_message(self, text: str, level: str, timeout_ms: int) -> None:
        self.setStyleSheet(f"QLabel {{ {self.STYLES.get(level, self.STYLES['info'])} border-radius: 5px; }}")
        self.setText(text)
        self.place()
        self.show()
        self.raise_()
        self._timer.start(max(1000, timeout_ms))

    def place(self) -> None:
        par = self.parentWidget()
        w = min(620, max(200, par.width() - 40))
        self.setFixedWidth(w)
        self.adjustSize()
        self.move((par.width() - w) // 2, 12)

    def mousePressEvent(self, event) -> None:
        self.hide()


class MainWindow(QMainWindow):
    def __init__(self, document: Document | None = None, path: str | None = None, *,
                 settings: Settings | None = None, notifier: Notifier | None = None,
                 recovery_folder: str | None = None, autosave_ms: int = AUTOSAVE_MS,
                 server_store: ServerStore | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.notifier = notifier or Notifier(self)
        self.options = ToolOptions(self)
        self.options.load(self.settings.tool_options())
        self.path: str | None = None
        self.bridge: DocumentBridge | None = None
        self._doc_key = uuid.uuid4().hex[:12]
        self._force_modified = False  # a restored snapshot is unsaved work
        self._copied: tuple[np.ndarray, Rect] | None = None  # this window's last Copy, and where from
        self._restored_entries: list = []
        self._edits = 0
        self._snapshot_edits = 0
        self._suggested_name = "Untitled"
        self.setDockNestingEnabled(True)
        self.setAcceptDrops(True)

        from canvas.recovery import RecoveryStore

        self.recovery = RecoveryStore(recovery_folder or recovery_folder_default())
        self.view = CanvasView(parent=self)
        self.view.dropped.connect(self.handle_drop)
        self.view.errorRaised.connect(self.notifier.error)
        self.view.cursorMoved.connect(self._cursor_moved)
        self.view.zoomChanged.connect(self._zoom_changed)
        self.setCentralWidget(self.view)
        self.banner = Banner(self.view)
        self.notifier.message.connect(self._show_message)

        doc = document if document is not None else default_document()
        welcome = document is None  # the blank starting canvas says what to do first
        self.bridge = DocumentBridge(doc, self)
        self.layers_panel = LayersPanel(self.bridge, self)
        self.history_panel = HistoryPanel(self.bridge, self)
        self.layers_panel.errorRaised.connect(self.notifier.error)
        self.history_panel.errorRaised.connect(self.notifier.error)
        from desktop.dialogs.model_settings import apply_model_settings

        apply_model_settings(self.settings.model_folders(), self.settings.memory_mode())
        from desktop.dialogs.server_settings import apply_server_settings

        # the ComfyUI servers file (tests pass one in a temporary folder)
        self.server_store = server_store if server_store is not None else ServerStore()
        apply_server_settings(self.server_store, self.notifier.error)
        self.runner = JobRunner(self)
        self.edit_panel = EditPanel(self.bridge, self.runner, self, result_saver=self._save_result)
        self.edit_panel.errorRaised.connect(self.notifier.error)
        self.edit_panel.statusMessage.connect(self.show_hint)
        self.edit_panel.previewChanged.connect(self.view.set_preview)

        self.tools: dict[str, Tool] = {cls.name: cls(self) for cls in TOOL_CLASSES}
        self._last_mark_tool = "arrow"
        self._build_actions()
        self._build_toolbars()
        self._build_docks()
        self._build_menus()
        self._build_statusbar()
        self.options.changed.connect(self._options_changed)

        self._autosave = QTimer(self)
        self._autosave.setInterval(autosave_ms)
        self._autosave.timeout.connect(self.autosave)
        self._autosave.start()

        self._attach(self.bridge, path)
        if welcome:
            self.view.welcome = welcome_text(self.tools)
        self.resize(1400, 900)
        geo, state = self.settings.window_geometry(), self.settings.window_state()
        if geo is not None:
            self.restoreGeometry(geo)
        if state is not None:
            self.restoreState(state)
        start_tool = self.settings.current_tool()
        self.set_tool(start_tool if start_tool in self.tools else "brush")
        if self.settings.problem:  # a damaged settings file never stops the window; it is said once
            self.notifier.info(self.settings.problem, 10000)

    # --- host interface for the tools ------------------------------------------------------
    def show_hint(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def ask_text(self, title: str, label: str, text: str = "") -> str | None:
        value, ok = QInputDialog.getMultiLineText(self, title, label, text)
        return value if ok else None

    # --- documents --------------------------------------------------------------------------------
    @property
    def document(self) -> Document:
        return self.bridge.document

    def is_modified(self) -> bool:
        return self.document.modified or self._force_modified

    def _attach(self, bridge: DocumentBridge, path: str | None) -> None:
        self.path = path
        self._suggested_name = Path(path).stem if path else "Untitled"
        bridge.modifiedChanged.connect(lambda _m: self._update_title())
        bridge.historyChanged.connect(self._history_changed)
        bridge.activeLayerChanged.connect(self._active_layer_changed)
        bridge.layersChanged.connect(self._update_actions)
        bridge.selectionChanged.connect(self._update_actions)
        bridge.canvasResized.connect(self._size_label_update)
        self.view.set_bridge(bridge)
        # start on the background layer: the brush paints, the red pen finds the marks layer
        pixel = next((lyr for lyr in reversed(bridge.document.layers) if isinstance(lyr, PixelLayer)), None)
        if pixel is not None:
            bridge.set_active(pixel.id)
        self._update_title()
        self._update_actions()
        self._size_label_update()

    def set_document(self, doc: Document, path: str | None = None, suggested_name: str | None = None) -> None:
        """Show ``doc`` in this window (File > New / Open); the old document is let go."""
        old = self.bridge
        if self.view.tool is not None:
            self.view.tool.cancel()
        if isinstance(self.tools.get("mark_select"), MarkSelectTool):
            self.tools["mark_select"].selected = None
        self.recovery.discard_document(self._doc_key)
        self.view.welcome = ""
        self._doc_key = uuid.uuid4().hex[:12]
        self._force_modified = False
        self._edits = self._snapshot_edits = 0
        self.bridge = DocumentBridge(doc, self)
        self.layers_panel.set_bridge(self.bridge)
        self.history_panel.set_bridge(self.bridge)
        self.edit_panel.set_bridge(self.bridge)
        self._attach(self.bridge, path)
        if suggested_name:
            self._suggested_name = suggested_name
            self._update_title()
        if old is not None:
            old.close()
            old.deleteLater()
        self.view.fit()
        self._active_layer_changed(self.bridge.active_id)

    def _update_title(self) -> None:
        name = Path(self.path).name if self.path else self._suggested_name
        self.setWindowTitle(f"{name}[*] — Akapen")
        self.setWindowModified(self.is_modified())

    def _history_changed(self) -> None:
        if self.view.welcome:  # the first change: the canvas is in use
            self.view.welcome = ""
            self.view.update()
        self._edits += 1
        self._update_actions()
        self._update_title()

    # --- actions ---------------------------------------------------------------------------------
    def _act(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list | tuple):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(lambda _checked=False: self._guard(slot))
        self.addAction(a)
        return a

    def _guard(self, slot) -> None:
        try:
            slot()
        except CanvasError as exc:
            self.notifier.error(str(exc))

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.new_action = self._act("&New…", self.new_document, K.New, "Start a new document")
        self.new_from_image_action = self._act("New from &image…", self.new_from_image, None,
                                               "Start a new document from an image file")
        self.open_action = self._act("&Open…", self.open_document, K.Open, "Open an .ora document or an image")
        self.save_action = self._act("&Save", self.save, K.Save, "Save the document (.ora)")
        self.save_as_action = self._act("Save &as…", self.save_as, "Ctrl+Shift+S", "Save under a new name")
        self.export_action = self._act("&Export image…", self.export, "Ctrl+E",
                                       "Write the composite of the content layers as PNG or JPEG")
        self.quit_action = self._act("&Quit", self.close, K.Quit)
        self.undo_action = self._act("&Undo", self.undo, K.Undo)
        self.redo_action = self._act("&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
        self.copy_action = self._act("&Copy", lambda: self.copy(merged=False), K.Copy,
                                     "Copy the active layer inside the selection (all of it without one)")
        self.copy_merged_action = self._act("Copy &merged", lambda: self.copy(merged=True), "Ctrl+Shift+C",
                                            "Copy the picture as you see it (content layers) inside the selection")
        self.paste_action = self._act("&Paste as piece", self.paste, K.Paste,
                                      "Paste the image on the clipboard as a collage piece in the middle of the view")
        self.select_all_action = self._act("Select &all", self.select_all, "Ctrl+A")
        self.select_none_action = self._act("Select &none", self.select_none, "Ctrl+Shift+A")
        self.invert_action = self._act("&Invert selection", self.invert_selection, "Ctrl+I")
        self.zoom_in_action = self._act("Zoom &in", self.view.zoom_in, ["Ctrl+=", "Ctrl++"])
        self.zoom_out_action = self._act("Zoom &out", self.view.zoom_out, "Ctrl+-")
        self.fit_action = self._act("&Fit in window", self.view.fit, "Ctrl+0")
        self.actual_action = self._act("&100 %", self.view.actual_size, "Ctrl+1")
        self.flip_h_action = self._act("Flip piece &horizontally", lambda: self.flip_piece("h"), None,
                                       "Mirror the active collage piece left to right")
        self.flip_v_action = self._act("Flip piece &vertically", lambda: self.flip_piece("v"), None,
                                       "Mirror the active collage piece top to bottom")
        self.reset_tf_action = self._act("&Reset piece transform", self.reset_piece, None,
                                         "Undo the scale, rotation and flips of the active piece")
        self.smaller_action = self._act("Smaller brush", lambda: self._resize_brush(1 / 1.25), "[")
        self.bigger_action = self._act("Bigger brush", lambda: self._resize_brush(1.25), "]")
        self.piece_from_selection_action = self._act(
            "New &piece from selection", self.piece_from_selection, "Ctrl+J",
            "Copy the selected part of the active layer into a collage piece on top of it, ready to move")
        self.canvas_size_action = self._act("Canvas &size…", self.canvas_size, "Ctrl+Alt+C",
                                            "Change the canvas size; the picture stays where you anchor it")
        self.crop_action = self._act("&Crop to selection", self.crop_to_selection, None,
                                     "Make the canvas the selection's bounding box")
        self.shortcuts_action = self._act("&Keyboard shortcuts", self.show_shortcuts, ["F1", "Ctrl+/"],
                                          "Every shortcut and mouse gesture, searchable")
        self.about_action = self._act("&About Akapen", lambda: show_about(self), None)
        self.delete_mark_action = self._act("Delete selected mark", self.delete_mark, None,
                                            "Delete the mark picked with the mark-select tool (or press Delete)")
        self.tool_group = QActionGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_actions: dict[str, QAction] = {}
        for name, tool in self.tools.items():
            a = QAction(tool_icon(name), tool.label, self)
            a.setCheckable(True)
            a.setShortcut(QKeySequence(tool.shortcut))
            a.setToolTip(f"{tool.label} ({tool.shortcut})\n{tool.tip}")
            a.setStatusTip(tool.tip)
            a.triggered.connect(lambda _c=False, n=name: self.set_tool(n))
            self.tool_group.addAction(a)
            self.addAction(a)
            self.tool_actions[name] = a
        self.recent_actions: list[QAction] = []

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.new_action, self.new_from_image_action, self.open_action):
            m.addAction(a)
        self.recent_menu = m.addMenu("Open &recent")
        self._rebuild_recent_menu()
        m.addSeparator()
        for a in (self.save_action, self.save_as_action, self.export_action):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.quit_action)
        m = mb.addMenu("&Edit")
        for a in (self.undo_action, self.redo_action):
            m.addAction(a)
        m.addSeparator()
        for a in (self.copy_action, self.copy_merged_action, self.paste_action):
            m.addAction(a)
        m.addAction(self.delete_mark_action)
        m.addSeparator()
        for a in (self.select_all_action, self.select_none_action, self.invert_action):
            m.addAction(a)
        m.addSeparator()
        self.models_action = m.addAction("&Models…")
        self.models_action.setToolTip("Folders with editing models, and the memory mode")
        self.models_action.triggered.connect(lambda _checked=False: self.edit_model_settings())
        self.servers_action = m.addAction("&Servers…")
        self.servers_action.setToolTip("ComfyUI servers that run edits, on this computer or elsewhere")
        self.servers_action.triggered.connect(lambda _checked=False: self.edit_server_settings())
        m = mb.addMenu("&View")
        for a in (self.zoom_in_action, self.zoom_out_action, self.fit_action, self.actual_action):
            m.addAction(a)
        m.addSeparator()
        for dock in (self.layers_dock, self.history_dock, self.edit_dock):
            m.addAction(dock.toggleViewAction())
        m = mb.addMenu("&Image")
        m.addAction(self.canvas_size_action)
        m.addAction(self.crop_action)
        m = mb.addMenu("&Layer")
        for name in ("add_pixel", "add_annotation", "duplicate", "delete", "move_up", "move_down",
                     "merge_down", "flatten", "rename"):
            a = self.layers_panel.actions_by_name.get(name)
            if a is not None:
                m.addAction(a)
        m.addSeparator()
        m.addAction(self.piece_from_selection_action)
        for a in (self.flip_h_action, self.flip_v_action, self.reset_tf_action):
            m.addAction(a)
        m = mb.addMenu("&Tools")
        for name, a in self.tool_actions.items():
            m.addAction(a)
            if name in ("eraser", "text", "mark_select", "lasso"):
                m.addSeparator()
        m.addSeparator()
        m.addAction(self.smaller_action)
        m.addAction(self.bigger_action)
        m = mb.addMenu("&Help")
        m.addAction(self.shortcuts_action)
        m.addAction(self.about_action)

    def _build_toolbars(self) -> None:
        tb = QToolBar("Tools", self)
        tb.setObjectName("tools_toolbar")
        tb.setOrientation(Qt.Orientation.Vertical)
        tb.setMovable(False)
        from PySide6.QtCore import QSize

        tb.setIconSize(QSize(24, 24))
        for name, a in self.tool_actions.items():
            tb.addAction(a)
            if name in ("eraser", "text", "mark_select", "lasso"):
                tb.addSeparator()
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, tb)
        self.tools_toolbar = tb

        ob = QToolBar("Tool options", self)
        ob.setObjectName("options_toolbar")
        ob.setMovable(False)
        self.options_toolbar = ob

        def label(text: str) -> QLabel:
            lb = QLabel(text)
            lb.setContentsMargins(8, 0, 4, 0)
            return lb

        self.brush_title = ob.addWidget(label("<b>Brush</b>"))
        self.size_spin = QSpinBox()
        self.size_spin.setRange(1, 1000)
        self.size_spin.setSuffix(" px")
        self.size_spin.setToolTip("Brush size ([ and ] change it)")
        self.hardness_spin = QSpinBox()
        self.hardness_spin.setRange(0, 100)
        self.hardness_spin.setSuffix(" %")
        self.hardness_spin.setToolTip("Hardness: 0 % soft edge, 100 % hard edge")
        self.opacity_spin = QSpinBox()
        self.opacity_spin.setRange(1, 100)
        self.opacity_spin.setSuffix(" %")
        self.opacity_spin.setToolTip("Brush opacity")
        self.brush_color_button = QToolButton()
        self.brush_color_button.setToolTip("Brush colour")
        self.brush_color_button.clicked.connect(self.choose_brush_color)
        self.brush_widgets = [self.brush_title]
        for text, w in (("Size", self.size_spin), ("Hardness", self.hardness_spin),
                        ("Opacity", self.opacity_spin), ("Colour", self.brush_color_button)):
            self.brush_widgets.append(ob.addWidget(label(text)))
            self.brush_widgets.append(ob.addWidget(w))
        self.brush_sep = ob.addSeparator()
        self.pen_title = ob.addWidget(label("<b>Red pen</b>"))
        self.mark_color_button = QToolButton()
        self.mark_color_button.setToolTip("Colour of new marks (and of the selected mark)")
        self.mark_color_button.clicked.connect(self.choose_mark_color)
        self.mark_width_spin = QDoubleSpinBox()
        self.mark_width_spin.setRange(1, 200)
        self.mark_width_spin.setDecimals(1)
        self.mark_width_spin.setSuffix(" px")
        self.mark_width_spin.setToolTip("Line width of new marks")
        self.text_size_spin = QSpinBox()
        self.text_size_spin.setRange(6, 400)
        self.text_size_spin.setSuffix(" px")
        self.text_size_spin.setToolTip("Size of new text labels")
        self.pen_widgets = [self.pen_title]
        for text, w in (("Colour", self.mark_color_button), ("Width", self.mark_width_spin),
                        ("Text", self.text_size_spin)):
            self.pen_widgets.append(ob.addWidget(label(text)))
            self.pen_widgets.append(ob.addWidget(w))
        self.piece_sep = ob.addSeparator()
        self.piece_widgets = [self.piece_sep, ob.addWidget(label("<b>Piece</b>"))]
        for a, text in ((self.flip_h_action, "Flip ↔"), (self.flip_v_action, "Flip ↕"), (self.reset_tf_action, "Reset")):
            a.setIconText(text)
            btn = QToolButton()
            btn.setDefaultAction(a)
            btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self.piece_widgets.append(ob.addWidget(btn))
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, ob)
        self._sync_option_widgets()
        self.size_spin.valueChanged.connect(lambda v: self.options.set(brush_size=v))
        self.hardness_spin.valueChanged.connect(lambda v: self.options.set(brush_hardness=v / 100))
        self.opacity_spin.valueChanged.connect(lambda v: self.options.set(brush_opacity=v / 100))
        self.mark_width_spin.valueChanged.connect(lambda v: self.options.set(mark_width=v))
        self.text_size_spin.valueChanged.connect(lambda v: self.options.set(text_size=v))

    def _sync_option_widgets(self) -> None:
        o = self.options
        for w, v in ((self.size_spin, round(o.brush_size)), (self.hardness_spin, round(o.brush_hardness * 100)),
                     (self.opacity_spin, round(o.brush_opacity * 100)), (self.mark_width_spin, o.mark_width),
                     (self.text_size_spin, round(o.text_size))):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self.brush_color_button.setIcon(swatch_icon((*o.brush_color, 255)))
        self.mark_color_button.setIcon(swatch_icon(o.mark_color))

    def _options_changed(self) -> None:
        self._sync_option_widgets()
        self.settings.set_tool_options(self.options.to_dict())
        if self.view.tool is not None:
            self.view.tool.options_changed()

    def _build_docks(self) -> None:
        def dock(title: str, name: str, widget: QWidget, area) -> QDockWidget:
            d = QDockWidget(title, self)
            d.setObjectName(name)
            d.setWidget(widget)
            self.addDockWidget(area, d)
            return d

        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.layers_dock = dock("Layers", "layers_dock", self.layers_panel, right)
        self.history_dock = dock("History", "history_dock", self.history_panel, right)
        scroll = QScrollArea()
        scroll.setWidget(self.edit_panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.edit_dock = dock("Edit", "edit_dock", scroll, right)
        # the edit panel is its own column beside the layers and history
        self.splitDockWidget(self.edit_dock, self.layers_dock, Qt.Orientation.Horizontal)
        self.splitDockWidget(self.layers_dock, self.history_dock, Qt.Orientation.Vertical)
        self.resizeDocks([self.layers_dock, self.history_dock], [520, 220], Qt.Orientation.Vertical)
        self.resizeDocks([self.edit_dock, self.layers_dock], [330, 300], Qt.Orientation.Horizontal)

    def _build_statusbar(self) -> None:
        sb = self.statusBar()
        self.pos_label = QLabel("")
        self.size_label = QLabel("")
        self.zoom_label = QLabel("")
        for w in (self.pos_label, self.size_label, self.zoom_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)
        self.pos_label.setMinimumWidth(110)

    # --- status bar -----------------------------------------------------------------------------
    def _cursor_moved(self, p) -> None:
        if p is None:
            self.pos_label.setText("")
            return
        self.pos_label.setText(f"{int(np.floor(p.x()))}, {int(np.floor(p.y()))} px")

    def _zoom_changed(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f} %" if zoom >= 0.1 else f"{zoom * 100:.1f} %")

    def _size_label_update(self) -> None:
        d = self.document
        self.size_label.setText(f"{d.width} × {d.height} px")
        self._zoom_changed(self.view.zoom())

    def _show_message(self, text: str, level: str, timeout: int) -> None:
        self.banner.show_message(text, level, timeout)
        self.statusBar().showMessage(text, timeout)

    # --- tools -------------------------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        tool = self.tools[name]
        self.tool_actions[name].setChecked(True)
        if self.view.tool is not tool:
            self.view.set_tool(tool)
        if name in ANNOTATION_TOOLS:
            self._last_mark_tool = name
        self.settings.set_current_tool(name)
        brushy = name in ("brush", "eraser", "eyedropper")
        markish = name in ANNOTATION_TOOLS or name == "mark_select"
        for a in self.brush_widgets:
            a.setVisible(brushy)
        self.brush_sep.setVisible(brushy and markish)
        for a in self.pen_widgets:
            a.setVisible(markish)
        for a in self.piece_widgets:
            a.setVisible(name == "move")
        self.show_hint(tool.tip)

    def _active_layer_changed(self, _layer_id: str) -> None:
        """Selecting a layer picks a tool that works on it (brush for pixels, move for pieces,
        the last red-pen tool for marks) when the current tool does not."""
        self._update_actions()
        layer = self.bridge.active_layer()
        tool = self.view.tool
        if layer is None or tool is None or tool.accepts(layer):
            return
        if isinstance(layer, PieceLayer):
            self.set_tool("move")
        elif isinstance(layer, PixelLayer):
            self.set_tool("brush")
        elif isinstance(layer, AnnotationLayer):
            self.set_tool(self._last_mark_tool)

    def _update_actions(self) -> None:
        doc = self.document
        h = doc.history
        self.undo_action.setEnabled(h.can_undo)
        self.redo_action.setEnabled(h.can_redo)
        self.undo_action.setText(f"&Undo {h.undo_label}" if h.can_undo else "&Undo")
        self.redo_action.setText(f"&Redo {h.redo_label}" if h.can_redo else "&Redo")
        piece = isinstance(self.bridge.active_layer(), PieceLayer)
        for a in (self.flip_h_action, self.flip_v_action, self.reset_tf_action):
            a.setEnabled(piece)
        self.select_none_action.setEnabled(doc.selection is not None)
        self.crop_action.setEnabled(doc.selection is not None)
        self.invert_action.setEnabled(True)

    def _resize_brush(self, factor: float) -> None:
        self.options.set(brush_size=max(1, round(self.options.brush_size * factor)))

    def choose_brush_color(self) -> None:
        c = self.ask_color(QColor(*self.options.brush_color), "Brush colour")
        if c is not None:
            self.options.set(brush_color=(c.red(), c.green(), c.blue()))

    def choose_mark_color(self) -> None:
        c = self.ask_color(QColor(*self.options.mark_color), "Red-pen colour")
        if c is not None:
            rgba = (c.red(), c.green(), c.blue(), c.alpha())
            self.options.set(mark_color=rgba)
            tool = self.view.tool
            if isinstance(tool, MarkSelectTool):
                tool.recolor(rgba)

    def ask_color(self, initial: QColor, title: str) -> QColor | None:
        c = QColorDialog.getColor(initial, self, title, QColorDialog.ColorDialogOption.ShowAlphaChannel)
        return c if c.isValid() else None

    def delete_mark(self) -> None:
        tool = self.tools["mark_select"]
        if not tool.delete_selected():
            self.show_hint("Pick a mark with the mark-select tool (S) first.")

    # --- undo / selection ----------------------------------------------------------------------
    def undo(self) -> None:
        if self.view.tool is not None:
            self.view.tool.cancel()
        self.document.undo()

    def redo(self) -> None:
        if self.view.tool is not None:
            self.view.tool.cancel()
        self.document.redo()

    def select_all(self) -> None:
        d = self.document
        self.document.set_selection(np.full((d.height, d.width), 255, np.uint8), "Select all")

    def select_none(self) -> None:
        self.document.set_selection(None, "Select none")

    def invert_selection(self) -> None:
        d = self.document
        mask = d.selection_mask() if d.selection is not None else np.zeros((d.height, d.width), np.uint8)
        d.set_selection(255 - mask, "Invert selection")

    # --- pieces ----------------------------------------------------------------------------------
    def active_piece(self) -> PieceLayer | None:
        layer = self.bridge.active_layer()
        return layer if isinstance(layer, PieceLayer) else None

    def flip_piece(self, axis: str) -> None:
        piece = self.active_piece()
        if piece is None:
            self.show_hint("Select a collage piece to flip it.")
            return
        tf = piece.transform
        new = Transform(tf.cx, tf.cy, tf.sx, tf.sy, tf.rotation,
                        (not tf.flip_h) if axis == "h" else tf.flip_h, (not tf.flip_v) if axis == "v" else tf.flip_v)
        self.document.set_transform(piece.id, new, label="Flip")

    def reset_piece(self) -> None:
        piece = self.active_piece()
        if piece is None:
            self.show_hint("Select a collage piece to reset its transform.")
            return
        self.document.reset_transform(piece.id)

    def _insert_index(self) -> int:
        active = self.bridge.active_layer()
        doc = self.document
        if active is None:
            return len(doc.layers)
        return doc.index_of(active.id) + 1

    def add_pieces(self, images: list[tuple[np.ndarray, str]], centre: QPointF) -> list[PieceLayer]:
        """Add images as collage pieces centred at canvas ``centre`` (cascaded), one undo step."""
        if not images:
            return []
        doc = self.document
        index = self._insert_index()
        pieces = []
        for i, (pixels, name) in enumerate(images):
            cx, cy = centre.x() + i * CASCADE, centre.y() + i * CASCADE
            pieces.append(PieceLayer(pixels, Transform(cx=cx, cy=cy), name))
        if len(pieces) == 1:
            doc.add_layer(pieces[0], index)
        else:
            doc.execute(C.Macro([C.AddLayer(p, index + i) for i, p in enumerate(pieces)],
                                f"Add {len(pieces)} pieces"))
            self.bridge.set_active(pieces[-1].id)
        return pieces

    @staticmethod
    def load_image(source, name: str | None = None) -> np.ndarray:
        """The one safe import path (canvas.imageio)."""
        from canvas.imageio import load_image

        return load_image(source, name=name)

    def handle_drop(self, mime, pos: QPointF) -> None:
        """Dropped files become pieces at ``pos`` (an .ora opens instead); bad files are named."""
        images: list[tuple[np.ndarray, str]] = []
        errors: list[str] = []
        ora: str | None = None
        if mime.hasUrls():
            for url in mime.urls():
                if not url.isLocalFile():
                    errors.append(f"{url.toString()}: only files on this computer can be dropped")
                    continue
                path = url.toLocalFile()
                if path.lower().endswith(".ora"):
                    ora = ora or path
                    continue
                try:
                    images.append((self.load_image(path), Path(path).stem))
                except CanvasError as exc:
                    errors.append(str(exc))
                except OSError as exc:
                    errors.append(f"{path}: cannot be read ({exc.strerror or exc})")
        elif mime.hasImage():
            try:
                images.append((self._image_from_mime(mime), "Dropped image"))
            except CanvasError as exc:
                errors.append(str(exc))
        if errors:
            self.notifier.error("\n".join(errors))
        if images:
            self._guard(lambda: self.add_pieces(images, pos))
        if ora is not None and not images:
            self.open_path(ora)

    def _image_from_mime(self, mime) -> np.ndarray:
        for fmt in ("image/png", "application/x-qt-image"):
            if fmt == "image/png" and mime.hasFormat(fmt):
                data = bytes(mime.data(fmt).data())
                if data:
                    return self.load_image(data, name="the pasted image")
        img = mime.imageData()
        if img is None or img.isNull():
            raise ImageImportError("the clipboard holds no image")
        return self.load_image(qimage_to_png_bytes(img), name="the pasted image")

    def canvas_size(self) -> None:
        dlg = CanvasSizeDialog(self.document.size, self)
        if dlg.exec() == CanvasSizeDialog.DialogCode.Accepted:
            self.document.resize_canvas(*dlg.values())

    def piece_from_selection(self) -> None:
        """The active layer inside the selection (all of it without one) as a new collage piece
        in the same place: the picture looks the same until the piece is moved."""
        active = self.bridge.active_layer()
        if active is None:
            self.show_hint("Pick the layer to take the piece from in the Layers panel.")
            return
        pixels, rect = self.document.copy_pixels(active.id)  # CanvasError: said by _guard
        name = f"Piece of {active.name}"
        piece = PieceLayer(pixels, Transform(cx=rect.x + rect.w / 2, cy=rect.y + rect.h / 2), name)
        self.document.add_layer(piece, self._insert_index())
        self.set_tool("move")
        self.show_hint(f"“{name}”: drag it to move it, its corners and edges to scale it.")

    def crop_to_selection(self) -> None:
        self.document.crop_to_selection()

    def show_shortcuts(self) -> None:
        dlg = ShortcutsDialog(self)
        dlg.open()  # not modal to the work: it can stay open beside the canvas
        self._shortcuts_dialog = dlg

    def copy(self, merged: bool = False) -> None:
        """The active layer's pixels (or the picture, ``merged``) inside the selection, to the
        clipboard as an image with its transparency."""
        layer_id = None if merged else self.bridge.active_id
        if layer_id is None and not merged:
            self.show_hint("No layer to copy: pick one in the Layers panel, or use Copy merged.")
            return
        pixels, rect = self.document.copy_pixels(layer_id)  # CanvasError: said by _guard
        QApplication.clipboard().setImage(rgba_to_qimage(pixels, premultiply=False))
        self._copied = (pixels, rect)
        what = "the picture" if merged else f"“{self.document.layer(layer_id).name}”"
        self.show_hint(f"Copied {rect.w}×{rect.h} px of {what}.")

    def _paste_place(self, pixels: np.ndarray) -> QPointF:
        """Where a pasted image goes: back where it was copied from (this window's own copy,
        unchanged on the clipboard), else the middle of the view."""
        copied = self._copied
        if copied is not None and copied[0].shape == pixels.shape and np.array_equal(copied[0], pixels):
            r = copied[1]
            return QPointF(r.x + r.w / 2, r.y + r.h / 2)
        return self.view.centre_canvas_point()

    def paste(self) -> None:
        """Clipboard image (or image files) as pieces centred in the view (a copy from this
        window goes back where it came from)."""
        mime = QApplication.clipboard().mimeData()
        centre = self.view.centre_canvas_point()
        if mime is None:
            self.show_hint("The clipboard is empty.")
            return
        if mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()):
            self.handle_drop(mime, centre)
            return
        if mime.hasImage() or mime.hasFormat("image/png"):
            try:
                pixels = self._image_from_mime(mime)
            except CanvasError as exc:
                self.notifier.error(str(exc))
                return
            self.add_pieces([(pixels, "Pasted")], self._paste_place(pixels))
            return
        self.show_hint("The clipboard holds no image to paste.")

    # --- files --------------------------------------------------------------------------------------
    def ask_unsaved(self) -> str:
        """"save", "discard" or "cancel" for unsaved changes."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved changes")
        name = Path(self.path).name if self.path else self._suggested_name
        box.setText(f"“{name}” has unsaved changes.")
        box.setInformativeText("Save them before closing?")
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        r = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(r), "cancel")

    def ask_open_path(self, title: str = "Open", filter: str = OPEN_FILTER) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, title, self.settings.last_folder(), filter)
        return path or None

    def ask_save_path(self, title: str, suggested: str, filter: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, filter)
        return path or None

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded or unchanged)."""
        if not self.is_modified():
            return True
        answer = self.ask_unsaved()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_document(self) -> None:
        from desktop.dialogs.new_document import NewDocumentDialog

        if not self.maybe_save():
            return
        dlg = NewDocumentDialog(self, size=(self.document.width, self.document.height))
        if not dlg.exec():
            return
        image_path = dlg.result_image_path()
        if image_path:
            self._new_from_path(image_path)
            return
        w, h = dlg.result_size()
        self.set_document(default_document(w, h, dlg.result_background()))

    def new_from_image(self) -> None:
        if not self.maybe_save():
            return
        path = self.ask_open_path("New from image", "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif)")
        if path:
            self._new_from_path(path)

    def _new_from_path(self, path: str) -> bool:
        try:
            pixels = self.load_image(path)
            doc = default_document(image=pixels)
        except CanvasError as exc:
            self.notifier.error(str(exc))
            return False
        self.set_document(doc, None, suggested_name=Path(path).stem)
        self.settings.set_last_folder(str(Path(path).parent))
        return True

    def open_document(self) -> None:
        path = self.ask_open_path()
        if path:
            self.open_path(path)

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Open an .ora (as the document) or an image (a new document around it)."""
        if ask and not self.maybe_save():
            return False
        p = Path(path)
        if not p.exists():
            self.notifier.error(f"{path}: no such file")
            self.settings.remove_recent_file(path)
            self._rebuild_recent_menu()
            return False
        if p.suffix.lower() != ".ora":
            ok = self._new_from_path(path)
            if ok:
                self._add_recent(path)
            return ok
        from canvas.ora import load_ora

        try:
            doc = load_ora(p)
        except CanvasError as exc:
            self.notifier.error(str(exc))
            return False
        self.set_document(doc, str(p))
        self._add_recent(str(p))
        return True

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        folder = str(Path(self.path).parent) if self.path else self.settings.last_folder()
        suggested = os.path.join(folder, (Path(self.path).stem if self.path else self._suggested_name) + ".ora")
        path = self.ask_save_path("Save as", suggested, "OpenRaster (*.ora)")
        if not path:
            return False
        if not path.lower().endswith(".ora"):
            path += ".ora"
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        from canvas.ora import save_ora

        try:
            save_ora(self.document, path)
        except CanvasError as exc:
            self.notifier.error(str(exc))
            return False
        self.path = str(path)
        self._suggested_name = Path(path).stem
        self._force_modified = False
        self.document.mark_clean()
        self.recovery.discard_document(self._doc_key)
        self._discard_restored()
        self._snapshot_edits = self._edits
        self._add_recent(self.path)
        self._update_title()
        self.show_hint(f"Saved {path}")
        return True

    def export(self) -> bool:
        base = Path(self.path).stem if self.path else self._suggested_name
        folder = str(Path(self.path).parent) if self.path else self.settings.last_folder()
        path = self.ask_save_path("Export image", os.path.join(folder, base + ".png"),
                                  "PNG (*.png);;JPEG (*.jpg *.jpeg)")
        if not path:
            return False
        if Path(path).suffix.lower() not in (".png", ".jpg", ".jpeg"):
            path += ".png"
        from canvas.imageio import export_image

        try:
            export_image(path, self.document.render())
        except CanvasError as exc:
            self.notifier.error(str(exc))
            return False
        self.show_hint(f"Exported {path}")
        return True

    def _add_recent(self, path: str) -> None:
        self.settings.add_recent_file(path)
        self.settings.set_last_folder(str(Path(path).parent))
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        if not hasattr(self, "recent_menu"):
            return
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for i, f in enumerate(files):
            a = self.recent_menu.addAction(f"&{i + 1} {Path(f).name}")
            a.setToolTip(f)
            a.setStatusTip(f)
            a.triggered.connect(lambda _c=False, p=f: self.open_path(p))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)
        else:
            a = self.recent_menu.addAction("(none yet)")
            a.setEnabled(False)

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._rebuild_recent_menu()

    # --- autosave and recovery ----------------------------------------------------------------
    def autosave(self):
        """Write a recovery snapshot if there are unsaved changes since the last one."""
        if not self.is_modified() or self._edits == self._snapshot_edits:
            return None
        self._snapshot_edits = self._edits
        try:
            fut = self.recovery.snapshot(self.document, source_path=self.path,
                                         title=Path(self.path).name if self.path else self._suggested_name,
                                         key=self._doc_key)
        except CanvasError as exc:
            self.notifier.error(str(exc))
            return None

        def done(f) -> None:
            exc = f.exception()
            if exc is not None:
                self.notifier.exception(exc, "writing the recovery snapshot")

        fut.add_done_callback(done)
        return fut

    def ask_recovery(self, entries) -> str:
        dlg = RecoveryDialog(entries, self)
        dlg.exec()
        return dlg.choice()

    def check_recovery(self) -> bool:
        """At start: offer snapshots left by an earlier run. True when one was restored."""
        entries = self.recovery.list(other_sessions_only=True)
        if self.recovery.problems:
            more = len(self.recovery.problems) - 1
            self.notifier.info(self.recovery.problems[0] + (f" (and {more} more)" if more else ""), 10000)
        if not entries:
            return False
        choice = self.ask_recovery(entries)
        if choice == "discard":
            for e in entries:
                self.recovery.discard(e)
            return False
        if choice != "restore":
            return False
        entry = entries[0]
        try:
            doc = self.recovery.restore(entry)
        except CanvasError as exc:
            self.notifier.error(str(exc))
            return False
        source = entry.source_path if entry.source_path and entry.source_path.lower().endswith(".ora") else None
        self.set_document(doc, source, suggested_name=Path(entry.title).stem if not source else None)
        self._force_modified = True
        self._restored_entries = list(entries)
        self._edits += 1  # the restored state is worth a snapshot of this session
        self._update_title()
        self.notifier.info(f"Restored unsaved work on “{entry.title}” from {entry.when}. Save it to keep it.")
        return True

    def _discard_restored(self) -> None:
        for e in self._restored_entries:
            self.recovery.discard(e)
        self._restored_entries = []

    def edit_model_settings(self, dialog=None) -> bool:
        """Edit > Models…: model folders and memory mode; the edit panel re-lists backends."""
        from desktop.dialogs.model_settings import ModelSettingsDialog, apply_model_settings

        dlg = dialog or ModelSettingsDialog(self.settings.model_folders(), self.settings.memory_mode(), self)
        if dialog is None and dlg.exec() != ModelSettingsDialog.DialogCode.Accepted:
            return False
        self.settings.set_model_folders(dlg.result_folders())
        self.settings.set_memory_mode(dlg.result_memory_mode())
        apply_model_settings(dlg.result_folders(), dlg.result_memory_mode())
        self.edit_panel.refresh_backends()
        self.edit_panel._update_state()
        return True

    def edit_server_settings(self, dialog=None) -> bool:
        """Edit > Servers…: the ComfyUI servers; the edit panel re-lists backends."""
        from desktop.dialogs.server_settings import ServersDialog

        if dialog is None:
            dlg = ServersDialog(self.server_store, self)
            if dlg.exec() != ServersDialog.DialogCode.Accepted:
                return False
            # accepting saved the list and handed it to the backends
        elif not dialog.apply():
            return False
        self.edit_panel.refresh_backends()
        self.edit_panel._update_state()
        return True

    def _save_result(self, request, result) -> None:
        """Every edit result goes to the recovery folder before it is shown (crash-proof)."""
        from desktop.headless.edit_request import provenance

        x, y, _, _ = result.rect
        for i, image in enumerate(result.images):
            self.recovery.save_result(image, (request.origin[0] + x, request.origin[1] + y),
                                      {"document": self._suggested_name, **provenance(request, result, i)})

    # --- window events ----------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.set_tool_options(self.options.to_dict())
        self.settings.sync()
        self._autosave.stop()
        self.runner.shutdown()  # cancels a running edit; its result is dropped
        # a clean close: the snapshots of this session (and restored ones) are not needed
        self.recovery.discard()
        self._discard_restored()
        self.recovery.close()
        if self.bridge is not None:
            self.bridge.close()
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.banner.isVisible():
            self.banner.place()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        # dropped outside the canvas widget (on a toolbar, say): place at the view centre
        self.handle_drop(event.mimeData(), self.view.centre_canvas_point())
        event.acceptProposedAction()


def file_url(path: str) -> QUrl:
    return QUrl.fromLocalFile(os.path.abspath(path))
