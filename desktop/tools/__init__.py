"""The canvas tools: move/transform, brush, eraser, red-pen marks, mark selection, selections,
eyedropper. Each tool turns canvas-coordinate input into document operations (one undo step
per gesture) and draws its own overlay (handles, previews) on the view.

Which layer a tool works on:
- brush and eraser paint on the active pixel layer; on any other layer they do nothing and
  the status bar says why (select or add a pixel layer);
- the move tool transforms the active collage piece; clicking another piece picks it;
- the red-pen tools (pen, arrow, ellipse, rectangle, text) draw on the active annotation
  layer, else on the topmost annotation layer, else on a new "Marks" layer they add on top:
  marks never land in the pixels of the photo;
- the mark-select tool picks the mark nearest the cursor on any visible annotation layer;
- selection tools and the eyedropper work whatever layer is active.

Tools talk to a ``host`` (the main window) for their options, status-bar hints, the text
of a label and error reports, so they can be driven without menus or dialogs in tests.

One module per family beside the base: ``base`` (Tool, ToolEvent), ``options`` (ToolOptions),
``cursors``, ``brush`` (brush, eraser), ``move``, ``marks`` (the red pen), ``mark_hits`` (which
mark is under a point), ``mark_select``, ``selection`` (rectangle, lasso), ``eyedropper``.
"""

from __future__ import annotations

from desktop.tools.base import Tool, ToolEvent
from desktop.tools.brush import BrushTool, EraserTool
from desktop.tools.eyedropper import EyedropperTool
from desktop.tools.mark_select import MarkSelectTool
from desktop.tools.marks import ArrowTool, EllipseTool, PenTool, RectangleTool, TextTool
from desktop.tools.move import MoveTool
from desktop.tools.options import ToolOptions
from desktop.tools.selection import LassoTool, RectSelectTool

TOOL_CLASSES: tuple[type[Tool], ...] = (
    MoveTool, BrushTool, EraserTool, PenTool, ArrowTool, EllipseTool, RectangleTool, TextTool,
    MarkSelectTool, RectSelectTool, LassoTool, EyedropperTool,
)
ANNOTATION_TOOLS = ("pen", "arrow", "ellipse", "rectangle", "text")

__all__ = ["ANNOTATION_TOOLS", "TOOL_CLASSES", "ArrowTool", "BrushTool", "EllipseTool", "EraserTool", "EyedropperTool",
           "LassoTool", "MarkSelectTool", "MoveTool", "PenTool", "RectSelectTool", "RectangleTool", "TextTool", "Tool",
           "ToolEvent", "ToolOptions"]
