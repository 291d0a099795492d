"""The painting window, as an assembly: the canvas view in the middle, the tools and their
options in toolbars, the layers, history and edit panels in docks, the menus, the status bar
and the banner; and the controllers that do what the window does to its document (``files``,
``recovery``, ``clipboard``, ``pieces``, ``selection``, ``tool_options``, ``backends``).

One window shows one document. Every change to the document goes through its command stack
(so undo, the unsaved mark and autosave see it); the window itself only switches documents and
tools and keeps its actions and title up to date. The tools reach it as their host
(``options``, ``show_hint``, ``ask_text``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QInputDialog, QMainWindow

from canvas.document import Document
from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer
from desktop import heap
from desktop.bridge import DocumentBridge
from desktop.controllers.backends import BackendsController
from desktop.controllers.clipboard import ClipboardController
from desktop.controllers.files import FileController, default_document
from desktop.controllers.models import ModelsController
from desktop.controllers.pieces import CUT_OUT_TIP, NO_CUT_TIP, PiecesController
from desktop.controllers.recovery import AUTOSAVE_MS, RecoveryController
from desktop.controllers.selection import SelectionController
from desktop.controllers.tool_options import ToolOptionsController
from desktop.controllers.training import TrainingController
from desktop.dialogs.help import ShortcutsDialog
from desktop.jobs import JobRunner
from desktop.notifier import Notifier
from desktop.panels.edit import EditPanel
from desktop.panels.history import HistoryPanel
from desktop.panels.layers import LayersPanel
from desktop.panels.training import TrainingPanel
from desktop.settings import Settings
from desktop.tools import ANNOTATION_TOOLS, TOOL_CLASSES, MarkSelectTool, Tool, ToolOptions
from desktop.view.canvas_view import CanvasView
from desktop.window.actions import build_actions
from desktop.window.banner import Banner
from desktop.window.docks import build_docks
from desktop.window.menus import build_menus
from desktop.window.status_bar import StatusReadout
from desktop.window.toolbars import ToolOptionsBar, build_tools_toolbar
from inference.comfyui.servers import ServerStore


def welcome_text(tools: dict) -> str:
    """What the blank starting canvas says (the red-pen keys read from the tools themselves)."""
    pen = ", ".join(f"{tools[n].shortcut} {tools[n].label.lower()}" for n in ("pen", "arrow", "ellipse"))
    return ("Drop a photo here, paste one (Ctrl+V) or open one (Ctrl+O).\n\n"
            f"Then paste collage pieces, mark with the red pen ({pen}), type an instruction "
            "and Run (Ctrl+Return). F1 lists every shortcut.")


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
        self.bridge: DocumentBridge | None = None
        self.files = FileController(self)
        self.clipboard = ClipboardController(self)
        self.pieces = PiecesController(self)
        self.selection = SelectionController(self)
        self.tool_options = ToolOptionsController(self)
        self.backends = BackendsController(self)
        self.setDockNestingEnabled(True)
        self.setAcceptDrops(True)

        self.recovery = RecoveryController(self, recovery_folder)
        self.view = CanvasView(parent=self)
        self.view.dropped.connect(self.clipboard.handle_drop)
        self.view.errorRaised.connect(self.notifier.error)
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
        self.backends.apply_model_settings()
        # the ComfyUI servers file (tests pass one in a temporary folder)
        self.server_store = server_store if server_store is not None else ServerStore()
        self.backends.apply_server_settings()
        self.runner = JobRunner(self)
        self.edit_panel = EditPanel(self.bridge, self.runner, self, result_saver=self.recovery.save_result,
                                    settings=self.settings)
        self.edit_panel.errorRaised.connect(self.notifier.error)
        self.edit_panel.statusMessage.connect(self.show_hint)
        self.edit_panel.previewChanged.connect(self.view.set_preview)
        self.training_panel = TrainingPanel(self.bridge, self)  # its own job runner: edits go on beside it
        self.training = TrainingController(self)
        self.models = ModelsController(self)  # Edit › Models…, Get model…, the download queue

        self.tools: dict[str, Tool] = {cls.name: cls(self) for cls in TOOL_CLASSES}
        self._last_mark_tool = "arrow"
        build_actions(self)
        self.layers_panel.set_piece_actions(self.cut_out_action, self.uncut_action)
        self.edit_panel.cutOutRequested.connect(self.pieces.cut_out_pieces)
        self.tools_toolbar = build_tools_toolbar(self)
        self.options_toolbar = ToolOptionsBar(self.options, (self.flip_h_action, self.flip_v_action,
                                                             self.reset_tf_action, self.cut_out_action,
                                                             self.uncut_action), self)
        self.options_toolbar.brush_color_button.clicked.connect(self.tool_options.choose_brush_color)
        self.options_toolbar.mark_color_button.clicked.connect(self.tool_options.choose_mark_color)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.options_toolbar)
        build_docks(self)
        build_menus(self)
        self.training.connect()
        self.models.attach()
        self.readout = StatusReadout(self.statusBar())
        self.view.cursorMoved.connect(self.readout.show_cursor)
        self.view.zoomChanged.connect(self.readout.show_zoom)
        self.options.changed.connect(self.tool_options.options_changed)

        self.recovery.start_autosave(autosave_ms)
        for runner in (self.runner, self.training_panel.runner):  # a job may have loaded torch & co
            for signal in (runner.jobFinished, runner.jobFailed, runner.jobCancelled):
                signal.connect(lambda *_: heap.settle())

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

    # --- the document ----------------------------------------------------------------------
    @property
    def document(self) -> Document:
        return self.bridge.document

    def is_modified(self) -> bool:
        return self.document.modified or self.recovery.force_modified

    def _attach(self, bridge: DocumentBridge, path: str | None) -> None:
        self.files.attach(path)
        bridge.modifiedChanged.connect(lambda _m: self.update_title())
        bridge.historyChanged.connect(self._history_changed)
        bridge.activeLayerChanged.connect(self._active_layer_changed)
        bridge.layersChanged.connect(self._update_actions)
        bridge.selectionChanged.connect(self._update_actions)
        bridge.canvasResized.connect(self._size_changed)
        self.view.set_bridge(bridge)
        # start on the background layer: the brush paints, the red pen finds the marks layer
        pixel = next((lyr for lyr in reversed(bridge.document.layers) if isinstance(lyr, PixelLayer)), None)
        if pixel is not None:
            bridge.set_active(pixel.id)
        self.update_title()
        self._update_actions()
        self._size_changed()

    def set_document(self, doc: Document, path: str | None = None, suggested_name: str | None = None) -> None:
        """Show ``doc`` in this window (File > New / Open); the old document is let go."""
        old = self.bridge
        if self.view.tool is not None:
            self.view.tool.cancel()
        if isinstance(self.tools.get("mark_select"), MarkSelectTool):
            self.tools["mark_select"].selected = None
        self.view.welcome = ""
        self.recovery.new_document()
        self.bridge = DocumentBridge(doc, self)
        self.layers_panel.set_bridge(self.bridge)
        self.history_panel.set_bridge(self.bridge)
        self.edit_panel.set_bridge(self.bridge)
        self.training_panel.set_bridge(self.bridge)
        self._attach(self.bridge, path)
        if suggested_name:
            self.files.suggested_name = suggested_name
            self.update_title()
        if old is not None:
            old.close()
            old.deleteLater()
            # the old document, frozen by an earlier settle, is collected once its bridge is gone
            QTimer.singleShot(500, self, lambda: heap.settle(force=True))
        self.view.fit()
        self._active_layer_changed(self.bridge.active_id)

    def close_document(self) -> bool:
        """File › Close: asks to save unsaved changes, then the window starts again on the blank
        canvas it opens with (which says what to do first). False when the user kept the document."""
        if not self.files.maybe_save():
            return False
        self.set_document(default_document())
        self.view.welcome = welcome_text(self.tools)
        self.view.update()
        self.show_hint("Closed. Drop, paste or open a picture to start again.")
        return True

    def update_title(self) -> None:
        self.setWindowTitle(f"{self.files.display_name}[*] — Akapen")
        self.setWindowModified(self.is_modified())

    def _history_changed(self) -> None:
        if self.view.welcome:  # the first change: the canvas is in use
            self.view.welcome = ""
            self.view.update()
        self.recovery.changed()
        self._update_actions()
        self.update_title()

    def _size_changed(self) -> None:
        d = self.document
        self.readout.show_size(d.width, d.height, self.view.zoom())

    def _show_message(self, text: str, level: str, timeout: int) -> None:
        self.banner.show_message(text, level, timeout)
        self.statusBar().showMessage(text, timeout)

    # --- tools -----------------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        tool = self.tools[name]
        self.tool_actions[name].setChecked(True)
        if self.view.tool is not tool:
            self.view.set_tool(tool)
        if name in ANNOTATION_TOOLS:
            self._last_mark_tool = name
        self.settings.set_current_tool(name)
        self.options_toolbar.show_for(name)
        self.show_hint(tool.tip)

    def _active_layer_changed(self, _layer_id: str) -> None:
        """Selecting a layer picks a tool that works on it (brush for pixels, move for pieces,
        the last red-pen tool for marks) when the current tool does not."""
        self._update_actions()
        layer = self.bridge.active_layer()
        tool = self.view.tool
        if layer is None or tool is None or tool.accepts(layer) or self.bridge.keeping_tool:
            return
        if isinstance(layer, PieceLayer):
            self.set_tool("move")
        elif isinstance(layer, PixelLayer):
            self.set_tool("brush")
        elif isinstance(layer, AnnotationLayer):
            self.set_tool(self._last_mark_tool)

    # --- actions ---------------------------------------------------------------------------
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
        can_cut = self.pieces.can_cut()  # a piece, or the keep/remove pen's strokes over one
        self.cut_out_action.setEnabled(can_cut)
        self.cut_out_action.setStatusTip(CUT_OUT_TIP if can_cut else NO_CUT_TIP)
        self.cut_out_action.setToolTip(CUT_OUT_TIP if can_cut else NO_CUT_TIP)
        from desktop.headless.training_pairs import is_result

        active = self.bridge.active_layer()
        self.training_pair_action.setEnabled(active is not None and is_result(active))
        self.provenance_action.setEnabled(active is not None and bool(active.provenance.get("backend")))
        self.select_none_action.setEnabled(doc.selection is not None)
        self.crop_action.setEnabled(doc.selection is not None)
        self.invert_action.setEnabled(True)

    def undo(self) -> None:
        if self.view.tool is not None:
            self.view.tool.cancel()
        with self.bridge.keep_tool():
            self.document.undo()

    def redo(self) -> None:
        if self.view.tool is not None:
            self.view.tool.cancel()
        with self.bridge.keep_tool():
            self.document.redo()

    def show_provenance(self) -> str:
        """Layer › Where it came from…: the active result's provenance, read-only and selectable; the text."""
        from PySide6.QtWidgets import QMessageBox

        from desktop.headless.edit_request import describe_provenance

        layer = self.bridge.active_layer()
        lines = describe_provenance(layer.provenance) if layer is not None else []
        text = "\n".join(lines) or "This layer is not an edit result: it has no record of how it was made."
        box = QMessageBox(QMessageBox.Icon.Information, f"Where “{layer.name if layer else ''}” came from", text,
                          parent=self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()  # not modal to the work
        self._provenance_box = box
        return text

    def show_shortcuts(self) -> None:
        dlg = ShortcutsDialog(self)
        dlg.open()  # not modal to the work: it can stay open beside the canvas
        self._shortcuts_dialog = dlg

    # --- window events ---------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.maybe_save() or not self.training.may_close():
            event.ignore()
            return
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.set_tool_options(self.options.to_dict())
        self.settings.sync()
        self.recovery.stop_autosave()
        self.runner.shutdown()  # cancels a running edit; its result is dropped
        self.training_panel.runner.shutdown(60_000)  # a training stops at its next step and keeps a checkpoint
        self.models.shutdown()  # a download pauses: its bytes are kept and the next start offers to continue
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
        self.clipboard.handle_drop(event.mimeData(), self.view.centre_canvas_point())
        event.acceptProposedAction()
