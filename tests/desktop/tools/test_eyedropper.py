"""The eyedropper, driven with a real mouse event on the canvas view."""

from __future__ import annotations

from tests.desktop.conftest import send_mouse
from tests.desktop.tools.test_move import add_piece


def test_eyedropper_sets_the_brush_colour_from_the_composite(window):
    doc = window.document
    piece = add_piece(window, 100, 100)
    expected = tuple(int(v) for v in doc.render()[110, 120, :3])
    assert piece is not None
    window.set_tool("eyedropper")
    send_mouse(window.view, "press", (120.5, 110.5))
    send_mouse(window.view, "release", (120.5, 110.5))
    assert window.options.brush_color == expected
