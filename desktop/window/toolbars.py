"""The window's two toolbars: the tools, down the left side, and above the canvas the options of
the current tool's family (brush: size, hardness, opacity, colour; red pen: colour, width, text
size; piece: flip and reset)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QSpinBox, QToolBar, QToolButton

from desktop.icons import swatch_icon
from desktop.tools import ANNOTATION_TOOLS
from desktop.window.actions import TOOL_GROUP_ENDS


def build_tools_toolbar(window) -> QToolBar:
    tb = QToolBar("Tools", window)
    tb.setObjectName("tools_toolbar")
    tb.setOrientation(Qt.Orientation.Vertical)
    tb.setMovable(False)
    tb.setIconSize(QSize(24, 24))
    for name, a in window.tool_actions.items():
        tb.addAction(a)
        if name in TOOL_GROUP_ENDS:
            tb.addSeparator()
    window.addToolBar(Qt.ToolBarArea.LeftToolBarArea, tb)
    return tb


def _label(text: str) -> QLabel:
    lb = QLabel(text)
    lb.setContentsMargins(8, 0, 4, 0)
    return lb


class ToolOptionsBar(QToolBar):
    """``ToolOptionsBar(options, piece_actions, parent)``: edits ``options`` (the tools'
    ``ToolOptions``); ``piece_actions`` are the flip ↔, flip ↕, reset, cut out and uncut actions. The colour
    buttons only ask: ``brush_color_button`` and ``mark_color_button`` are connected by the window."""

    def __init__(self, options, piece_actions, parent=None) -> None:
        super().__init__("Tool options", parent)
        self.options = options
        self.setObjectName("options_toolbar")
        self.setMovable(False)
        self.brush_title = self.addWidget(_label("<b>Brush</b>"))
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
        self.brush_widgets = [self.brush_title]
        for text, w in (("Size", self.size_spin), ("Hardness", self.hardness_spin),
                        ("Opacity", self.opacity_spin), ("Colour", self.brush_color_button)):
            self.brush_widgets.append(self.addWidget(_label(text)))
            self.brush_widgets.append(self.addWidget(w))
        self.brush_sep = self.addSeparator()
        self.pen_title = self.addWidget(_label("<b>Red pen</b>"))
        self.mark_color_button = QToolButton()
        self.mark_color_button.setToolTip("Colour of new marks (and of the selected mark)")
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
            self.pen_widgets.append(self.addWidget(_label(text)))
            self.pen_widgets.append(self.addWidget(w))
        self.piece_sep = self.addSeparator()
        self.piece_widgets = [self.piece_sep, self.addWidget(_label("<b>Piece</b>"))]
        self.piece_buttons: list[QToolButton] = []
        for a, text in zip(piece_actions, ("Flip ↔", "Flip ↕", "Reset", "Cut out subject", "Uncut"), strict=True):
            a.setIconText(text)
            btn = QToolButton()
            btn.setDefaultAction(a)
            btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self.piece_buttons.append(btn)
            self.piece_widgets.append(self.addWidget(btn))
        self.sync()
        self.size_spin.valueChanged.connect(lambda v: options.set(brush_size=v))
        self.hardness_spin.valueChanged.connect(lambda v: options.set(brush_hardness=v / 100))
        self.opacity_spin.valueChanged.connect(lambda v: options.set(brush_opacity=v / 100))
        self.mark_width_spin.valueChanged.connect(lambda v: options.set(mark_width=v))
        self.text_size_spin.valueChanged.connect(lambda v: options.set(text_size=v))

    def sync(self) -> None:
        """Show the options' values (without sending them back)."""
        o = self.options
        for w, v in ((self.size_spin, round(o.brush_size)), (self.hardness_spin, round(o.brush_hardness * 100)),
                     (self.opacity_spin, round(o.brush_opacity * 100)), (self.mark_width_spin, o.mark_width),
                     (self.text_size_spin, round(o.text_size))):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self.brush_color_button.setIcon(swatch_icon((*o.brush_color, 255)))
        self.mark_color_button.setIcon(swatch_icon(o.mark_color))

    def show_for(self, tool_name: str) -> None:
        """Only the options of ``tool_name``'s family."""
        brushy = tool_name in ("brush", "eraser", "eyedropper")
        markish = tool_name in ANNOTATION_TOOLS or tool_name == "mark_select"
        for a in self.brush_widgets:
            a.setVisible(brushy)
        self.brush_sep.setVisible(brushy and markish)
        for a in self.pen_widgets:
            a.setVisible(markish)
        for a in self.piece_widgets:
            a.setVisible(tool_name == "move")
        for btn in self.piece_buttons:  # showing its toolbar slot enables a button: its action says whether it is
            btn.setEnabled(btn.defaultAction().isEnabled())
