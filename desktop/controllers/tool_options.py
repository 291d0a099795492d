"""What the window does with the tools' shared options: persisting them and telling the tool
when they change, the brush size keys ([ and ]), the colour pickers (a new red-pen colour also
recolours the mark picked with the mark-select tool), and Edit › Delete selected mark."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog

from desktop.tools import MarkSelectTool


class ToolOptionsController:
    def __init__(self, window) -> None:
        self.window = window

    @property
    def options(self):
        return self.window.options

    def options_changed(self) -> None:
        window = self.window
        window.options_toolbar.sync()
        window.settings.set_tool_options(self.options.to_dict())
        if window.view.tool is not None:
            window.view.tool.options_changed()

    def resize_brush(self, factor: float) -> None:
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
            tool = self.window.view.tool
            if isinstance(tool, MarkSelectTool):
                tool.recolor(rgba)

    def ask_color(self, initial: QColor, title: str) -> QColor | None:
        c = QColorDialog.getColor(initial, self.window, title, QColorDialog.ColorDialogOption.ShowAlphaChannel)
        return c if c.isValid() else None

    def delete_mark(self) -> None:
        tool = self.window.tools["mark_select"]
        if not tool.delete_selected():
            self.window.show_hint("Pick a mark with the mark-select tool (S) first.")
