"""The selection and the canvas it lies on: Select all / none / Invert selection, Crop to
selection, and Image › Canvas size…."""

from __future__ import annotations

import numpy as np

from desktop.dialogs.canvas_size import CanvasSizeDialog


class SelectionController:
    def __init__(self, window) -> None:
        self.window = window

    def select_all(self) -> None:
        d = self.window.document
        d.set_selection(np.full((d.height, d.width), 255, np.uint8), "Select all")

    def select_none(self) -> None:
        self.window.document.set_selection(None, "Select none")

    def invert_selection(self) -> None:
        d = self.window.document
        mask = d.selection_mask() if d.selection is not None else np.zeros((d.height, d.width), np.uint8)
        d.set_selection(255 - mask, "Invert selection")

    def crop_to_selection(self) -> None:
        self.window.document.crop_to_selection()

    def canvas_size(self) -> None:
        dlg = CanvasSizeDialog(self.window.document.size, self.window)
        if dlg.exec() == CanvasSizeDialog.DialogCode.Accepted:
            self.window.document.resize_canvas(*dlg.values())
