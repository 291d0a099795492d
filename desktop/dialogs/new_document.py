"""The "New document" dialog: a size (typed or from a preset), a background, or an image.

The dialog only collects choices; the window builds the document from them:
``result_size()``, ``result_background()`` and ``result_image_path()`` (``None`` for a blank
canvas; with a path, the size is the image's and the window opens the image as the first layer,
over the chosen background).
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImageReader
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

MAX_SIDE = 32768  # canvas.document.MAX_SIDE (kept literal: this module does not need the document)

# (label, width, height); A-series at 150 dpi: 210×297 mm -> 1240×1754 px
PRESETS: list[tuple[str, int, int]] = [
    ("Square 1024 × 1024", 1024, 1024),
    ("Square 2048 × 2048", 2048, 2048),
    ("HD 1280 × 720", 1280, 720),
    ("Full HD 1920 × 1080", 1920, 1080),
    ("4K UHD 3840 × 2160", 3840, 2160),
    ("A4 portrait @ 150 dpi (1240 × 1754)", 1240, 1754),
    ("A4 landscape @ 150 dpi (1754 × 1240)", 1754, 1240),
    ("A4 portrait @ 300 dpi (2480 × 3508)", 2480, 3508),
    ("SD 512 × 512", 512, 512),
]
CUSTOM = "Custom"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif);;All files (*)"


class NewDocumentDialog(QDialog):
    """``NewDocumentDialog(parent=None, *, size=(1920, 1080), background="white")``.

    Results (after ``exec()`` returns ``Accepted``): ``result_size() -> (w, h)``,
    ``result_background() -> "white" | "transparent"``, ``result_image_path() -> str | None``.
    ``set_image_path(path)`` does what the "Choose…" button does after its file dialog.
    """

    def __init__(self, parent: QWidget | None = None, *, size: tuple[int, int] = (1920, 1080),
                 background: str = "white") -> None:
        super().__init__(parent)
        self.setWindowTitle("New document")
        self.setMinimumWidth(400)
        self._image_path: str | None = None
        self._image_size: tuple[int, int] | None = None

        # --- blank canvas ---
        self.blank_radio = QRadioButton("Blank canvas")
        self.image_radio = QRadioButton("From an image")
        self.source_group = QButtonGroup(self)
        self.source_group.addButton(self.blank_radio)
        self.source_group.addButton(self.image_radio)
        self.blank_radio.setChecked(True)

        self.preset_combo = QComboBox()
        self.preset_combo.addItem(CUSTOM, None)
        for label, w, h in PRESETS:
            self.preset_combo.addItem(label, f"{w}x{h}")
        self.width_spin = QSpinBox()
        self.height_spin = QSpinBox()
        for spin in (self.width_spin, self.height_spin):
            spin.setRange(1, MAX_SIDE)
            spin.setSuffix(" px")
            spin.setAccelerated(True)
            spin.setMinimumWidth(96)
        self.swap_button = QToolButton()
        self.swap_button.setText("⇄")
        self.swap_button.setToolTip("Swap width and height (portrait / landscape)")
        size_row = QHBoxLayout()
        size_row.setSpacing(6)
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        size_row.addWidget(self.swap_button)
        size_row.addStretch(1)

        self.white_radio = QRadioButton("White")
        self.transparent_radio = QRadioButton("Transparent")
        self.background_group = QButtonGroup(self)
        self.background_group.addButton(self.white_radio)
        self.background_group.addButton(self.transparent_radio)
        (self.transparent_radio if background == "transparent" else self.white_radio).setChecked(True)
        bg_row = QHBoxLayout()
        bg_row.addWidget(self.white_radio)
        bg_row.addWidget(self.transparent_radio)
        bg_row.addStretch(1)

        blank = QFormLayout()
        blank.setContentsMargins(22, 0, 0, 0)
        blank.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        blank.addRow("Preset", self.preset_combo)
        blank.addRow("Size", size_row)
        self.blank_box = QWidget()
        self.blank_box.setLayout(blank)

        # --- from an image ---
        self.path_edit = QLineEdit()
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("no image chosen")
        self.browse_button = QPushButton("Choose…")
        img_row = QHBoxLayout()
        img_row.setContentsMargins(22, 0, 0, 0)
        img_row.addWidget(self.path_edit, 1)
        img_row.addWidget(self.browse_button)
        self.image_box = QWidget()
        self.image_box.setLayout(img_row)

        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.setSpacing(6)
        lay.addWidget(self.blank_radio)
        lay.addWidget(self.blank_box)
        lay.addSpacing(4)
        lay.addWidget(self.image_radio)
        lay.addWidget(self.image_box)
        lay.addSpacing(4)
        common = QFormLayout()
        common.addRow("Background", bg_row)
        common.itemAt(0, QFormLayout.ItemRole.LabelRole).widget().setToolTip(
            "What is under the first layer; with an image, what shows through its transparent parts")
        lay.addLayout(common)
        lay.addSpacing(6)
        lay.addWidget(self.info_label)
        lay.addStretch(1)
        lay.addWidget(self.buttons)

        self.width_spin.setValue(max(1, min(int(size[0]), MAX_SIDE)))
        self.height_spin.setValue(max(1, min(int(size[1]), MAX_SIDE)))
        self._match_preset()

        self.preset_combo.activated.connect(self._preset_chosen)
        self.width_spin.valueChanged.connect(self._size_edited)
        self.height_spin.valueChanged.connect(self._size_edited)
        self.swap_button.clicked.connect(self._swap)
        self.browse_button.clicked.connect(self._browse)
        self.source_group.buttonToggled.connect(lambda *_: self._update())
        self.background_group.buttonToggled.connect(lambda *_: self._update())
        self._update()

    # --- results --------------------------------------------------------------------------
    def result_size(self) -> tuple[int, int]:
        if self.image_radio.isChecked() and self._image_size is not None:
            return self._image_size
        return self.width_spin.value(), self.height_spin.value()

    def result_background(self) -> str:
        return "transparent" if self.transparent_radio.isChecked() else "white"

    def result_image_path(self) -> str | None:
        return self._image_path if self.image_radio.isChecked() else None

    # --- the image source --------------------------------------------------------------------
    def set_image_path(self, path: str | None) -> bool:
        """Choose ``path`` as the source image; False (and a message) if it cannot be read."""
        if not path:
            self._image_path = self._image_size = None
            self.path_edit.clear()
            self._update()
            return False
        reader = QImageReader(path)
        size: QSize = reader.size()  # reads the header only
        self.image_radio.setChecked(True)
        self.path_edit.setText(path)
        self.path_edit.setToolTip(path)
        if not os.path.isfile(path) or not reader.canRead() or not size.isValid():
            self._image_path = self._image_size = None
            why = reader.errorString() if os.path.isfile(path) else "the file does not exist"
            self._update(error=f"Cannot open {os.path.basename(path)!r} as an image: {why}.")
            return False
        w, h = size.width(), size.height()
        if w > MAX_SIDE or h > MAX_SIDE:
            self._image_path = self._image_size = None
            self._update(error=f"{os.path.basename(path)!r} is {w} × {h} px; a canvas is at most "
                               f"{MAX_SIDE} px a side.")
            return False
        self._image_path, self._image_size = path, (w, h)
        self._update()
        return True

    def _browse(self) -> None:
        start = os.path.dirname(self._image_path) if self._image_path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Start from an image", start, IMAGE_FILTER)
        if path:
            self.set_image_path(path)

    # --- size editing --------------------------------------------------------------------------
    def _preset_chosen(self, index: int) -> None:
        key = self.preset_combo.itemData(index)
        if not key:
            return
        wh = tuple(int(v) for v in key.split("x"))
        for spin, v in zip((self.width_spin, self.height_spin), wh, strict=True):
            spin.blockSignals(True)
            spin.setValue(v)
            spin.blockSignals(False)
        self.blank_radio.setChecked(True)
        self._update()

    def _match_preset(self) -> None:
        i = self.preset_combo.findData(f"{self.width_spin.value()}x{self.height_spin.value()}")
        self.preset_combo.setCurrentIndex(i if i >= 0 else 0)

    def _size_edited(self, _v: int = 0) -> None:
        self._match_preset()
        self._update()

    def _swap(self) -> None:
        w, h = self.width_spin.value(), self.height_spin.value()
        for spin, v in ((self.width_spin, h), (self.height_spin, w)):
            spin.blockSignals(True)
            spin.setValue(v)
            spin.blockSignals(False)
        self._size_edited()

    def _update(self, error: str | None = None) -> None:
        from_image = self.image_radio.isChecked()
        self.blank_box.setEnabled(not from_image)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if from_image and self._image_size is None:
            ok.setEnabled(False)
            self.info_label.setText(error or "Choose an image to start from.")
            self.info_label.setStyleSheet("color: #b02020;" if error else "")
            return
        ok.setEnabled(True)
        self.info_label.setStyleSheet("")
        w, h = self.result_size()
        mp = w * h / 1e6
        mb = w * h * 4 / 2**20
        what = f"The image's size: {w} × {h} px" if from_image else f"{w} × {h} px"
        bg = f", {self.result_background()} background"
        self.info_label.setText(f"{what} · {mp:.1f} MP · {mb:,.0f} MB per layer{bg}")
