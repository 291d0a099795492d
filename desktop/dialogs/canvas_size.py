"""Image › Canvas size…: the new width and height, and where the picture sits in them."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

MAX_SIDE = 32768  # canvas.document.MAX_SIDE (kept in step by a test)
ANCHORS = ("top-left", "top", "top-right", "left", "centre", "right", "bottom-left", "bottom", "bottom-right")


def anchor_shift(old: tuple[int, int], new: tuple[int, int], anchor: str) -> tuple[int, int]:
    """(dx, dy) that keeps the picture at ``anchor`` when the canvas goes from ``old`` to ``new``."""
    i = ANCHORS.index(anchor)
    col, row = i % 3, i // 3
    return (new[0] - old[0]) * col // 2, (new[1] - old[1]) * row // 2


class CanvasSizeDialog(QDialog):
    def __init__(self, size: tuple[int, int], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Canvas size")
        self.old = size
        form = QFormLayout(self)
        self.width_spin, self.height_spin = QSpinBox(), QSpinBox()
        for spin, value in ((self.width_spin, size[0]), (self.height_spin, size[1])):
            spin.setRange(1, MAX_SIDE)
            spin.setValue(value)
            spin.setSuffix(" px")
            spin.setAccelerated(True)
        form.addRow("Width", self.width_spin)
        form.addRow("Height", self.height_spin)
        grid = QGridLayout()
        grid.setSpacing(2)
        self.anchor_group = QButtonGroup(self)
        arrows = ("↖", "↑", "↗", "←", "●", "→", "↙", "↓", "↘")
        for i, (name, arrow) in enumerate(zip(ANCHORS, arrows, strict=True)):
            b = QPushButton(arrow)
            b.setCheckable(True)
            b.setFixedSize(30, 30)
            b.setToolTip(f"Keep the picture at the {name}")
            b.setObjectName(name)
            self.anchor_group.addButton(b, i)
            grid.addWidget(b, i // 3, i % 3)
        self.anchor_group.button(ANCHORS.index("centre")).setChecked(True)
        anchor_box = QWidget()
        anchor_box.setLayout(grid)
        form.addRow("Picture at", anchor_box)
        self.note = QLabel("Nothing is lost: layers keep what falls outside the canvas.")
        self.note.setWordWrap(True)
        form.addRow(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def anchor(self) -> str:
        return ANCHORS[self.anchor_group.checkedId()]

    def set_anchor(self, name: str) -> None:
        self.anchor_group.button(ANCHORS.index(name)).setChecked(True)

    def values(self) -> tuple[int, int, int, int]:
        """(width, height, dx, dy) for Document.resize_canvas."""
        new = (self.width_spin.value(), self.height_spin.value())
        return (*new, *anchor_shift(self.old, new, self.anchor()))
