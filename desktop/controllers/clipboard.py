"""Copy, paste and drag and drop.

Copy puts the active layer (Copy merged: the picture) inside the selection on the clipboard as
an image with its transparency; Paste makes the clipboard's image (or image files) a collage
piece, back where it was copied from when it is this window's own copy; dropped image files
become pieces where they were dropped, a dropped .ora opens instead. Files that cannot be read
are named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from canvas.errors import CanvasError, ImageImportError
from canvas.geometry import Rect
from canvas.imageio import load_image
from desktop.qimage import qimage_to_png_bytes, rgba_to_qimage


class ClipboardController:
    def __init__(self, window) -> None:
        self.window = window
        self._copied: tuple[np.ndarray, Rect] | None = None  # this window's last Copy, and where from

    def copy(self, merged: bool = False) -> None:
        """The active layer's pixels (or the picture, ``merged``) inside the selection, to the
        clipboard as an image with its transparency."""
        window = self.window
        layer_id = None if merged else window.bridge.active_id
        if layer_id is None and not merged:
            window.show_hint("No layer to copy: pick one in the Layers panel, or use Copy merged.")
            return
        pixels, rect = window.document.copy_pixels(layer_id)  # CanvasError: said by the action's guard
        QApplication.clipboard().setImage(rgba_to_qimage(pixels, premultiply=False))
        self._copied = (pixels, rect)
        what = "the picture" if merged else f"“{window.document.layer(layer_id).name}”"
        window.show_hint(f"Copied {rect.w}×{rect.h} px of {what}.")

    def _paste_place(self, pixels: np.ndarray) -> QPointF:
        """Where a pasted image goes: back where it was copied from (this window's own copy,
        unchanged on the clipboard), else the middle of the view."""
        copied = self._copied
        if copied is not None and copied[0].shape == pixels.shape and np.array_equal(copied[0], pixels):
            r = copied[1]
            return QPointF(r.x + r.w / 2, r.y + r.h / 2)
        return self.window.view.centre_canvas_point()

    def paste(self) -> None:
        """Clipboard image (or image files) as pieces centred in the view (a copy from this
        window goes back where it came from)."""
        window = self.window
        mime = QApplication.clipboard().mimeData()
        centre = window.view.centre_canvas_point()
        if mime is None:
            window.show_hint("The clipboard is empty.")
            return
        if mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()):
            self.handle_drop(mime, centre)
            return
        if mime.hasImage() or mime.hasFormat("image/png"):
            try:
                pixels = self._image_from_mime(mime)
            except CanvasError as exc:
                window.notifier.error(str(exc))
                return
            window.pieces.add_pieces([(pixels, "Pasted")], self._paste_place(pixels))
            return
        window.show_hint("The clipboard holds no image to paste.")

    def handle_drop(self, mime, pos: QPointF) -> None:
        """Dropped files become pieces at ``pos`` (an .ora opens instead); bad files are named."""
        window = self.window
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
                    images.append((load_image(path), Path(path).stem))
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
            window.notifier.error("\n".join(errors))
        if images:
            window.notifier.guard(lambda: window.pieces.add_pieces(images, pos))
        if ora is not None and not images:
            window.files.open_path(ora)

    def _image_from_mime(self, mime) -> np.ndarray:
        for fmt in ("image/png", "application/x-qt-image"):
            if fmt == "image/png" and mime.hasFormat(fmt):
                data = bytes(mime.data(fmt).data())
                if data:
                    return load_image(data, name="the pasted image")
        img = mime.imageData()
        if img is None or img.isNull():
            raise ImageImportError("the clipboard holds no image")
        return load_image(qimage_to_png_bytes(img), name="the pasted image")
