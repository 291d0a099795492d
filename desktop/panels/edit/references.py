"""The references of an edit as the model sees them (reference layers and added images), and
adding, removing and reordering them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton

from canvas import commands as C
from canvas.errors import CanvasError
from desktop.panels.edit.widgets import thumbnail


class ReferencesPart:
    """The edit panel's references (a part of ``EditPanel``)."""

    def _build_references(self) -> QHBoxLayout:
        """The list of references and the row of its buttons (returned, for the panel to place)."""
        self.refs = QListWidget()
        self.refs.setMaximumHeight(56)
        self.refs.setIconSize(QSize(40, 40))
        add_ref = QPushButton("Add…")
        add_ref.setToolTip("Add a reference image from a file")
        add_ref.clicked.connect(self.add_reference_from_file)
        rm_ref = QPushButton("Remove")
        rm_ref.clicked.connect(self.remove_reference)
        up_ref = QPushButton("Up")
        up_ref.clicked.connect(lambda: self.move_reference(-1))
        ref_buttons = QHBoxLayout()
        for b in (add_ref, rm_ref, up_ref):
            ref_buttons.addWidget(b)
        return ref_buttons

    def _refresh_references(self, *_args) -> None:
        from desktop.headless.edit_request import document_references

        self.refs.clear()
        info = self.backend_info()
        word = "Picture" if info is not None and "qwen" in info.name else "image"
        for i, ref in enumerate(document_references(self.document), start=1):
            # the edited image itself is image / Picture 1; references follow it
            item = QListWidgetItem(QIcon(thumbnail(ref.image, 40)), f"{word} {i + 1}: {ref.label}")
            self.refs.addItem(item)
        self._fill_image_combos()
        self._update_state()

    def add_reference_from_file(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Add a reference image", "",
                                                  "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)")
            if not path:
                return

        from canvas.imageio import load_image

        try:
            self.document.add_reference(load_image(path), Path(path).stem)
        except CanvasError as exc:
            self.errorRaised.emit(str(exc))

    def remove_reference(self) -> None:
        row = self.refs.currentRow()
        if 0 <= row < len(self.document.references):
            self.document.remove_reference(self.document.references[row].id)
        elif row >= 0:
            self.errorRaised.emit("this reference is a layer with the “reference” role: change its role "
                                  "in the layers panel to stop using it")

    def move_reference(self, delta: int) -> None:
        refs = list(self.document.references)
        row = self.refs.currentRow()
        new = row + delta
        if 0 <= row < len(refs) and 0 <= new < len(refs):
            refs[row], refs[new] = refs[new], refs[row]
            self.document.execute(C.SetReferences(self.document.references, refs, "Reorder references"))
            self.refs.setCurrentRow(new)
