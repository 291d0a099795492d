"""What the window does with files: New, New from image, Open (an .ora as the document, an
image as a new document around it), Save, Save as, Export, and File › Open recent.

``FileController`` knows which file the window's document is (``path``) and the name it is
shown under until it has one (``suggested_name``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox

from canvas.document import Document
from canvas.errors import CanvasError
from canvas.imageio import load_image
from canvas.layers import AnnotationLayer, PixelLayer
from desktop.dialogs.new_document import NewDocumentDialog

DEFAULT_SIZE = (1024, 768)
OPEN_FILTER = ("Akapen documents and images (*.ora *.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif);;"
               "OpenRaster (*.ora);;Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif);;All files (*)")


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


class FileController:
    def __init__(self, window) -> None:
        self.window = window
        self.path: str | None = None
        self.suggested_name = "Untitled"
        self.recent_menu = None  # File › Open recent (the window's menus make it, this fills it)

    def attach(self, path: str | None) -> None:
        """The window shows another document, read from ``path`` (None: not from a file)."""
        self.path = path
        self.suggested_name = Path(path).stem if path else "Untitled"

    @property
    def display_name(self) -> str:
        """The file's name, or the name the document is shown under until it is saved."""
        return Path(self.path).name if self.path else self.suggested_name

    # --- questions --------------------------------------------------------------------------
    def ask_unsaved(self) -> str:
        """"save", "discard" or "cancel" for unsaved changes."""
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved changes")
        box.setText(f"“{self.display_name}” has unsaved changes.")
        box.setInformativeText("Save them before closing?")
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        r = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(r), "cancel")

    def ask_open_path(self, title: str = "Open", filter: str = OPEN_FILTER) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, title, self.window.settings.last_folder(), filter)
        return path or None

    def ask_save_path(self, title: str, suggested: str, filter: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.window, title, suggested, filter)
        return path or None

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded or unchanged)."""
        if not self.window.is_modified():
            return True
        answer = self.ask_unsaved()
        if answer == "save":
            return self.save()
        return answer == "discard"

    # --- new and open -----------------------------------------------------------------------
    def new_document(self) -> None:
        if not self.maybe_save():
            return
        doc = self.window.document
        dlg = NewDocumentDialog(self.window, size=(doc.width, doc.height))
        if not dlg.exec():
            return
        image_path = dlg.result_image_path()
        if image_path:
            self._new_from_path(image_path)
            return
        w, h = dlg.result_size()
        self.window.set_document(default_document(w, h, dlg.result_background()))

    def new_from_image(self) -> None:
        if not self.maybe_save():
            return
        path = self.ask_open_path("New from image", "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif)")
        if path:
            self._new_from_path(path)

    def _new_from_path(self, path: str) -> bool:
        try:
            pixels = load_image(path)
            doc = default_document(image=pixels)
        except CanvasError as exc:
            self.window.notifier.error(str(exc))
            return False
        self.window.set_document(doc, None, suggested_name=Path(path).stem)
        self.window.settings.set_last_folder(str(Path(path).parent))
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
            self.window.notifier.error(f"{path}: no such file")
            self.window.settings.remove_recent_file(path)
            self.rebuild_recent_menu()
            return False
        if p.suffix.lower() != ".ora":
            ok = self._new_from_path(path)
            if ok:
                self.add_recent(path)
            return ok
        from canvas.ora import load_ora

        warnings: list[str] = []  # what was read approximately or left out (the picture opens all the same)
        try:
            doc = load_ora(p, warnings=warnings)
        except CanvasError as exc:
            self.window.notifier.error(str(exc))
            return False
        self.window.set_document(doc, str(p))
        self.add_recent(str(p))
        if warnings:
            more = f" (and {len(warnings) - 2} more)" if len(warnings) > 2 else ""
            self.window.notifier.warning(f"Opened {p.name}, but: " + "; ".join(warnings[:2]) + more)
        return True

    # --- save and export --------------------------------------------------------------------
    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        folder = str(Path(self.path).parent) if self.path else self.window.settings.last_folder()
        suggested = os.path.join(folder, (Path(self.path).stem if self.path else self.suggested_name) + ".ora")
        path = self.ask_save_path("Save as", suggested, "OpenRaster (*.ora)")
        if not path:
            return False
        if not path.lower().endswith(".ora"):
            path += ".ora"
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        from canvas.ora import save_ora

        window = self.window
        try:
            save_ora(window.document, path)
        except CanvasError as exc:
            window.notifier.error(str(exc))
            return False
        self.path = str(path)
        self.suggested_name = Path(path).stem
        window.recovery.force_modified = False
        window.document.mark_clean()
        window.recovery.saved()
        self.add_recent(self.path)
        window.update_title()
        window.show_hint(f"Saved {path}")
        return True

    def export(self) -> bool:
        base = Path(self.path).stem if self.path else self.suggested_name
        folder = str(Path(self.path).parent) if self.path else self.window.settings.last_folder()
        path = self.ask_save_path("Export image", os.path.join(folder, base + ".png"),
                                  "PNG (*.png);;JPEG (*.jpg *.jpeg)")
        if not path:
            return False
        if Path(path).suffix.lower() not in (".png", ".jpg", ".jpeg"):
            path += ".png"
        from canvas.imageio import export_image

        try:
            export_image(path, self.window.document.render())
        except CanvasError as exc:
            self.window.notifier.error(str(exc))
            return False
        self.window.show_hint(f"Exported {path}")
        return True

    # --- recent files -----------------------------------------------------------------------
    def add_recent(self, path: str) -> None:
        self.window.settings.add_recent_file(path)
        self.window.settings.set_last_folder(str(Path(path).parent))
        self.rebuild_recent_menu()

    def rebuild_recent_menu(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        files = self.window.settings.recent_files()
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
        self.window.settings.clear_recent_files()
        self.rebuild_recent_menu()
