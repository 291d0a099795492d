"""The base of every canvas tool: ``Tool`` (what the view calls: press, move, release, keys,
the overlay, the cursor) and ``ToolEvent`` (one input event in canvas coordinates).

A tool talks to a ``host`` (the main window) for its options, status-bar hints and the text of
a label, so it can be driven without menus or dialogs in tests; it never imports the window."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QCursor, QPainter

from desktop.tools.options import ToolOptions

CLICK = 3.0  # a drag shorter than this (logical pixels) is a click


@dataclass
class ToolEvent:
    pos: QPointF  # canvas coordinates (floats)
    widget_pos: QPointF
    buttons: Qt.MouseButton
    button: Qt.MouseButton
    modifiers: Qt.KeyboardModifier
    pressure: float = 1.0

    @property
    def shift(self) -> bool:
        return bool(self.modifiers & Qt.KeyboardModifier.ShiftModifier)

    @property
    def alt(self) -> bool:
        return bool(self.modifiers & Qt.KeyboardModifier.AltModifier)


class Tool:
    name = ""
    label = ""
    shortcut = ""
    tip = ""

    def __init__(self, host) -> None:
        self.host = host
        self.view = None

    # host helpers
    @property
    def options(self) -> ToolOptions:
        return self.host.options

    @property
    def bridge(self):
        return self.view.bridge

    @property
    def doc(self):
        return self.view.document

    def hint(self, text: str) -> None:
        self.host.show_hint(text)

    def activate(self, view) -> None:
        self.view = view

    def deactivate(self) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Drop any gesture in progress."""

    def cursor(self) -> QCursor:
        return QCursor(Qt.CursorShape.CrossCursor)

    def accepts(self, layer) -> bool:
        """Whether this tool works on ``layer`` as the active layer (used to pick tools)."""
        return True

    def press(self, ev: ToolEvent) -> None: ...

    def move(self, ev: ToolEvent) -> None: ...

    def release(self, ev: ToolEvent) -> None: ...

    def double_click(self, ev: ToolEvent) -> bool:
        return False

    def key_press(self, event) -> bool:
        return False

    def leave(self) -> None: ...

    def view_changed(self) -> None: ...

    def paint_overlay(self, p: QPainter) -> None: ...

    def options_changed(self) -> None: ...
