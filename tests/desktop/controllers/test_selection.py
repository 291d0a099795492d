"""Image › Canvas size… and Crop to selection, from the window's menu."""

from __future__ import annotations

import numpy as np


def test_canvas_size_and_crop_from_the_image_menu(window, monkeypatch):
    import desktop.controllers.selection as selection_controller
    from canvas.document import MAX_SIDE
    from desktop.dialogs.canvas_size import MAX_SIDE as DIALOG_MAX
    from desktop.dialogs.canvas_size import CanvasSizeDialog, anchor_shift

    assert DIALOG_MAX == MAX_SIDE
    assert anchor_shift((100, 50), (140, 90), "centre") == (20, 20)
    assert anchor_shift((100, 50), (140, 90), "top-left") == (0, 0)
    assert anchor_shift((100, 50), (60, 30), "bottom-right") == (-40, -20)

    class Answer(CanvasSizeDialog):
        def exec(self):
            self.width_spin.setValue(self.old[0] + 100)
            self.height_spin.setValue(self.old[1] + 60)
            self.set_anchor("top-left")
            return CanvasSizeDialog.DialogCode.Accepted

    monkeypatch.setattr(selection_controller, "CanvasSizeDialog", Answer)
    doc = window.document
    w, h = doc.size
    before = doc.render()
    window.canvas_size_action.trigger()
    assert doc.size == (w + 100, h + 60)
    assert window.readout.size_label.text() == f"{w + 100} × {h + 60} px"
    assert np.array_equal(doc.render()[:h, :w], before)
    # the view shows the new canvas: its caches follow the projection's new size
    window.view.grab()
    assert all(c.image.width() == w + 100 and c.image.height() == h + 60 for c in window.view._caches)
    assert not window.crop_action.isEnabled()  # nothing selected
    sel = np.zeros((h + 60, w + 100), np.uint8)
    sel[10:50, 20:70] = 255
    doc.set_selection(sel)
    assert window.crop_action.isEnabled()
    window.crop_action.trigger()
    assert doc.size == (50, 40) and np.array_equal(doc.render(), before[10:50, 20:70])
    assert window.readout.size_label.text() == "50 × 40 px"
    for _ in range(3):  # crop, the selection, the canvas size
        window.undo_action.trigger()
    assert doc.size == (w, h) and np.array_equal(doc.render(), before)
    assert window.readout.size_label.text() == f"{w} × {h} px"
