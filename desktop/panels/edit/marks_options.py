"""How the backend is to read the red-pen marks: its own choice, or the ways ticked."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QGroupBox, QVBoxLayout, QWidget

ANNOTATION_CHOICES = (
    ("draw", "Draw marks into the image"),
    ("mask", "Marks make the edit mask"),
    ("phrase", "Describe marks in words"),
    ("reference", "Marks as a reference image"),
)


class MarksOptions(QGroupBox):
    """"Let the backend choose", or the ways ticked (``ANNOTATION_CHOICES``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Pen marks", parent)
        self.boxes: dict[str, QCheckBox] = {}
        ml = QVBoxLayout(self)
        self.auto = QCheckBox("Let the backend choose")
        self.auto.setChecked(True)
        self.auto.toggled.connect(lambda on: [b.setEnabled(not on) for b in self.boxes.values()])
        ml.addWidget(self.auto)
        for key, text in ANNOTATION_CHOICES:
            cb = QCheckBox(text)
            cb.setEnabled(False)
            self.boxes[key] = cb
            ml.addWidget(cb)

    def set_use(self, annotation_use) -> None:
        """A preset's ways (ticked, the backend's choice off), or the backend's choice when empty."""
        if annotation_use:
            self.auto.setChecked(False)
            for key, cb in self.boxes.items():
                cb.setChecked(key in annotation_use)
        else:
            self.auto.setChecked(True)

    def use(self) -> list[str] | None:
        """The ways ticked, or None: the backend chooses."""
        return None if self.auto.isChecked() else [k for k, cb in self.boxes.items() if cb.isChecked()]
